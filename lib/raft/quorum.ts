/**
 * Majority arithmetic over a set of voters: the highest index a quorum has acknowledged,
 * and the outcome of a vote. Kept free of raft state so it is tested on its own.
 */
import type { NodeId } from "../base/raftpb.ts";

/** Outcome of an election so far. */
export enum VoteResult {
  Pending = 0,
  Lost = 1,
  Won = 2,
}

/** The size of a majority of n voters. */
export function quorumSize(n: number): number {
  return (n >> 1) + 1;
}

let scratch = new Float64Array(16);

/**
 * The largest index acknowledged by a majority of `voters`, where `acked(id)` gives each
 * voter's acknowledged index. An empty config commits everything (Infinity) so that it
 * never limits a joint combination; raft never runs with zero voters.
 */
export function committedIndex(voters: readonly NodeId[], acked: (id: NodeId) => number): number {
  const n = voters.length;
  if (n === 0) return Infinity;
  if (scratch.length < n) scratch = new Float64Array(n * 2);
  // insertion sort, descending: n is small (the voter count)
  for (let i = 0; i < n; i++) {
    const v = acked(voters[i]);
    let j = i;
    while (j > 0 && scratch[j - 1] < v) {
      scratch[j] = scratch[j - 1];
      j--;
    }
    scratch[j] = v;
  }
  return scratch[quorumSize(n) - 1];
}

/**
 * The result of a vote among `voters` given the votes received (true = granted). Missing
 * votes may still arrive, so the result is Pending until it is decided either way.
 */
export function voteResult(
  voters: readonly NodeId[],
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  const n = voters.length;
  if (n === 0) return VoteResult.Won;
  let yes = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) yes++;
  }
  const q = quorumSize(n);
  if (yes >= q) return VoteResult.Won;
  if (yes + missing >= q) return VoteResult.Pending;
  return VoteResult.Lost;
}
