/**
 * The synchronous face of raft for a driver: feed it ticks, messages and requests, then take
 * a `Ready` (what to persist, send, apply and answer) and acknowledge it with `advance`.
 * Every request that raft refuses throws a ProposalDroppedError naming the reason.
 */
import type { ConfState, Entry, HardState, NodeId, Snapshot } from "../base/raftpb.ts";
import { EntryType } from "../base/raftpb.ts";
import {
  type ConfChange,
  ConfChangeOutcome,
  ConfChangeType,
  encodeConfChange,
} from "./confchange.ts";
import { DropReason, ProposalDroppedError, RaftInvariantError } from "./errors.ts";
import {
  isLocalMessage,
  isResponseMessage,
  type Message,
  messageProblem,
  MessageType,
  newMessage,
} from "./messages.ts";
import { ProgressState } from "./progress.ts";
import { CampaignType, Raft, type RaftConfig, type ReadState, StateType } from "./raft.ts";

/** Volatile state the driver may want to observe (who leads, our role). */
export interface SoftState {
  lead: NodeId;
  raftState: StateType;
}

/**
 * One batch of work. The driver must, in order: persist `snapshot`, `entries` and
 * `hardState` (one sync when `mustSync`); then send `messages` (a leader may send some of them
 * before: node.ts `earlyMessages`); then apply `snapshot` and
 * `committedEntries`; then call advance(). `readStates` may be answered once the applied
 * index reaches each one's index.
 */
export interface Ready {
  softState: SoftState | null;
  hardState: HardState | null;
  readStates: ReadState[];
  entries: Entry[];
  snapshot: Snapshot | null;
  committedEntries: Entry[];
  messages: Message[];
  mustSync: boolean;
}

/** A follower's replication state as the leader sees it. */
export interface ProgressStatus {
  id: NodeId;
  match: number;
  next: number;
  state: ProgressState;
  learner: boolean;
  recentActive: boolean;
}

/** A snapshot of a node's state for status pages and tests. */
export interface Status {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  lead: NodeId;
  raftState: StateType;
  leadTransferee: NodeId;
  /** Only on the leader. */
  progress: ProgressStatus[];
}

/** Raft plus Ready bookkeeping. Not thread-safe; one driver owns it. */
export class RawNode {
  readonly raft: Raft;
  #prevSoft: SoftState;
  #prevHard: HardState;
  #outstanding: Ready | null = null;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.#prevSoft = this.#softState();
    this.#prevHard = this.raft.hardState();
  }

  #softState(): SoftState {
    return { lead: this.raft.lead, raftState: this.raft.state };
  }

  /** Advances the logical clock by one tick. */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (PreVote first when enabled). */
  campaign(): void {
    this.raft.step(newMessage({ type: MessageType.Hup, from: this.raft.id }));
  }

  /** Proposes one application command. Throws ProposalDroppedError if refused. */
  propose(data: Uint8Array): void {
    this.#stepLocal(newMessage({
      type: MessageType.Prop,
      from: this.raft.id,
      entries: [{ term: 0, index: 0, type: EntryType.Normal, data }],
    }));
  }

  /** Proposes several commands as one message (one replication round for the batch). */
  proposeBatch(datas: readonly Uint8Array[]): void {
    if (datas.length === 0) return;
    const entries: Entry[] = new Array(datas.length);
    for (let i = 0; i < datas.length; i++) {
      entries[i] = { term: 0, index: 0, type: EntryType.Normal, data: datas[i] };
    }
    this.#stepLocal(newMessage({ type: MessageType.Prop, from: this.raft.id, entries }));
  }

  /** Proposes a membership change; one may be in flight at a time. */
  proposeConfChange(cc: ConfChange): void {
    if (!(cc.type in ConfChangeType)) {
      throw new ProposalDroppedError(DropReason.InvalidConfChange, `type ${cc.type}`);
    }
    this.#stepLocal(newMessage({
      type: MessageType.Prop,
      from: this.raft.id,
      entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) }],
    }));
  }

  /**
   * Applies a committed conf change entry's change (call it when applying that entry, in
   * log order). Returns the outcome and the configuration afterwards.
   */
  applyConfChange(cc: ConfChange): { outcome: ConfChangeOutcome; confState: ConfState } {
    const outcome = this.raft.applyConfChange(cc);
    return { outcome, confState: this.raft.trk.confState() };
  }

  /** The current membership (as of the applied index). */
  confState(): ConfState {
    return this.raft.trk.confState();
  }

  /**
   * Requests a linearizable read. When confirmed, a ReadState with this context appears in a
   * Ready; serve the read once applied >= its index. Concurrent requests share one round.
   */
  readIndex(context: Uint8Array): void {
    this.#stepLocal(newMessage({ type: MessageType.ReadIndex, from: this.raft.id, context }));
  }

  /** Asks the leader to hand leadership to `transferee` (forwarded if we are a follower). */
  transferLeader(transferee: NodeId): void {
    this.#stepLocal(newMessage({ type: MessageType.TransferLeader, from: transferee }));
  }

  /** The transport could not reach `id`: stop pipelining to it until it answers. */
  reportUnreachable(id: NodeId): void {
    this.raft.step(newMessage({ type: MessageType.Unreachable, from: id }));
  }

  /** The transport finished sending a snapshot to `id` (ok = delivered). */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(newMessage({ type: MessageType.SnapStatus, from: id, reject: !ok }));
  }

  #stepLocal(m: Message): void {
    const dropped = this.raft.step(m);
    if (dropped !== null) throw new ProposalDroppedError(dropped);
  }

  /**
   * Steps a message received from a peer. Malformed messages (RangeError) and local-only
   * message types (RaftInvariantError) are refused before raft sees them; responses from
   * nodes not in the configuration are ignored (returns false).
   */
  step(m: Message): boolean {
    const problem = messageProblem(m);
    if (problem !== null) {
      throw new RangeError(`raft: malformed message from ${m.from}: ${problem}`);
    }
    if (isLocalMessage(m.type)) {
      throw new RaftInvariantError(`a peer may not send ${MessageType[m.type]}`);
    }
    if (isResponseMessage(m.type) && !this.raft.trk.progress.has(m.from)) return false;
    this.raft.step(m);
    return true;
  }

  /** True when ready() has something to do. */
  hasReady(): boolean {
    const r = this.raft;
    if (r.readHeartbeatPending) return true;
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    if (r.raftLog.unstable.entries.length > 0 || r.raftLog.unstable.snapshot !== null) {
      return true;
    }
    if (r.raftLog.hasNextEntries()) return true;
    const hs = this.#prevHard;
    if (hs.term !== r.term || hs.vote !== r.vote || hs.commit !== r.raftLog.committed) {
      return true;
    }
    const ss = this.#prevSoft;
    return ss.lead !== r.lead || ss.raftState !== r.state;
  }

  /** Takes the next batch. advance() must be called before the next ready(). */
  ready(): Ready {
    if (this.#outstanding !== null) {
      throw new RaftInvariantError("ready() called again before advance()");
    }
    const r = this.raft;
    r.flushReadIndex();
    const log = r.raftLog;
    let softState: SoftState | null = null;
    if (this.#prevSoft.lead !== r.lead || this.#prevSoft.raftState !== r.state) {
      softState = this.#softState();
      this.#prevSoft = softState;
    }
    let hardState: HardState | null = null;
    const ph = this.#prevHard;
    let mustSync = false;
    if (ph.term !== r.term || ph.vote !== r.vote || ph.commit !== log.committed) {
      hardState = r.hardState();
      mustSync = ph.term !== r.term || ph.vote !== r.vote;
      this.#prevHard = hardState;
    }
    const entries = log.unstableEntries();
    if (entries.length > 0) mustSync = true;
    const snapshot = log.unstable.snapshot;
    if (snapshot !== null) mustSync = true;
    const rd: Ready = {
      softState,
      hardState,
      readStates: r.readStates,
      entries,
      snapshot,
      committedEntries: log.nextEntries(),
      messages: r.msgs,
      mustSync,
    };
    r.msgs = [];
    r.readStates = [];
    this.#outstanding = rd;
    return rd;
  }

  /** Acknowledges that the last Ready was persisted, sent and applied. */
  advance(): void {
    const rd = this.#outstanding;
    if (rd === null) throw new RaftInvariantError("advance() without a ready()");
    this.#outstanding = null;
    const log = this.raft.raftLog;
    if (rd.snapshot !== null) {
      log.stableSnapTo(rd.snapshot.metadata.index);
      if (rd.snapshot.metadata.index > log.applied) log.appliedTo(rd.snapshot.metadata.index);
    }
    if (rd.entries.length > 0) {
      const e = rd.entries[rd.entries.length - 1];
      log.stableTo(e.index, e.term);
    }
    if (rd.committedEntries.length > 0) {
      const last = rd.committedEntries[rd.committedEntries.length - 1].index;
      if (last > log.applied) log.appliedTo(last);
      if (this.raft.state === StateType.Leader) {
        this.raft.reduceUncommittedSize(rd.committedEntries);
      }
    }
  }

  /** The node's state (with replication progress when leader). */
  status(): Status {
    const r = this.raft;
    const progress: ProgressStatus[] = [];
    if (r.state === StateType.Leader) {
      for (const [id, pr] of r.trk.progress) {
        progress.push({
          id,
          match: pr.match,
          next: pr.next,
          state: pr.state,
          learner: pr.isLearner,
          recentActive: pr.recentActive,
        });
      }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.raftLog.committed,
      applied: r.raftLog.applied,
      lead: r.lead,
      raftState: r.state,
      leadTransferee: r.leadTransferee,
      progress,
    };
  }
}

export { CampaignType, StateType };
