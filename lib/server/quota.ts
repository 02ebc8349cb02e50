/**
 * The backend quota (etcd's backendQuota): what a request is charged against
 * --quota-backend-bytes before it is proposed. Only puts and lease grants cost anything.
 */
import type * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { DEFAULT_QUOTA_BYTES } from "./config.ts";

/** etcd's estimate of a lease record's size. */
export const LEASE_OVERHEAD = 64;
/** etcd's estimate of a key's metadata size. */
export const KV_OVERHEAD = 256;

/** A put's charge. */
export function costPut(r: pb.PutRequest): number {
  return KV_OVERHEAD + r.key.length + r.value.length;
}

/** A txn's charge: the costlier branch's puts (nested txns are not charged, as in etcd). */
export function costTxn(r: pb.TxnRequest): number {
  const branch = (ops: pb.RequestOp[]) =>
    ops.reduce(
      (n, op) => n + (op.request.case === "requestPut" ? costPut(op.request.value) : 0),
      0,
    );
  return Math.max(branch(r.success), branch(r.failure));
}

/** The quota in bytes from --quota-backend-bytes: 0 means etcd's default, below 0 none. */
export function quotaBytes(configured: number): number {
  if (configured === 0) return DEFAULT_QUOTA_BYTES;
  return configured < 0 ? Infinity : configured;
}
