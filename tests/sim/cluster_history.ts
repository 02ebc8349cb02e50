/**
 * What a whole-cluster run records besides the linearizable KV history, and the checks on the
 * healed cluster that need it: durability of acknowledged writes, real-time order of their
 * revisions, and serializable reads (a state the history passed through, never going back for
 * one client session on one member incarnation).
 */
import type { HistoryView } from "./history_archive.ts";
import { describeOp, type KvOp, type TxnOp, type TxnResult } from "./kv_history.ts";

const dec = new TextDecoder();

/** A serializable read: served from one member's local state, outside the linearizable history. */
export interface SerialRead {
  client: number;
  member: number;
  incarnation: number;
  key: string;
  value: string | null;
  rev: number;
  atMs: number;
}

/** The revision an acknowledged KV operation was answered with (its header revision). */
export type AckedRevisions = Map<number, number>;

/** The value of `key` at revision `rev` (null: absent), with its mod revision. */
function at(store: HistoryView, key: string, rev: number): { value: string | null; mod: number } {
  const kv = store.at(key, rev);
  return kv === undefined
    ? { value: null, mod: 0 }
    : { value: dec.decode(kv.value), mod: kv.modRevision };
}

/** One key an answered write changed: its new value (null: deleted). */
interface Write {
  key: string;
  value: string | null;
}

/**
 * The keys an answered op changed, as its answer says: a put; a delete that deleted; a CAS
 * that succeeded; a txn's branch (the one its answer names): its puts, and its deletes that
 * deleted. Empty for reads and for writes that changed nothing.
 */
export function writesOf(op: KvOp): Write[] {
  const i = op.input;
  const o = op.output;
  if (o === null) return [];
  switch (i.kind) {
    case "put":
      return [{ key: i.key, value: i.value }];
    case "delete":
      return o.kind === "delete" && o.deleted === 1 ? [{ key: i.key, value: null }] : [];
    case "cas":
      return o.kind === "cas" && o.succeeded ? [{ key: i.key, value: i.value }] : [];
    case "txn":
      return o.kind === "txn" ? branchWrites(i, o) : [];
    default:
      return [];
  }
}

/** The writes of the branch a txn's answer names, nested txns' included. */
function branchWrites(
  t: { then: readonly TxnOp[]; else: readonly TxnOp[] },
  o: { succeeded: boolean; results: readonly TxnResult[] },
): Write[] {
  const branch = o.succeeded ? t.then : t.else;
  return branch.flatMap((x, n): Write[] => {
    const res = o.results[n];
    if (x.kind === "put") return [{ key: x.key, value: x.value }];
    if (x.kind === "delete" && res?.kind === "delete" && res.deleted === 1) {
      return [{ key: x.key, value: null }];
    }
    if (x.kind === "txn" && res?.kind === "txn") return branchWrites(x, res);
    return [];
  });
}

/**
 * The history without the unknown-outcome writes that certainly never took effect: every
 * branch the op could have taken either writes nothing or puts a value the cluster's record
 * never held for that key (every write of the workload writes a value no other write
 * writes, and the record holds every revision the cluster applied). They could be left out
 * by the search anyway; removing them first keeps a partition's many timed-out txns from
 * multiplying its configurations (etcd's robustness suite patches its history the same way
 * from what it observed). A delete, or a branch of deletes only, leaves no value to look for:
 * such ops stay.
 */
export function dropUnapplied(history: readonly KvOp[], store: HistoryView): KvOp[] {
  const held = new Set<string>();
  for (const k of store.keys()) {
    for (const c of store.changes(k)) {
      if (c.kv !== undefined) held.add(`${k}\0${dec.decode(c.kv.value)}`);
    }
  }
  /**
   * True when taking this branch certainly did not happen, or would have changed nothing (a
   * nested txn counts as a write that may have happened: kept).
   */
  const notTaken = (branch: readonly TxnOp[]) =>
    branch.every((o) => o.kind === "get") ||
    branch.some((o) => o.kind === "put" && !held.has(`${o.key}\0${o.value}`));
  return history.filter((op) => {
    if (op.output !== null) return true;
    const i = op.input;
    switch (i.kind) {
      case "put":
        return !notTaken([i]);
      case "cas":
        return !notTaken([{ kind: "put", key: i.key, value: i.value }]);
      case "txn":
        return !(notTaken(i.then) && notTaken(i.else));
      default:
        return true;
    }
  });
}

/** For each revision, the keys the history changed in it. */
function keysByRevision(store: HistoryView): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const k of store.keys()) {
    for (const c of store.changes(k)) {
      const l = out.get(c.rev);
      if (l === undefined) out.set(c.rev, [k]);
      else l.push(k);
    }
  }
  return out;
}

/**
 * Every acknowledged write is in the cluster's history at the revision it was answered with,
 * atomically: a put (or a CAS that succeeded, or a txn's put) holds its value with that mod
 * revision; a delete that deleted leaves the key absent there and present just before; and
 * that revision changed exactly the op's keys (a txn's writes all in its one revision, nothing
 * else in it). Writes that changed something have distinct revisions, ordered as real time
 * orders them.
 */
export function checkDurability(
  history: readonly KvOp[],
  revs: AckedRevisions,
  store: HistoryView,
): string[] {
  const bad: string[] = [];
  const writes: { op: KvOp; rev: number }[] = [];
  const changedAt = keysByRevision(store);
  for (const op of history) {
    const rev = revs.get(op.id);
    const ws = writesOf(op);
    if (rev === undefined || ws.length === 0) continue;
    for (const w of ws) {
      if (w.value !== null) {
        const got = at(store, w.key, rev);
        if (got.value !== w.value || got.mod !== rev) {
          bad.push(
            `acknowledged write lost: ${describeOp(op)} at rev ${rev}; ${w.key} there is ${
              JSON.stringify(got)
            }`,
          );
        }
      } else if (at(store, w.key, rev).value !== null || at(store, w.key, rev - 1).value === null) {
        bad.push(
          `acknowledged delete of ${w.key} not at its revision: ${describeOp(op)} at rev ${rev}`,
        );
      }
    }
    const want = ws.map((w) => w.key).sort().join(", ");
    const have = [...changedAt.get(rev) ?? []].sort().join(", ");
    if (want !== have) {
      bad.push(
        `acknowledged write not alone and whole in its revision: ${
          describeOp(op)
        } at rev ${rev} changed [${want}], the history's rev ${rev} changed [${have}]`,
      );
    }
    writes.push({ op, rev });
  }
  const seen = new Map<number, KvOp>();
  for (const w of writes) {
    const other = seen.get(w.rev);
    if (other !== undefined) {
      bad.push(
        `two writes answered with rev ${w.rev}: ${describeOp(other)} and ${describeOp(w.op)}`,
      );
    }
    seen.set(w.rev, w.op);
  }
  // real time: a write that returned before another was called has the smaller revision
  const byRet = [...writes].sort((a, b) => a.op.ret! - b.op.ret!);
  for (const w of writes) {
    for (const v of byRet) {
      if (v.op.ret! >= w.op.call) break;
      if (v.rev >= w.rev) {
        bad.push(
          `revisions against real time: ${describeOp(v.op)} rev ${v.rev} before ${
            describeOp(w.op)
          } rev ${w.rev}`,
        );
      }
    }
  }
  return bad;
}

/**
 * Each serializable read saw the key as the cluster's history has it at the read's header revision
 * (a state the cluster passed through, so never a value from the future or one that was never
 * committed), at a revision no later than the final one; and one client's reads from one member
 * incarnation never go back in revision.
 */
export function checkSerializable(reads: readonly SerialRead[], store: HistoryView): string[] {
  const bad: string[] = [];
  const last = new Map<string, SerialRead>();
  for (const r of reads) {
    if (r.rev > store.rev()) {
      bad.push(
        `serializable read at rev ${r.rev} past the final rev ${store.rev()}: ${JSON.stringify(r)}`,
      );
      continue;
    }
    const got = at(store, r.key, r.rev).value;
    if (got !== r.value) {
      bad.push(
        `serializable read of ${r.key} at rev ${r.rev} saw ${r.value}, the history had ${got}: ${
          JSON.stringify(r)
        }`,
      );
    }
    const session = `${r.client}/${r.member}/${r.incarnation}`;
    const prev = last.get(session);
    if (prev !== undefined && r.rev < prev.rev) {
      bad.push(
        `serializable reads went back for session ${session}: rev ${prev.rev} then ${r.rev}`,
      );
    }
    last.set(session, r);
  }
  return bad;
}
