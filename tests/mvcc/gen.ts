/** Random request generators shared by the randomized MVCC tests. */
import type { Rand } from "../../lib/base/rand.ts";
import {
  type Compare,
  CompareResult,
  CompareTarget,
  type DeleteRangeRequest,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  SortOrder,
  SortTarget,
  type TxnRequest,
} from "../../lib/mvcc/types.ts";
import { prefixEnd } from "../../lib/mvcc/key_bytes.ts";

const ALPHA = ["a", "b", "c", "a", "b", "\x00", "\xff"];
const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

export function genKey(r: Rand): Uint8Array {
  const n = r.range(1, 4);
  let s = "";
  for (let i = 0; i < n; i++) s += r.pick(ALPHA);
  return enc(s);
}

export function genEnd(r: Rand, key: Uint8Array): Uint8Array | undefined {
  switch (r.int(5)) {
    case 0:
      return undefined;
    case 1:
      return prefixEnd(key);
    case 2:
      return new Uint8Array([0]);
    case 3:
      return genKey(r);
    default:
      return prefixEnd(key.subarray(0, 1));
  }
}

export const LEASES = [1n, 2n, -5n];

export function genLease(r: Rand): bigint {
  return r.chance(0.6) ? 0n : r.chance(0.9) ? r.pick(LEASES) : 77n;
}

export function genPut(r: Rand): PutRequest {
  const p: PutRequest = { key: genKey(r), value: r.bytes(r.int(4)) };
  if (r.chance(0.3)) p.lease = genLease(r);
  if (r.chance(0.3)) p.prevKv = true;
  if (r.chance(0.12)) {
    p.ignoreValue = true;
    if (r.chance(0.8)) p.value = new Uint8Array(0);
  }
  if (r.chance(0.12)) {
    p.ignoreLease = true;
    if (r.chance(0.8)) delete p.lease;
  }
  return p;
}

export function genDelete(r: Rand): DeleteRangeRequest {
  const key = genKey(r);
  return { key, rangeEnd: genEnd(r, key), prevKv: r.chance(0.5) };
}

export function genRange(r: Rand, rev: number, compactRev: number): RangeRequest {
  const key = genKey(r);
  const q: RangeRequest = { key, rangeEnd: genEnd(r, key) };
  if (r.chance(0.4)) q.revision = r.range(Math.max(0, compactRev - 1), rev + 2);
  if (r.chance(0.4)) q.limit = r.range(-1, 4);
  if (r.chance(0.4)) q.sortOrder = r.pick([SortOrder.NONE, SortOrder.ASCEND, SortOrder.DESCEND]);
  if (r.chance(0.4)) {
    q.sortTarget = r.pick([
      SortTarget.KEY,
      SortTarget.VERSION,
      SortTarget.CREATE,
      SortTarget.MOD,
      SortTarget.VALUE,
    ]);
  }
  if (r.chance(0.15)) q.keysOnly = true;
  if (r.chance(0.1)) q.countOnly = true;
  if (r.chance(0.15)) q.minModRevision = r.range(0, rev + 1);
  if (r.chance(0.15)) q.maxModRevision = r.range(0, rev + 1);
  if (r.chance(0.15)) q.minCreateRevision = r.range(0, rev + 1);
  if (r.chance(0.15)) q.maxCreateRevision = r.range(0, rev + 1);
  return q;
}

export function genCompare(r: Rand, rev: number): Compare {
  const key = genKey(r);
  const c: Compare = {
    key,
    result: r.pick([
      CompareResult.EQUAL,
      CompareResult.NOT_EQUAL,
      CompareResult.LESS,
      CompareResult.GREATER,
    ]),
    target: r.pick([
      CompareTarget.VERSION,
      CompareTarget.CREATE,
      CompareTarget.MOD,
      CompareTarget.VALUE,
      CompareTarget.LEASE,
    ]),
  };
  if (r.chance(0.3)) c.rangeEnd = genEnd(r, key);
  switch (c.target) {
    case CompareTarget.VERSION:
      c.version = r.range(0, 4);
      break;
    case CompareTarget.CREATE:
      c.createRevision = r.range(0, rev + 1);
      break;
    case CompareTarget.MOD:
      c.modRevision = r.range(0, rev + 1);
      break;
    case CompareTarget.VALUE:
      if (r.chance(0.8)) c.value = r.bytes(r.int(3));
      break;
    case CompareTarget.LEASE:
      c.lease = genLease(r);
      break;
  }
  return c;
}

export function genOp(r: Rand, rev: number, compactRev: number, depth: number): RequestOp {
  const x = r.int(depth < 2 ? 10 : 9);
  if (x < 3) return { case: "requestPut", value: genPut(r) };
  if (x < 5) return { case: "requestDeleteRange", value: genDelete(r) };
  if (x < 9) return { case: "requestRange", value: genRange(r, rev, compactRev) };
  return { case: "requestTxn", value: genTxn(r, rev, compactRev, depth + 1) };
}

export function genTxn(r: Rand, rev: number, compactRev: number, depth = 0): TxnRequest {
  const t: TxnRequest = {};
  const nc = r.int(3);
  if (nc) t.compare = Array.from({ length: nc }, () => genCompare(r, rev));
  const ns = r.int(4);
  if (ns) t.success = Array.from({ length: ns }, () => genOp(r, rev, compactRev, depth));
  const nf = r.int(3);
  if (nf) t.failure = Array.from({ length: nf }, () => genOp(r, rev, compactRev, depth));
  return t;
}
