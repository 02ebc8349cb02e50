/**
 * A linearizability checker for KV histories: Wing and Gong's search with Lowe's
 * memoization, as porcupine does it. The history is split into the connected components of
 * its keys (two keys are joined by any operation touching both: a multi-key txn, a range over
 * a group's prefix; linearizability is local, each component one object), and each
 * component's history is searched for an order that respects real time and the sequential
 * specification (`step`) over the map of the component's keys. A configuration — the set of
 * operations already linearized and the component's state — that failed once is never
 * searched again. The workload keeps components small (a multi-key op stays within one group
 * of 2 or 3 keys), so the state stays small too.
 *
 * Operations with an unknown outcome may be linearized anywhere after their call (with any
 * answer) or left out: the search succeeds once every operation with a known outcome is placed.
 */
import { describeOp, isBlindWrite, keysOf, type KvOp, type KvState, step } from "./kv_history.ts";

/** The verdict on a whole history. `key` names the failing component's keys. */
export type Verdict =
  | { ok: true; keys: number; ops: number; components: number }
  | { ok: false; key: string; reason: string };

/**
 * Bounds the search per component, in configurations and in wall-clock time (a configuration
 * of a few keys with many unknown ops costs tens of microseconds); past either the verdict is
 * a failure saying so, never a pass.
 */
export interface CheckOptions {
  maxStepsPerComponent?: number;
  maxMsPerComponent?: number;
}

/** One connected component of keys, and the operations on them in history order. */
export interface Component {
  keys: string[];
  ops: KvOp[];
}

/**
 * Splits a history into the connected components of its keys (union-find: every op joins the
 * keys it touches).
 */
export function components(history: readonly KvOp[]): Component[] {
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let r = k;
    for (let p = parent.get(r); p !== undefined && p !== r; p = parent.get(r)) r = p;
    for (let x = k; x !== r;) { // path compression
      const next = parent.get(x)!;
      parent.set(x, r);
      x = next;
    }
    return r;
  };
  for (const op of history) {
    const ks = keysOf(op.input);
    if (ks.length === 0) throw new Error(`op #${op.id} touches no key`);
    for (const k of ks) if (!parent.has(k)) parent.set(k, k);
    const root = find(ks[0]);
    for (const k of ks.slice(1)) {
      const r = find(k);
      if (r !== root) parent.set(r, root);
    }
  }
  const out = new Map<string, Component>();
  for (const k of [...parent.keys()].sort()) {
    const r = find(k);
    const c = out.get(r);
    if (c === undefined) out.set(r, { keys: [k], ops: [] });
    else c.keys.push(k);
  }
  for (const op of history) out.get(find(keysOf(op.input)[0]))!.ops.push(op);
  return [...out.values()];
}

/** Checks every component's history; the first that cannot be linearized fails the whole. */
export function checkLinearizable(history: readonly KvOp[], opts: CheckOptions = {}): Verdict {
  for (const op of history) {
    if ((op.ret === null) !== (op.output === null)) {
      throw new Error(`op #${op.id}: ret and output must both be known or both unknown`);
    }
    if (op.ret !== null && op.ret < op.call) throw new Error(`op #${op.id}: ret before call`);
  }
  const parts = components(history);
  for (const part of parts) {
    const r = checkComponent(
      part,
      opts.maxStepsPerComponent ?? 1_000_000,
      opts.maxMsPerComponent ?? 20_000,
    );
    if (r !== null) return { ok: false, key: part.keys.join(", "), reason: r };
  }
  return {
    ok: true,
    keys: parts.reduce((n, p) => n + p.keys.length, 0),
    ops: history.length,
    components: parts.length,
  };
}

/** Null when linearizable, else why not (with the longest order found). */
function checkComponent(part: Component, maxSteps: number, maxMs: number): string | null {
  const deadline = performance.now() + maxMs;
  const input = part.ops;
  const keys = part.keys;
  const lastRet = Math.max(-1, ...input.map((o) => o.ret ?? -1));
  // an unknown read changes nothing and constrains nothing; an unknown write called after
  // every known op returned can always go last (or nowhere)
  const ops = input.filter((o) =>
    o.ret !== null || (o.input.kind !== "get" && o.input.kind !== "range" && o.call <= lastRet)
  )
    .sort((a, b) => a.call - b.call);
  const n = ops.length;
  const known = ops.filter((o) => o.ret !== null).length;
  const done = new Uint8Array(n);
  const bit = ops.map((_, i) => 1n << BigInt(i));
  /**
   * Per (placed known ops, state, last unknown blind write): the sets of placed unknown ops
   * that failed from there. A superset of one fails too (fewer ops left, and an unplaced
   * unknown op constrains nothing), so it is pruned: the unknown ops would otherwise multiply
   * the configurations.
   */
  const memo = new Map<string, bigint[]>();
  const order: number[] = [];
  let best: number[] = [];
  let bestKnown = -1;
  let steps = 0;
  const search = (
    state: KvState,
    kMask: bigint,
    uMask: bigint,
    placedKnown: number,
    afterBlind: string | null,
  ): boolean => {
    if (placedKnown === known) return true;
    const k = kMask.toString(36) + JSON.stringify([afterBlind, ...keys.map((x) => state.get(x))]);
    let failed = memo.get(k);
    if (failed === undefined) memo.set(k, failed = []);
    for (const f of failed) if ((f & ~uMask) === 0n) return false;
    if (++steps > maxSteps || ((steps & 1023) === 0 && performance.now() > deadline)) {
      throw new SearchBudget();
    }
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
        const blind = isBlindWrite(op.input) ? op.input.key : null;
        // an unknown op is placed only where it is needed (else it is better left out, as
        // it constrains nothing): it must change the state, and two unknown blind writes of
        // one key in a row are never needed (the first is overwritten unseen)
        if (!pass && blind !== null && afterBlind === blind) continue;
        const next = step(state, op.input, op.output);
        if (next === undefined || (!pass && next === state)) continue;
        done[i] = 1;
        order.push(i);
        const ok = pass
          ? search(next, kMask | bit[i], uMask, placedKnown + 1, null)
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
    if (search(new Map(), 0n, 0n, 0, null)) return null;
  } catch (err) {
    if (err instanceof SearchBudget) {
      return `search gave up after ${steps} configurations (at most ${maxSteps}, ${maxMs} ms) ` +
        `over ${n} ops (inconclusive, not a pass)`;
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
