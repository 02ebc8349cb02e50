/**
 * The leader's (and every node's) view of the configuration: who votes, who learns, and the
 * replication progress of each. Membership changes edit it (confchange.ts); the leader reads
 * it to commit, to count votes and to check that a quorum is alive.
 */
import type { ConfState, NodeId } from "../base/raftpb.ts";
import { Progress } from "./progress.ts";
import { committedIndex, VoteResult, voteResult } from "./quorum.ts";

/** Voters, learners and per-node progress. */
export class ProgressTracker {
  voters: NodeId[] = [];
  learners: NodeId[] = [];
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();
  readonly maxInflight: number;
  readonly maxInflightBytes: number;
  readonly #matchOf = (id: NodeId): number => {
    const pr = this.progress.get(id);
    return pr === undefined ? 0 : pr.match;
  };

  constructor(maxInflight: number, maxInflightBytes: number) {
    this.maxInflight = maxInflight;
    this.maxInflightBytes = maxInflightBytes;
  }

  /** The highest index replicated on a majority of voters. */
  committed(): number {
    return committedIndex(this.voters, this.#matchOf);
  }

  isVoter(id: NodeId): boolean {
    return this.voters.includes(id);
  }

  /** True for a configuration with one voter and no learners. */
  isSingleton(): boolean {
    return this.voters.length === 1 && this.learners.length === 0;
  }

  /** True if a majority of voters were active recently (`self` always counts). */
  quorumActive(self: NodeId): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const id of this.voters) {
      const pr = this.progress.get(id);
      votes.set(id, id === self || (pr !== undefined && pr.recentActive));
    }
    return voteResult(this.voters, votes) === VoteResult.Won;
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Records the first vote from id (later ones are ignored). */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  /** Granted and rejected counts among voters, and the result. */
  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: voteResult(this.voters, this.votes) };
  }

  /** The membership as a ConfState (what snapshots record). */
  confState(): ConfState {
    return {
      voters: this.voters.slice(),
      learners: this.learners.slice(),
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    };
  }

  /** Every node with progress, voters first, in configuration order. */
  ids(): NodeId[] {
    return this.voters.concat(this.learners);
  }
}
