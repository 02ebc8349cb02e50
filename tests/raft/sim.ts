/**
 * A deterministic adversarial simulator for raft: 3 or 5 nodes (plus nodes that join and
 * leave), a network that drops, duplicates, delays and reorders messages, partitions that
 * come and go, and nodes that crash and restart from their durable state (what was not
 * persisted is lost). Everything derives from one seed, so a failure replays exactly.
 *
 * Invariants, checked as things happen and after every step (sim_invariants.ts):
 * - election safety: at most one leader per term;
 * - log matching: two logs with an entry of the same index and term are identical up to it
 *   (checked inductively when entries are persisted);
 * - leader completeness: a new leader holds every entry committed before its term;
 * - state machine safety: no two nodes apply different entries at one index (state hash);
 * - commit safety: no two nodes ever commit different terms at one index;
 * - linearizable reads: a ReadIndex answer is >= every index committed before it was asked.
 * Liveness: once the network heals and every node is up, a leader is elected within a
 * bounded number of ticks and a proposal commits everywhere.
 */
import type { NodeId } from "../../lib/base/raftpb.ts";
import { Rand } from "../../lib/base/rand.ts";
import { decodeMessage, encodeMessage } from "../../lib/raft/codec.ts";
import { ConfChangeType } from "../../lib/raft/confchange.ts";
import { ProposalDroppedError } from "../../lib/raft/errors.ts";
import { describeMessage, type Message } from "../../lib/raft/messages.ts";
import { StateType } from "../../lib/raft/raft.ts";
import { bootstrapStorage, joinerStorage, type NodeOptions, SimNode } from "./cluster.ts";
import { SimInvariants } from "./sim_invariants.ts";

/** The knobs of one simulation run. */
export interface SimConfig {
  seed: number;
  /** Initial voters: 3 or 5. */
  voters: number;
  /** Ticks of chaos before the network heals. */
  chaosTicks: number;
  /** Bound on ticks to elect a leader once healed. */
  electionBound: number;
  /** Exercise membership changes (joiners, learners, promotion, removal). */
  membership: boolean;
  /** Keep a trace of recent events for the failure report. */
  trace: boolean;
}

/** A broken invariant, with the seed to replay it. */
export class SimFailure extends Error {
  constructor(readonly seed: number, message: string, readonly traceTail: string[]) {
    super(`seed=${seed}: ${message}` + (traceTail.length ? `\n${traceTail.join("\n")}` : ""));
    this.name = "SimFailure";
  }
}

/** Counters a run reports (to see that the faults actually happened). */
export interface SimStats {
  ticks: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  crashes: number;
  partitions: number;
  elections: number;
  committed: number;
  reads: number;
  readsServed: number;
  snapshotsSent: number;
  confChanges: number;
  transfers: number;
}

/** Stats of a run that has done nothing yet. */
export function noStats(): SimStats {
  return {
    ticks: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    crashes: 0,
    partitions: 0,
    elections: 0,
    committed: 0,
    reads: 0,
    readsServed: 0,
    snapshotsSent: 0,
    confChanges: 0,
    transfers: 0,
  };
}

interface InFlight {
  at: number;
  m: Message;
}

/** Derives a run's config from a seed (fault rates and sizes vary by seed too). */
export function configForSeed(seed: number, overrides: Partial<SimConfig> = {}): SimConfig {
  const r = new Rand(seed ^ 0x5eed);
  return {
    seed,
    voters: r.chance(0.5) ? 3 : 5,
    chaosTicks: 100 + r.int(100),
    electionBound: 200,
    membership: r.chance(0.4),
    trace: false,
    ...overrides,
  };
}

/** One simulation: construct, run(), inspect stats. Throws SimFailure on a violation. */
export class Sim {
  readonly cfg: SimConfig;
  readonly rand: Rand;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly options: NodeOptions;
  now = 0;
  #inflight: InFlight[] = [];
  /** node -> partition group; messages cross only within a group. */
  #group = new Map<NodeId, number>();
  #dropRate = 0;
  #dupRate = 0;
  #maxDelay = 1;
  #asyncRate = 0;
  #wire = false;
  /** The invariants, checked as things happen and after every step. */
  readonly #inv: SimInvariants;
  #readSeq = 0;
  #proposalSeq = 0;
  #nextNodeId = 0;
  #trace: string[] = [];
  readonly stats: SimStats = noStats();

  constructor(cfg: SimConfig) {
    this.cfg = cfg;
    this.rand = new Rand(cfg.seed);
    this.#inv = new SimInvariants({
      nodes: this.nodes,
      stats: this.stats,
      fail: (msg) => this.fail(msg),
      log: (line) => this.#log(line),
    });
    const r = this.rand;
    this.options = {
      electionTick: 10,
      heartbeatTick: 1,
      // mostly the production setting; sometimes without, to exercise those paths too
      preVote: r.chance(0.8),
      checkQuorum: r.chance(0.8),
      maxSizePerMsg: r.pick([64, 512, 1 << 20]),
      maxInflightMsgs: r.pick([1, 4, 256]),
    };
    this.#asyncRate = r.pick([0, 0.3, 0.7]);
    this.#wire = r.chance(0.2);
    const voters: NodeId[] = [];
    for (let i = 1; i <= cfg.voters; i++) voters.push(BigInt(i));
    this.#nextNodeId = cfg.voters + 1;
    for (const id of voters) this.#addNode(id, bootstrapStorage(voters, []));
  }

  #addNode(id: NodeId, storage: ReturnType<typeof joinerStorage>): SimNode {
    const n = new SimNode(id, storage, this.options, this.cfg.seed * 7 + Number(id));
    n.observer = {
      onPersist: (node, ents) => this.#inv.checkPersist(node, ents),
      onApply: (node, index, hash) => this.#inv.checkApply(node, index, hash),
      onReadState: (node, rs) => this.#inv.checkRead(node, rs.index, rs.context),
    };
    this.nodes.set(id, n);
    this.#group.set(id, 0);
    return n;
  }

  #log(s: string): void {
    if (!this.cfg.trace) return;
    this.#trace.push(`[t=${this.now}] ${s}`);
    if (this.#trace.length > 400) this.#trace.splice(0, 100);
  }

  fail(msg: string): never {
    throw new SimFailure(this.cfg.seed, msg, this.#trace.slice(-120));
  }

  // ---- network ----

  #sendAll(msgs: Message[]): void {
    for (const m of msgs) {
      if (m.snapshot !== null) this.stats.snapshotsSent++;
      this.#enqueue(m);
      if (this.#dupRate > 0 && this.rand.chance(this.#dupRate)) {
        this.stats.duplicated++;
        this.#enqueue(m);
      }
    }
  }

  #enqueue(m: Message): void {
    const delay = this.#maxDelay <= 0 ? 0 : this.rand.int(this.#maxDelay + 1);
    this.#inflight.push({ at: this.now + delay, m });
  }

  #deliverDue(): void {
    let rounds = 0;
    while (true) {
      const due: InFlight[] = [];
      const rest: InFlight[] = [];
      for (const f of this.#inflight) (f.at <= this.now ? due : rest).push(f);
      if (due.length === 0) return;
      if (++rounds > 10_000) this.fail("network did not quiesce within a tick");
      this.#inflight = rest;
      this.rand.shuffle(due);
      for (const f of due) this.#deliver(f.m);
    }
  }

  #deliver(m: Message): void {
    const to = this.nodes.get(m.to);
    const lost = to === undefined || !to.up ||
      this.#group.get(m.from) !== this.#group.get(m.to) ||
      (this.#dropRate > 0 && this.rand.chance(this.#dropRate));
    if (m.snapshot !== null) {
      // the transport tells the sender how a snapshot transfer ended
      const from = this.nodes.get(m.from);
      if (from !== undefined && from.up) {
        from.raw.reportSnapshot(m.to, !lost);
        this.#sendAll(from.handleReady());
      }
    }
    if (lost) {
      this.stats.dropped++;
      // a transport notices some failures (connection refused) and says so
      const from = this.nodes.get(m.from);
      if (from !== undefined && from.up && this.rand.chance(0.2)) {
        from.raw.reportUnreachable(m.to);
        this.#sendAll(from.handleReady());
      }
      return;
    }
    this.stats.delivered++;
    if (this.cfg.trace) this.#log(`deliver ${describeMessage(m)}`);
    // some runs send every message through the wire encoding (fresh objects, as on a network)
    to.raw.step(this.#wire ? decodeMessage(encodeMessage(m)) : m);
    // sometimes leave the batch pending, as while an fsync is in flight: raft keeps stepping
    this.#sendAll(to.handleReady(this.#asyncRate > 0 && this.rand.chance(this.#asyncRate)));
    this.#inv.checkStep();
  }

  // ---- faults and workload ----

  #partition(): void {
    const ids = [...this.nodes.keys()];
    this.stats.partitions++;
    const kind = this.rand.int(4);
    const leader = this.#currentLeader();
    if (kind === 0) {
      for (const id of ids) this.#group.set(id, this.rand.int(2));
    } else if (kind === 1) {
      const lone = this.rand.pick(ids);
      for (const id of ids) this.#group.set(id, id === lone ? 1 : 0);
    } else if (kind === 2 || leader === null) {
      for (const id of ids) this.#group.set(id, this.rand.int(3));
    } else {
      // the most telling fault: the leader (with at most a minority) cut off from the rest,
      // often right after it accepted proposals it could not commit
      const minority = new Set([leader.id]);
      const others = this.rand.shuffle(ids.filter((id) => id !== leader.id));
      const extra = this.rand.int(Math.max(1, Math.floor((ids.length - 1) / 2)));
      for (let i = 0; i < extra; i++) minority.add(others[i]);
      for (const id of ids) this.#group.set(id, minority.has(id) ? 1 : 0);
      if (this.rand.chance(0.5)) this.#propose(leader, 1 + this.rand.int(3));
    }
    this.#log(`partition ${ids.map((id) => `${id}:${this.#group.get(id)}`).join(" ")}`);
  }

  #heal(): void {
    for (const id of this.nodes.keys()) this.#group.set(id, 0);
    this.#log("heal");
  }

  #liveNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up);
  }

  #propose(n: SimNode, count: number): void {
    const datas: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const d = new Uint8Array(8 + this.rand.int(24));
      const v = new DataView(d.buffer);
      v.setUint32(0, this.cfg.seed);
      v.setUint32(4, ++this.#proposalSeq);
      datas.push(d);
    }
    try {
      n.raw.proposeBatch(datas);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
  }

  #readIndex(n: SimNode): void {
    const ctx = new Uint8Array(4);
    new DataView(ctx.buffer).setUint32(0, ++this.#readSeq);
    this.#inv.readAsked(ctx);
    this.stats.reads++;
    try {
      n.raw.readIndex(ctx);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
  }

  #membershipChange(leader: SimNode): void {
    const r = leader.raw.raft;
    const voters = r.trk.voters;
    const learners = r.trk.learners;
    const choice = this.rand.int(4);
    let type: ConfChangeType;
    let id: NodeId;
    if (choice === 0 && this.nodes.size < 7) {
      // a new node joins as a learner with an empty log
      id = BigInt(this.#nextNodeId++);
      this.#addNode(id, joinerStorage());
      type = ConfChangeType.AddLearnerNode;
    } else if (choice === 1 && learners.length > 0) {
      id = this.rand.pick(learners);
      type = ConfChangeType.AddNode; // promote
    } else if (choice === 2 && voters.length > 3) {
      id = this.rand.pick(voters);
      type = ConfChangeType.RemoveNode;
    } else if (choice === 3 && learners.length > 0) {
      id = this.rand.pick(learners);
      type = ConfChangeType.RemoveNode;
    } else {
      return;
    }
    try {
      leader.raw.proposeConfChange({ type, nodeId: id, context: new Uint8Array(0) });
      this.stats.confChanges++;
      this.#log(`propose conf change ${ConfChangeType[type]} ${id}`);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
  }

  #currentLeader(): SimNode | null {
    let best: SimNode | null = null;
    for (const n of this.nodes.values()) {
      if (!n.up || n.raw.raft.state !== StateType.Leader) continue;
      if (best === null || n.raw.raft.term > best.raw.raft.term) best = n;
    }
    return best;
  }

  #tick(chaos: boolean): void {
    this.now++;
    this.stats.ticks++;
    const r = this.rand;
    if (chaos) {
      if (r.chance(0.02)) this.#partition();
      if (r.chance(0.03)) this.#heal();
      if (r.chance(0.02)) {
        this.#dropRate = r.pick([0, 0, 0.05, 0.2]);
        this.#dupRate = r.pick([0, 0.05, 0.1]);
        this.#maxDelay = r.pick([0, 1, 2, 5]);
      }
      if (r.chance(0.015)) {
        const live = this.#liveNodes();
        if (live.length > 0) {
          // leaders crash more often than their share: it is where the interesting cases are
          const leader = this.#currentLeader();
          const victim = leader !== null && r.chance(0.4) ? leader : r.pick(live);
          victim.crash();
          this.stats.crashes++;
          this.#log(`crash ${victim.id}`);
        }
      }
      for (const n of this.nodes.values()) {
        if (!n.up && r.chance(0.05)) {
          n.restart();
          this.#inv.restarted(n);
          this.#log(`restart ${n.id}`);
        }
      }
    }
    const live = this.#liveNodes();
    if (live.length > 0) {
      // (no background writes once healed: with 1-entry messages and a 1-message window the
      // cluster commits less than that load, and liveness is not about saturation)
      if (chaos && r.chance(0.3)) this.#propose(r.pick(live), 1 + r.int(4));
      if (r.chance(0.15)) this.#readIndex(r.pick(live));
      if (r.chance(0.01)) {
        const n = r.pick(live);
        if (n.compact()) this.#log(`compact ${n.id} at ${n.appliedIndex}`);
      }
      if (chaos && r.chance(0.01)) {
        const leader = this.#currentLeader();
        if (leader !== null) {
          const target = r.pick([...leader.raw.raft.trk.voters]);
          this.stats.transfers++;
          this.#log(`transfer leadership ${leader.id} -> ${target}`);
          try {
            leader.raw.transferLeader(target);
          } catch (err) {
            if (!(err instanceof ProposalDroppedError)) throw err;
          }
        }
      }
      if (chaos && this.cfg.membership && r.chance(0.02)) {
        const leader = this.#currentLeader();
        if (leader !== null) this.#membershipChange(leader);
      }
    }
    for (const n of this.nodes.values()) {
      if (!n.up) continue;
      // clocks drift: a node occasionally misses a tick
      if (chaos && r.chance(0.05)) continue;
      n.raw.tick();
    }
    for (const n of this.nodes.values()) if (n.up) this.#sendAll(n.handleReady());
    this.#inv.checkStep();
    this.#deliverDue();
  }

  /** Runs chaos, then heals everything and checks liveness. Returns the stats. */
  run(): SimStats {
    try {
      return this.#run();
    } catch (err) {
      if (err instanceof SimFailure) throw err;
      const e = err instanceof Error ? err : new Error(String(err));
      throw new SimFailure(
        this.cfg.seed,
        `unexpected error: ${e.stack ?? e.message}`,
        this.#trace.slice(-120),
      );
    }
  }

  #run(): SimStats {
    for (let t = 0; t < this.cfg.chaosTicks; t++) this.#tick(true);
    // heal: no partitions, no loss, every node up
    this.#heal();
    this.#dropRate = 0;
    this.#dupRate = 0;
    this.#maxDelay = 1;
    for (const n of this.nodes.values()) {
      if (!n.up) {
        n.restart();
        this.#inv.restarted(n);
      }
    }
    this.#log("healed; checking liveness");
    const members = () => {
      // nodes in the latest configuration (the leader's view, else everyone)
      const l = this.#currentLeader();
      return l === null
        ? [...this.nodes.values()]
        : l.raw.raft.trk.ids().map((id) => this.nodes.get(id)!);
    };
    let stable: SimNode | null = null;
    for (let t = 0; t < this.cfg.electionBound; t++) {
      this.#tick(false);
      const l = this.#currentLeader();
      if (
        l !== null &&
        members().every((n) => n.raw.raft.lead === l.id && n.raw.raft.term === l.raw.raft.term)
      ) {
        stable = l;
        break;
      }
    }
    if (stable === null) {
      this.fail(`liveness: no stable leader within ${this.cfg.electionBound} ticks of healing`);
    }
    // a proposal made now must be applied by every member (re-proposed if it is refused,
    // e.g. during a leadership transfer, or lost with a leader that stepped down)
    const mark = new Uint8Array(8);
    new DataView(mark.buffer).setUint32(0, 0xffee0000 | (this.cfg.seed & 0xffff));
    let pending: { index: number; term: number } | null = null;
    // The marker must commit and every member must apply it. Commit and apply may have a
    // backlog to work through first (entries accepted during the chaos, a far-behind member
    // fed 1-entry messages through a 1-message window while the network reorders), so what is
    // bounded is the time without progress, plus an overall cap.
    const describe = () =>
      members().map((n) => `${n.id}:applied=${n.appliedIndex}`).join(" ") + " progress: " +
      (this.#currentLeader()?.raw.status().progress.map((p) =>
        `${p.id}:${p.state}/${p.match}/${p.next}`
      ).join(" ") ?? "no leader");
    const STALL = this.cfg.electionBound; // e.g. a removed leader's successor must be elected
    let committedAt = -1;
    let signature = "";
    let stalled = 0;
    for (let t = 0;; t++) {
      if (t >= 5000) {
        this.fail(`liveness: marker not applied everywhere in 5000 ticks (${describe()})`);
      }
      const l = this.#currentLeader();
      if (pending === null && l !== null) {
        try {
          l.raw.propose(mark);
          pending = { index: l.raw.raft.raftLog.lastIndex(), term: l.raw.raft.term };
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err;
        }
      }
      this.#tick(false);
      if (pending !== null && committedAt === -1) {
        const now = this.#currentLeader();
        const committed = this.#inv.committedTerm(pending.index);
        if (committed !== undefined && committed === pending.term) {
          committedAt = pending.index;
        } else if (
          (committed !== undefined) ||
          (now !== null && now.raw.raft.term !== pending.term &&
            now.raw.raft.raftLog.term(pending.index) !== pending.term)
        ) {
          pending = null; // lost with its leader (or overwritten): propose it again
        }
      }
      const applied = members().map((n) => n.appliedIndex);
      if (committedAt !== -1 && Math.min(...applied) >= committedAt) break;
      // progress: the commit index, a member's applied index, or replication (the leader's
      // view of what its followers hold) moved
      const matches = this.#currentLeader()?.raw.status().progress.map((p) => p.match).join(",");
      const sig = `${this.#inv.globalCommitted}|${applied.join(",")}|${pending?.index}|${matches}`;
      if (sig !== signature) {
        signature = sig;
        stalled = 0;
      } else if (++stalled > STALL) {
        this.fail(
          `liveness: no progress for ${STALL} ticks with the marker ${JSON.stringify(pending)} ` +
            `${committedAt === -1 ? "uncommitted" : "committed"} (${describe()})`,
        );
      }
    }
    // everyone that applied `target` holds the same state there
    return this.stats;
  }
}

/** Runs one seed; throws SimFailure on a violated invariant. */
export function runSeed(seed: number, overrides: Partial<SimConfig> = {}): SimStats {
  return new Sim(configForSeed(seed, overrides)).run();
}
