/**
 * The obviously-correct (and exponential) linearizability check the search is tested against:
 * every subset of the unknown-outcome operations, every permutation of it with the known ones,
 * over the whole history at once (no split into components of keys: one state of every key),
 * accepted when one respects real time and the sequential specification. Only for histories of
 * a handful of operations.
 */
import { type KvOp, type KvState, step } from "./kv_history.ts";

/** True when some order of the history is a legal sequential run respecting real time. */
export function bruteForceLinearizable(history: readonly KvOp[]): boolean {
  if (history.length > 9) throw new Error("brute force: at most 9 ops");
  const n = history.length;
  const used = new Array<boolean>(n).fill(false);
  const seq: KvOp[] = [];
  const legal = (s: readonly KvOp[]): boolean => {
    // real time: nothing placed later returned before something placed earlier was called
    for (let a = 0; a < s.length; a++) {
      for (let b = a + 1; b < s.length; b++) {
        const r = s[b].ret;
        if (r !== null && r < s[a].call) return false;
      }
    }
    // every known op that was left out makes it illegal
    for (let i = 0; i < n; i++) {
      if (history[i].ret !== null && !s.includes(history[i])) return false;
    }
    let state: KvState | undefined = new Map();
    for (const op of s) {
      state = step(state, op.input, op.output);
      if (state === undefined) return false;
    }
    return true;
  };
  const extend = (): boolean => {
    if (legal(seq)) return true;
    for (let i = 0; i < n; i++) {
      if (used[i]) continue;
      used[i] = true;
      seq.push(history[i]);
      const ok = extend();
      seq.pop();
      used[i] = false;
      if (ok) return true;
    }
    return false;
  };
  return extend();
}
