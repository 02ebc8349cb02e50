/**
 * A linearizability checker for KV histories: Wing and Gong's search with Lowe's
 * memoization, as porcupine does it. The history is split by key (every operation touches one
 * key; linearizability is local), and each key's history is searched for an order that respects
 * real time and the sequential specification (`stepKey`). A configuration — the set of
 * operations already linearized and the key's value — that failed once is never searched again.
 *
 * Operations with an unknown outcome may be linearized anywhere after their call (with any
 * answer) or left out: the search succeeds once every operation with a known outcome is placed.
 */
import { describeOp, type KeyState, type KvOp, stepKey } from "./kv_history.ts";

/** The verdict on a whole history. */
export type Verdict =
  | { ok: true; keys: number; ops: number }
  | { ok: false; key: string; reason: string };

/** Bounds the search per key; past it the verdict is a failure saying so, never a pass. */
export interface CheckOptions {
  maxStepsPerKey?: number;
}

/** Splits a history by key. */
export function byKey(history: readonly KvOp[]): Map<string, KvOp[]> {
  const out = new Map<string, KvOp[]>();
  for (const op of history) {
    const list = out.get(op.input.key);
    if (list === undefined) out.set(op.input.key, [op]);
    else list.push(op);
  }
  return out;
}

/** Checks every key's history; the first key that cannot be linearized fails the whole. */
export function checkLinearizable(history: readonly KvOp[], opts: CheckOptions = {}): Verdict {
  for (const op of history) {
    if ((op.ret === null) !== (op.output === null)) {
      throw new Error(`op #${op.id}: ret and output must both be known or both unknown`);
    }
    if (op.ret !== null && op.ret < op.call) throw new Error(`op #${op.id}: ret before call`);
  }
  const parts = byKey(history);
  for (const [key, ops] of parts) {
    const r = checkKey(ops, opts.maxStepsPerKey ?? 1_000_000);
    if (r !== null) return { ok: false, key, reason: r };
  }
  return { ok: true, keys: parts.size, ops: history.length };
}

/** Null when linearizable, else why not (with the longest order found). */
function checkKey(input: readonly KvOp[], maxSteps: number): string | null {
  const lastRet = Math.max(-1, ...input.map((o) => o.ret ?? -1));
  // an unknown read changes nothing and constrains nothing; an unknown write called after
  // every known op returned can always go last (or nowhere)
  const ops = input.filter((o) => o.ret !== null || (o.input.kind !== "get" && o.call <= lastRet))
    .sort((a, b) => a.call - b.call);
  const n = ops.length;
  const known = ops.filter((o) => o.ret !== null).length;
  const done = new Uint8Array(n);
  const bit = ops.map((_, i) => 1n << BigInt(i));
  /**
   * Per (placed known ops, value): the sets of placed unknown ops that failed from there. A
   * superset of one fails too (fewer ops left, and an unplaced unknown op constrains nothing),
   * so it is pruned: the unknown ops would otherwise multiply the configurations.
   */
  const memo = new Map<string, bigint[]>();
  const order: number[] = [];
  let best: number[] = [];
  let bestKnown = -1;
  let steps = 0;
  const search = (
    state: KeyState,
    kMask: bigint,
    uMask: bigint,
    placedKnown: number,
    afterBlind: boolean,
  ): boolean => {
    if (placedKnown === known) return true;
    const k = kMask.toString(36) + (afterBlind ? "b" : "") + JSON.stringify(state);
    let failed = memo.get(k);
    if (failed === undefined) memo.set(k, failed = []);
    for (const f of failed) if ((f & ~uMask) === 0n) return false;
    if (++steps > maxSteps) throw new SearchBudget();
    if (placedKnown > bestKnown) {
      bestKnown = placedKnown;
      best = [...order];
    }
    // the next op must not have been called after some unplaced known op returned
    let minRet = Infinity;
    for (let i = 0; i < n; i++) {
      const r = ops[i].ret;
      if (!done[i] && r !== null && r < minRet) minRet = r;
    }
    // known ops first: a linearizable history is found without trying the optional ones
    for (const pass of [true, false]) {
      for (let i = 0; i < n && ops[i].call <= minRet; i++) {
        if (done[i] || (ops[i].ret !== null) !== pass) continue;
        const op = ops[i];
        const blind = op.input.kind === "put" || op.input.kind === "delete";
        // an unknown op is placed only where it is needed (else it is better left out, as
        // it constrains nothing): it must change the value, and two unknown blind writes in a
        // row are never needed (the first is overwritten unseen)
        if (!pass && afterBlind && blind) continue;
        const next = stepKey(state, op.input, op.output);
        if (next === undefined || (!pass && next === state)) continue;
        done[i] = 1;
        order.push(i);
        const ok = pass
          ? search(next, kMask | bit[i], uMask, placedKnown + 1, false)
          : search(next, kMask, uMask | bit[i], placedKnown, blind);
        order.pop();
        done[i] = 0;
        if (ok) return true;
      }
    }
    failed.push(uMask);
    return false;
  };
  try {
    if (search(null, 0n, 0n, 0, false)) return null;
  } catch (err) {
    if (err instanceof SearchBudget) {
      return `search gave up after ${maxSteps} configurations over ${n} ops (inconclusive, not a pass)`;
    }
    throw err;
  }
  const placed = new Set(best);
  const lines = [
    `no linearization of ${n} ops; the longest order found places ${best.length}:`,
    ...best.map((i) => `  ${describeOp(ops[i])}`),
    `then none of these can come next:`,
    ...ops.filter((_, i) => !placed.has(i)).slice(0, 12).map((o) => `  ${describeOp(o)}`),
  ];
  return lines.join("\n");
}

class SearchBudget extends Error {}
