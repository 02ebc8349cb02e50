/**
 * The KV part of the server façade: each call takes etcd's wire request and the caller,
 * converts and validates the request once, checks the caller's permissions, decides between
 * a local read (after a shared ReadIndex round unless serializable) and a proposal through
 * raft, and answers with etcd's wire response. Refusals are catalogue errors (EtcdError).
 */
import { create } from "@bufbuild/protobuf";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { applyRange, applyTxn } from "../mvcc/applier.ts";
import { checkDeleteRange, checkPut, checkRange, checkTxn } from "../mvcc/validate.ts";
import type { Member } from "./member.ts";
import { RequestKind } from "./request.ts";
import { costPut, costTxn } from "./quota.ts";
import { checkDeleteAuth, checkPutAuth, checkTxnAuth, requestAuth } from "./auth_check.ts";
import { type Caller, resolveCaller } from "./caller.ts";
import {
  deleteFromPb,
  deleteToPb,
  putFromPb,
  putToPb,
  rangeFromPb,
  rangeToPb,
  txnFromPb,
  txnToPb,
} from "./convert.ts";

function ops(r: pb.TxnRequest): pb.RequestOp[] {
  return [...r.success, ...r.failure];
}

/** True when no branch of the txn (nested ones included) writes. */
function isReadOnly(r: pb.TxnRequest): boolean {
  return ops(r).every((op) => {
    const q = op.request;
    if (q.case === "requestRange" || q.case === undefined) return true;
    if (q.case === "requestTxn") return isReadOnly(q.value);
    return false;
  });
}

/** True when every range of a read-only txn asks for a serializable read (etcd's rule). */
function isSerializable(r: pb.TxnRequest): boolean {
  return ops(r).every((op) => {
    const q = op.request;
    if (q.case === "requestRange") return q.value.serializable;
    if (q.case === "requestTxn") return isSerializable(q.value);
    return true;
  });
}

/** etcd's KV calls over one member. */
export class KvServer {
  readonly #m: Member;
  readonly #header: (rev: number) => pb.ResponseHeader;

  constructor(m: Member) {
    this.#m = m;
    this.#header = (rev) => m.header(rev);
  }

  /** Range: served from the local store, linearizable unless the request is serializable. */
  async range(req: pb.RangeRequest, caller: Caller): Promise<pb.RangeResponse> {
    const m = this.#m;
    const r = rangeFromPb(req);
    checkRange(r);
    m.auth.checkRange(await resolveCaller(m, caller), req.key, req.rangeEnd);
    if (!req.serializable) await m.linearizableRead();
    return rangeToPb(applyRange(m.store, r), this.#header);
  }

  /** Put: validated, permission- and quota-checked, then proposed. */
  async put(req: pb.PutRequest, caller: Caller): Promise<pb.PutResponse> {
    const m = this.#m;
    checkPut(putFromPb(req));
    const info = await resolveCaller(m, caller);
    if (m.auth.enabled) checkPutAuth(m.auth, info, req);
    await m.checkQuota(costPut(req));
    const a = await m.propose({ kind: RequestKind.Put, req }, requestAuth(info));
    return putToPb(a.r, this.#header);
  }

  /** DeleteRange: validated, permission-checked, then proposed. */
  async deleteRange(req: pb.DeleteRangeRequest, caller: Caller): Promise<pb.DeleteRangeResponse> {
    const m = this.#m;
    checkDeleteRange(deleteFromPb(req));
    const info = await resolveCaller(m, caller);
    if (m.auth.enabled) checkDeleteAuth(m.auth, info, req);
    const a = await m.propose({ kind: RequestKind.DeleteRange, req }, requestAuth(info));
    return deleteToPb(a.r, this.#header);
  }

  /**
   * Txn: a txn that only reads is served like a range, without a log entry (as etcd); one
   * that may write is proposed.
   */
  async txn(req: pb.TxnRequest, caller: Caller): Promise<pb.TxnResponse> {
    const m = this.#m;
    const t = txnFromPb(req);
    checkTxn(t, m.config.maxTxnOps);
    const info = await resolveCaller(m, caller);
    if (m.auth.enabled) checkTxnAuth(m.auth, info, req);
    if (isReadOnly(req)) {
      if (!isSerializable(req)) await m.linearizableRead();
      return txnToPb(applyTxn(m.store, t, { maxTxnOps: m.config.maxTxnOps }), this.#header);
    }
    await m.checkQuota(costTxn(req));
    const a = await m.propose({ kind: RequestKind.Txn, req }, requestAuth(info));
    return txnToPb(a.r, this.#header);
  }

  /** Compact: proposed; with `physical`, answered once the compaction reached the disk. */
  async compact(req: pb.CompactionRequest, caller: Caller): Promise<pb.CompactionResponse> {
    const m = this.#m;
    await resolveCaller(m, caller); // etcd resolves the caller's token for every proposal
    const a = await m.propose({ kind: RequestKind.Compaction, req });
    if (req.physical) await a.done;
    return create(pb.CompactionResponseSchema, { header: this.#header(a.r.header.revision) });
  }
}
