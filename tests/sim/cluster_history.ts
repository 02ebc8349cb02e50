/**
 * What a whole-cluster run records besides the linearizable KV history, and the checks on the
 * healed cluster that need it: durability of acknowledged writes, real-time order of their
 * revisions, and serializable reads (a state the history passed through, never going back for
 * one client session on one member incarnation).
 */
import type { HistoryView } from "./history_archive.ts";
import { describeOp, type KvOp } from "./kv_history.ts";

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

/**
 * Every acknowledged write is in the cluster's history at the revision it was answered with: a put
 * (or a CAS that succeeded) holds its value with that mod revision; a delete that deleted
 * leaves the key absent there and present just before. Writes that changed something have
 * distinct revisions, ordered as real time orders them.
 */
export function checkDurability(
  history: readonly KvOp[],
  revs: AckedRevisions,
  store: HistoryView,
): string[] {
  const bad: string[] = [];
  const writes: { op: KvOp; rev: number }[] = [];
  for (const op of history) {
    const o = op.output;
    const rev = revs.get(op.id);
    if (o === null || rev === undefined) continue;
    const i = op.input;
    if (i.kind === "put" || (i.kind === "cas" && o.kind === "cas" && o.succeeded)) {
      const v = i.value;
      const got = at(store, i.key, rev);
      if (got.value !== v || got.mod !== rev) {
        bad.push(
          `acknowledged write lost: ${describeOp(op)} at rev ${rev}; the store has ${
            JSON.stringify(got)
          }`,
        );
      }
      writes.push({ op, rev });
    } else if (i.kind === "delete" && o.kind === "delete" && o.deleted === 1) {
      if (at(store, i.key, rev).value !== null || at(store, i.key, rev - 1).value === null) {
        bad.push(`acknowledged delete not at its revision: ${describeOp(op)} at rev ${rev}`);
      }
      writes.push({ op, rev });
    }
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
