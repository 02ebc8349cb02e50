/**
 * The KV requests applied to the store with etcd's exact semantics (etcdserver/apply.go):
 * Range with limit/more/count, sort and revision filters; Put with prev_kv, ignore_value and
 * ignore_lease; DeleteRange with prev_kv; Txn with compares over a key or a range, nested
 * txns, and the whole txn as one revision; Compaction. The server calls these from its apply
 * loop (and Range directly for serializable or ReadIndex reads).
 */

import { Errors } from "../base/errors.ts";
import type { KvReader, MvccStore, WriteTxn } from "./kv_store.ts";
import { bytesToKey, compareBytes, type KeySpan, spanHas, spanOf } from "./key_bytes.ts";
import {
  type CompactionRequest,
  type CompactionResponse,
  type Compare,
  CompareResult,
  CompareTarget,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type KeyValue,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseOp,
  SortOrder,
  SortTarget,
  type TxnRequest,
  type TxnResponse,
} from "./types.ts";
import {
  checkDeleteRange,
  checkPut,
  checkRange,
  checkTxn,
  DEFAULT_MAX_TXN_OPS,
} from "./validate.ts";

const EMPTY = new Uint8Array(0);

/** Options of `applyTxn`. */
export interface TxnOptions {
  /** etcd's --max-txn-ops (128). */
  maxTxnOps?: number;
}

function sortKey(t: SortTarget): (a: KeyValue, b: KeyValue) => number {
  switch (t) {
    case SortTarget.VERSION:
      return (a, b) => a.version - b.version;
    case SortTarget.CREATE:
      return (a, b) => a.createRevision - b.createRevision;
    case SortTarget.MOD:
      return (a, b) => a.modRevision - b.modRevision;
    case SortTarget.VALUE:
      return (a, b) => compareBytes(a.value, b.value);
    default:
      return (a, b) => compareBytes(a.key, b.key);
  }
}

/** Range in a view (the store or an open write txn), as etcd's applier does it. */
export function rangeIn(view: KvReader, r: RangeRequest): RangeResponse {
  const reqLimit = r.limit ?? 0;
  const order0 = r.sortOrder ?? SortOrder.NONE;
  const target = r.sortTarget ?? SortTarget.KEY;
  const minMod = r.minModRevision ?? 0;
  const maxMod = r.maxModRevision ?? 0;
  const minCreate = r.minCreateRevision ?? 0;
  const maxCreate = r.maxCreateRevision ?? 0;
  let limit = reqLimit;
  // Sorting or filtering needs every key first; truncate afterwards.
  if (
    order0 !== SortOrder.NONE || minMod !== 0 || maxMod !== 0 || minCreate !== 0 || maxCreate !== 0
  ) {
    limit = 0;
  }
  if (limit > 0) limit++; // one more than asked tells whether there is more
  const rr = view.range(spanOf(r.key, r.rangeEnd), {
    limit,
    rev: r.revision ?? 0,
    count: r.countOnly === true,
  });
  let kvs = rr.kvs;
  if (maxMod !== 0) kvs = kvs.filter((kv) => kv.modRevision <= maxMod);
  if (minMod !== 0) kvs = kvs.filter((kv) => kv.modRevision >= minMod);
  if (maxCreate !== 0) kvs = kvs.filter((kv) => kv.createRevision <= maxCreate);
  if (minCreate !== 0) kvs = kvs.filter((kv) => kv.createRevision >= minCreate);
  let order = order0;
  // Results come in ascending key order; other targets default to ascending.
  if (target !== SortTarget.KEY && order === SortOrder.NONE) order = SortOrder.ASCEND;
  if (order === SortOrder.ASCEND) {
    const cmp = sortKey(target);
    kvs.sort(cmp);
  } else if (order === SortOrder.DESCEND) {
    const cmp = sortKey(target);
    kvs.sort((a, b) => cmp(b, a));
  }
  let more = false;
  if (reqLimit > 0 && kvs.length > reqLimit) {
    kvs = kvs.slice(0, reqLimit);
    more = true;
  }
  if (r.keysOnly) { for (const kv of kvs) kv.value = EMPTY; }
  return { header: { revision: rr.rev }, kvs, more, count: rr.count };
}

/** Put in an open write txn (checks already done). */
export function putIn(txn: WriteTxn, p: PutRequest): PutResponse {
  let value = p.value ?? EMPTY;
  let lease = p.lease ?? 0n;
  let prev: KeyValue | undefined;
  if (p.ignoreValue || p.ignoreLease || p.prevKv) {
    prev = txn.range(spanOf(p.key)).kvs[0];
  }
  if ((p.ignoreValue || p.ignoreLease) && prev === undefined) throw Errors.keyNotFound();
  if (p.ignoreValue) value = prev!.value;
  if (p.ignoreLease) lease = prev!.lease;
  const rev = txn.put(p.key, value, lease);
  const resp: PutResponse = { header: { revision: rev } };
  if (p.prevKv && prev !== undefined) resp.prevKv = prev;
  return resp;
}

/** DeleteRange in an open write txn. */
export function deleteRangeIn(txn: WriteTxn, d: DeleteRangeRequest): DeleteRangeResponse {
  const span = spanOf(d.key, d.rangeEnd);
  const prevKvs = d.prevKv ? txn.range(span).kvs : [];
  const { deleted, rev } = txn.deleteRange(span);
  return { header: { revision: rev }, deleted, prevKvs };
}

/** Range (a read of the latest state, or at `revision`). */
export function applyRange(store: MvccStore, r: RangeRequest): RangeResponse {
  checkRange(r);
  return rangeIn(store, r);
}

/** Put as its own write transaction. */
export function applyPut(store: MvccStore, p: PutRequest): PutResponse {
  checkPut(p);
  const lease = p.lease ?? 0n;
  if (lease !== 0n && !store.leaseExists(lease)) throw Errors.leaseNotFound();
  const txn = store.beginWrite();
  try {
    return putIn(txn, p);
  } finally {
    txn.end();
  }
}

/** DeleteRange as its own write transaction. */
export function applyDeleteRange(store: MvccStore, d: DeleteRangeRequest): DeleteRangeResponse {
  checkDeleteRange(d);
  const txn = store.beginWrite();
  try {
    return deleteRangeIn(txn, d);
  } finally {
    txn.end();
  }
}

function compareKV(c: Compare, kv: KeyValue | undefined): boolean {
  let result: number;
  switch (c.target) {
    case CompareTarget.VALUE:
      result = compareBytes(kv?.value ?? EMPTY, c.value ?? EMPTY);
      break;
    case CompareTarget.CREATE:
      result = Math.sign((kv?.createRevision ?? 0) - (c.createRevision ?? 0));
      break;
    case CompareTarget.MOD:
      result = Math.sign((kv?.modRevision ?? 0) - (c.modRevision ?? 0));
      break;
    case CompareTarget.VERSION:
      result = Math.sign((kv?.version ?? 0) - (c.version ?? 0));
      break;
    case CompareTarget.LEASE: {
      const a = BigInt.asIntN(64, kv?.lease ?? 0n);
      const b = BigInt.asIntN(64, c.lease ?? 0n);
      result = a < b ? -1 : a > b ? 1 : 0;
      break;
    }
    default:
      result = 0;
  }
  switch (c.result) {
    case CompareResult.EQUAL:
      return result === 0;
    case CompareResult.NOT_EQUAL:
      return result !== 0;
    case CompareResult.GREATER:
      return result > 0;
    case CompareResult.LESS:
      return result < 0;
    default:
      return true;
  }
}

/** etcd's applyCompare: every key of the compare's range must satisfy it. */
function applyCompare(view: KvReader, c: Compare): boolean {
  let kvs: KeyValue[];
  try {
    kvs = view.range(spanOf(c.key, c.rangeEnd)).kvs;
  } catch {
    return false;
  }
  if (kvs.length === 0) {
    // A missing key has no value to compare (nil equals empty on the wire): always fails.
    if (c.target === CompareTarget.VALUE) return false;
    return compareKV(c, undefined);
  }
  for (const kv of kvs) if (!compareKV(c, kv)) return false;
  return true;
}

/** The branch taken by the txn and each nested txn on that path, in execution order. */
function compareToPath(view: KvReader, rt: TxnRequest): boolean[] {
  const ok = (rt.compare ?? []).every((c) => applyCompare(view, c));
  const path = [ok];
  for (const op of (ok ? rt.success : rt.failure) ?? []) {
    if (op.case === "requestTxn") path.push(...compareToPath(view, op.value));
  }
  return path;
}

function checkRequests(
  view: KvReader,
  rt: TxnRequest,
  path: boolean[],
  f: (op: RequestOp) => void,
): number {
  let txns = 0;
  let p = path;
  for (const op of (p[0] ? rt.success : rt.failure) ?? []) {
    if (op.case === "requestTxn") {
      const n = checkRequests(view, op.value, p.slice(1), f);
      txns += n + 1;
      p = p.slice(n + 1);
      continue;
    }
    f(op);
  }
  return txns;
}

function isReadonly(rt: TxnRequest): boolean {
  return (rt.success ?? []).every((o) => o.case === "requestRange") &&
    (rt.failure ?? []).every((o) => o.case === "requestRange");
}

function applyOps(view: KvReader, txn: WriteTxn | undefined, rt: TxnRequest, path: boolean[]) {
  let p = path;
  const succeeded = p[0];
  const responses: ResponseOp[] = [];
  let txns = 0;
  for (const op of (succeeded ? rt.success : rt.failure) ?? []) {
    switch (op.case) {
      case "requestRange":
        responses.push({ case: "responseRange", value: rangeIn(txn ?? view, op.value) });
        break;
      case "requestPut":
        responses.push({ case: "responsePut", value: putIn(txn!, op.value) });
        break;
      case "requestDeleteRange":
        responses.push({ case: "responseDeleteRange", value: deleteRangeIn(txn!, op.value) });
        break;
      case "requestTxn": {
        const sub = applyOps(view, txn, op.value, p.slice(1));
        responses.push({
          case: "responseTxn",
          value: { header: { revision: 0 }, succeeded: sub.succeeded, responses: sub.responses },
        });
        txns += sub.txns + 1;
        p = p.slice(sub.txns + 1);
        break;
      }
    }
  }
  return { succeeded, responses, txns };
}

/**
 * Txn: compares are evaluated on the state before the txn (nested ones too), the chosen
 * operations are checked (ignore_value/ignore_lease keys exist, leases exist, read revisions
 * are neither compacted nor in the future), then applied as one revision.
 */
export function applyTxn(store: MvccStore, rt: TxnRequest, opts: TxnOptions = {}): TxnResponse {
  checkTxn(rt, opts.maxTxnOps ?? DEFAULT_MAX_TXN_OPS);
  const path = compareToPath(store, rt);
  const write = !isReadonly(rt);
  if (write) {
    checkRequests(store, rt, path, (op) => {
      if (op.case !== "requestPut") return;
      const p = op.value;
      if (p.ignoreValue || p.ignoreLease) {
        if (store.range(spanOf(p.key)).kvs.length === 0) throw Errors.keyNotFound();
      }
      const lease = p.lease ?? 0n;
      if (lease !== 0n && !store.leaseExists(lease)) throw Errors.leaseNotFound();
    });
  }
  checkRequests(store, rt, path, (op) => {
    if (op.case !== "requestRange") return;
    const rev = op.value.revision ?? 0;
    if (rev === 0) return;
    if (rev > store.rev()) throw Errors.futureRev();
    if (rev < store.firstRev()) throw Errors.compacted();
  });
  if (write) {
    // etcd checked ignore_value/ignore_lease keys against the state before the txn. The one
    // way such a key can vanish inside the txn, a delete with range_end "\0" (which etcd's
    // duplicate check does not catch), makes etcd panic mid-apply; here liveness is followed
    // through the txn so that case fails with keyNotFound before anything is written.
    const deleted: KeySpan[] = [];
    const putLive = new Map<string, boolean>();
    checkRequests(store, rt, path, (op) => {
      if (op.case === "requestDeleteRange") {
        const span = spanOf(op.value.key, op.value.rangeEnd);
        deleted.push(span);
        for (const k of putLive.keys()) if (spanHas(span, k)) putLive.set(k, false);
        return;
      }
      if (op.case !== "requestPut") return;
      const p = op.value;
      const k = bytesToKey(p.key);
      if (p.ignoreValue || p.ignoreLease) {
        const live = putLive.get(k) ?? !deleted.some((d) => spanHas(d, k));
        if (!live) throw Errors.keyNotFound();
      }
      putLive.set(k, true);
    });
  }
  if (!write) {
    const r = applyOps(store, undefined, rt, path);
    return { header: { revision: store.rev() }, succeeded: r.succeeded, responses: r.responses };
  }
  const txn = store.beginWrite();
  try {
    const r = applyOps(store, txn, rt, path);
    return { header: { revision: txn.rev() }, succeeded: r.succeeded, responses: r.responses };
  } finally {
    txn.end();
  }
}

/**
 * Compaction: schedules the compaction at `revision` and answers with the current revision;
 * `done` resolves when the history is physically removed (what `physical: true` waits for).
 */
export function applyCompaction(
  store: MvccStore,
  req: CompactionRequest,
): { response: CompactionResponse; done: Promise<void> } {
  const { done } = store.compact(req.revision);
  return { response: { header: { revision: store.rev() } }, done };
}
