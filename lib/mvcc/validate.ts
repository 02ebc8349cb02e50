/**
 * Request checks etcd makes before a request reaches raft (etcdserver/api/v3rpc/key.go):
 * empty keys, ignore_value/ignore_lease misuse, too many txn operations, and puts that
 * overlap another put or a delete of the same txn branch. The API layer runs them before
 * proposing; the store runs them again on apply so a bad request can never half-apply.
 */

import { Errors } from "../base/errors.ts";
import { bytesToKey } from "./key_bytes.ts";
import type {
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from "./types.ts";

/** etcd's default --max-txn-ops. */
export const DEFAULT_MAX_TXN_OPS = 128;

/** checkRangeRequest. */
export function checkRange(r: RangeRequest): void {
  if (r.key.length === 0) throw Errors.emptyKey();
}

/** checkPutRequest. */
export function checkPut(r: PutRequest): void {
  if (r.key.length === 0) throw Errors.emptyKey();
  if (r.ignoreValue && r.value !== undefined && r.value.length !== 0) throw Errors.valueProvided();
  if (r.ignoreLease && r.lease !== undefined && r.lease !== 0n) throw Errors.leaseProvided();
}

/** checkDeleteRequest. */
export function checkDeleteRange(r: DeleteRangeRequest): void {
  if (r.key.length === 0) throw Errors.emptyKey();
}

function checkOp(op: RequestOp, maxTxnOps: number): void {
  switch (op.case) {
    case "requestRange":
      return checkRange(op.value);
    case "requestPut":
      return checkPut(op.value);
    case "requestDeleteRange":
      return checkDeleteRange(op.value);
    case "requestTxn":
      return checkTxnOps(op.value, maxTxnOps);
    default:
      throw Errors.keyNotFound(); // etcd: an empty RequestOp
  }
}

function checkTxnOps(r: TxnRequest, maxTxnOps: number): void {
  const compare = r.compare ?? [];
  const success = r.success ?? [];
  const failure = r.failure ?? [];
  const opc = Math.max(compare.length, success.length, failure.length);
  if (opc > maxTxnOps) throw Errors.tooManyOps();
  for (const c of compare) if (c.key.length === 0) throw Errors.emptyKey();
  for (const u of success) checkOp(u, maxTxnOps - opc);
  for (const u of failure) checkOp(u, maxTxnOps - opc);
}

/**
 * A deleted interval as etcd's checkIntervals builds it: [begin, end) with "" meaning no end;
 * a single key is [key, key+"\0"). A range_end of "\0" is taken literally, as etcd does,
 * so such a delete never conflicts.
 */
interface Interval {
  begin: string;
  end: string;
}

function intersectsPoint(iv: Interval, k: string): boolean {
  return iv.begin <= k && (iv.end === "" || k < iv.end);
}

function checkIntervals(reqs: RequestOp[]): { puts: Set<string>; dels: Interval[] } {
  const dels: Interval[] = [];
  for (const req of reqs) {
    if (req.case !== "requestDeleteRange") continue;
    const d = req.value;
    const key = bytesToKey(d.key);
    if (d.rangeEnd && d.rangeEnd.length !== 0) {
      dels.push({ begin: key, end: bytesToKey(d.rangeEnd) });
    } else dels.push({ begin: key, end: key + "\0" });
  }
  const delsHit = (k: string) => dels.some((iv) => intersectsPoint(iv, k));
  const puts = new Set<string>();
  for (const req of reqs) {
    if (req.case !== "requestTxn") continue;
    const then = checkIntervals(req.value.success ?? []);
    const els = checkIntervals(req.value.failure ?? []);
    for (const k of then.puts) {
      if (puts.has(k) || delsHit(k)) throw Errors.duplicateKey();
      puts.add(k);
    }
    for (const k of els.puts) {
      // Then and else are exclusive: a key in both branches is fine.
      if (puts.has(k) && !then.puts.has(k)) throw Errors.duplicateKey();
      if (delsHit(k)) throw Errors.duplicateKey();
      puts.add(k);
    }
    dels.push(...then.dels, ...els.dels);
  }
  for (const req of reqs) {
    if (req.case !== "requestPut") continue;
    const k = bytesToKey(req.value.key);
    if (puts.has(k) || delsHit(k)) throw Errors.duplicateKey();
    puts.add(k);
  }
  return { puts, dels };
}

/** checkTxnRequest followed by the duplicate-key (checkIntervals) check of both branches. */
export function checkTxn(r: TxnRequest, maxTxnOps = DEFAULT_MAX_TXN_OPS): void {
  checkTxnOps(r, maxTxnOps);
  checkIntervals(r.success ?? []);
  checkIntervals(r.failure ?? []);
}
