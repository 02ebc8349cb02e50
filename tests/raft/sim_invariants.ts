/**
 * The invariants of the raft simulator (sim.ts), checked as things happen and after every
 * step: election safety (one leader per term), log matching (checked inductively as entries
 * are persisted), leader completeness, state machine safety (one state hash per applied
 * index), commit safety (one term per committed index, cluster-wide) and linearizable reads
 * (a ReadIndex answer is >= every index committed before it was asked).
 */
import type { Entry, NodeId } from "../../lib/base/raftpb.ts";
import { StateType } from "../../lib/raft/raft.ts";
import { mixEntry, type SimNode } from "./cluster.ts";
import type { SimStats } from "./sim.ts";

/** What the invariants read of their simulation. */
export interface InvariantsHost {
  nodes: Map<NodeId, SimNode>;
  stats: SimStats;
  /** Ends the run with a broken invariant. */
  fail(msg: string): never;
  log(line: string): void;
}

/** The invariants' state over one run. */
export class SimInvariants {
  readonly #h: InvariantsHost;
  #leaderOfTerm = new Map<number, NodeId>();
  #entryAt = new Map<string, { hash: number; prevTerm: number }>();
  #committedTerm: number[] = [];
  /** An upper bound of the term in which each index was committed (first observer's term). */
  #commitSeenTerm: number[] = [];
  /** The highest index any node has committed. */
  globalCommitted = 1;
  #appliedHash = new Map<number, number>();
  #checkedTo = new Map<SimNode, number>();
  #readMin = new Map<string, number>();
  #leaderSeen = new Set<string>();

  constructor(host: InvariantsHost) {
    this.#h = host;
    this.#committedTerm[1] = 1;
  }

  /** The term committed at `index`, as first observed (undefined before). */
  committedTerm(index: number): number | undefined {
    return this.#committedTerm[index];
  }

  /** A ReadIndex request with context `ctx` is asked: its answer must be >= what is committed. */
  readAsked(ctx: Uint8Array): void {
    this.#readMin.set(String.fromCharCode(...ctx), this.globalCommitted);
  }

  /** A node restarted: its committed indexes are checked again. */
  restarted(n: SimNode): void {
    this.#checkedTo.delete(n);
  }

  /** Log matching, checked inductively as entries are persisted. */
  checkPersist(node: SimNode, ents: readonly Entry[]): void {
    for (const e of ents) {
      let prevTerm = -1;
      try {
        prevTerm = node.storage.term(e.index - 1);
      } catch {
        prevTerm = -1; // compacted: covered by the snapshot, which was checked when applied
      }
      const key = `${e.index},${e.term}`;
      const h = mixEntry(0, e);
      const seen = this.#entryAt.get(key);
      if (seen === undefined) {
        this.#entryAt.set(key, { hash: h, prevTerm });
        continue;
      }
      if (seen.hash !== h) {
        this.#h.fail(`log matching: node ${node.id} has a different entry at (${key})`);
      }
      if (prevTerm !== -1 && seen.prevTerm !== -1 && seen.prevTerm !== prevTerm) {
        this.#h.fail(
          `log matching: node ${node.id} entry (${key}) follows term ${prevTerm}, ` +
            `another log has ${seen.prevTerm}`,
        );
      }
      if (seen.prevTerm === -1 && prevTerm !== -1) seen.prevTerm = prevTerm;
    }
  }

  /** State machine safety: one state per applied index. */
  checkApply(node: SimNode, index: number, hash: number): void {
    const seen = this.#appliedHash.get(index);
    if (seen === undefined) this.#appliedHash.set(index, hash);
    else if (seen !== hash) {
      this.#h.fail(`state machine safety: node ${node.id} applied a different state at ${index}`);
    }
  }

  /** A ReadIndex answer is >= every index committed before it was asked. */
  checkRead(node: SimNode, index: number, ctx: Uint8Array): void {
    const key = String.fromCharCode(...ctx);
    const min = this.#readMin.get(key);
    if (min === undefined) this.#h.fail(`node ${node.id} got a read state for an unknown request`);
    if (index < min) {
      this.#h.fail(`stale read: node ${node.id} answered at ${index}, but ${min} was committed`);
    }
    let committed = this.globalCommitted;
    for (const n of this.#h.nodes.values()) {
      committed = Math.max(committed, n.raw.raft.raftLog.committed);
    }
    if (index > committed) {
      this.#h.fail(`read index ${index} is beyond anything committed (${committed})`);
    }
    // a duplicated ReadIndexResp may answer twice; each answer must be fresh
    this.#h.stats.readsServed++;
  }

  /** Records commit progress and checks the per-step invariants. */
  checkStep(): void {
    for (const n of this.#h.nodes.values()) {
      if (!n.up) continue;
      const r = n.raw.raft;
      const log = r.raftLog;
      // commit safety: every committed index has one term, cluster-wide (each node's newly
      // committed indexes are checked once; a restart checks them again)
      const from = Math.max(log.firstIndex(), 2, (this.#checkedTo.get(n) ?? 0) + 1);
      for (let i = from; i <= log.committed; i++) {
        const t = log.term(i);
        if (t === -1) this.#h.fail(`node ${n.id} committed ${i} but has no term for it`);
        const want = this.#committedTerm[i];
        if (want === undefined) {
          this.#committedTerm[i] = t;
          // the term in which it was committed is at most the observer's current term
          this.#commitSeenTerm[i] = r.term;
        } else if (want !== t) {
          this.#h.fail(`commit safety: node ${n.id} committed term ${t} at ${i}, another ${want}`);
        }
      }
      if (log.committed >= from) this.#checkedTo.set(n, log.committed);
      if (log.committed > this.globalCommitted) {
        this.#h.stats.committed += log.committed - this.globalCommitted;
        this.globalCommitted = log.committed;
      }
      if (r.state === StateType.Leader) {
        const owner = this.#leaderOfTerm.get(r.term);
        if (owner === undefined) {
          this.#leaderOfTerm.set(r.term, n.id);
          this.#h.stats.elections++;
          this.#h.log(`node ${n.id} leads term ${r.term}`);
        } else if (owner !== n.id) {
          this.#h.fail(`election safety: ${owner} and ${n.id} both lead term ${r.term}`);
        }
        const key = `${n.id}@${r.term}`;
        if (!this.#leaderSeen.has(key)) {
          this.#leaderSeen.add(key);
          this.#checkLeaderCompleteness(n);
        }
      }
    }
  }

  #checkLeaderCompleteness(n: SimNode): void {
    const log = n.raw.raft.raftLog;
    const first = log.firstIndex();
    if (first - 1 > this.globalCommitted) return;
    const term = n.raw.raft.term;
    for (let i = Math.max(first, 2); i <= this.globalCommitted; i++) {
      const want = this.#committedTerm[i];
      // Raft §5.4: an entry committed in term T is in the log of every leader of a term > T.
      // (A stale leader of an older term, elected in a partition, need not have it.)
      if (want === undefined || !(this.#commitSeenTerm[i] < term)) continue;
      const have = log.term(i);
      if (have !== want) {
        this.#h.fail(
          `leader completeness: leader ${n.id} of term ${n.raw.raft.term} has term ${have} at ` +
            `committed index ${i} (committed term ${want})`,
        );
      }
    }
  }
}
