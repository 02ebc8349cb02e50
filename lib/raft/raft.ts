/**
 * The raft consensus state machine (Ongaro & Ousterhout, and the Raft thesis), as a pure
 * function of the messages and ticks it is given: no I/O, no clock, randomness only from
 * the seeded `Rand` in its config. Outputs accumulate in `msgs`, `readStates` and the log's
 * unstable tail; RawNode packages them into a Ready for the driver.
 *
 * Roles: follower, pre-candidate (PreVote, thesis §9.6), candidate, leader. CheckQuorum
 * (§6.2) makes a leader that lost its quorum step down and lets followers that hear from a
 * live leader ignore disruptive vote requests.
 *
 * This file holds the node's state, its role changes, log replication and the dispatch of
 * each message; functions over the same state, each in a file of its own: elections
 * (election.ts), membership changes (membership.ts), leader transfer (leader_transfer.ts) and
 * ReadIndex (read_index.ts). Their helpers on this class (send, sendHeartbeat, …) are public
 * for them; the driver uses RawNode.
 */
import {
  type Entry,
  EntryType,
  type HardState,
  type NodeId,
  type Snapshot,
} from "../base/raftpb.ts";
import type { Rand } from "../base/rand.ts";
import type { ConfChange, ConfChangeOutcome } from "./confchange.ts";
import {
  CompactedError,
  DropReason,
  RaftInvariantError,
  SnapshotTemporarilyUnavailableError,
} from "./errors.ts";
import { answerVoteRequest, campaign, countVote, hup, ignoresVoteRequest } from "./election.ts";
import { maybeFinishTransfer, startLeaderTransfer } from "./leader_transfer.ts";
import { RaftLog } from "./log.ts";
import {
  applyCommittedConfChange,
  assertNotJoint,
  proposedConfChangeAt,
  trackerFor,
} from "./membership.ts";
import { type Message, MessageType, newMessage } from "./messages.ts";
import { Progress, ProgressState } from "./progress.ts";
import {
  ackReadIndex,
  flushReadIndex,
  leaderReadIndex,
  releasePendingReadIndexMessages,
} from "./read_index.ts";
import { ReadOnly } from "./read_only.ts";
import { CampaignType, StateType } from "./role.ts";
import { payloadSize, type Storage } from "./storage.ts";
import type { ProgressTracker } from "./tracker.ts";

export { CampaignType, StateType };

/** How a node is configured. Sizes are in bytes (see storage.ts entrySize). */
export interface RaftConfig {
  /** This node's id (non-zero). */
  id: NodeId;
  /** The durable log; also gives the initial HardState and membership. */
  storage: Storage;
  /** The seeded source of the randomized election timeout. */
  rand: Rand;
  /** Ticks without hearing from a leader before a follower campaigns (randomized in [e, 2e)). */
  electionTick: number;
  /** Ticks between leader heartbeats; must be less than electionTick. */
  heartbeatTick: number;
  /** The last applied index when restarting (entries after it are handed out again). */
  applied?: number;
  /** The most entry bytes in one append message (at least one entry is always sent). */
  maxSizePerMsg?: number;
  /** The most committed-entry bytes handed out by one Ready. */
  maxCommittedSizePerReady?: number;
  /** The most uncommitted payload bytes a leader accepts; 0 means no limit. */
  maxUncommittedEntriesSize?: number;
  /** The most append messages in flight to one follower. */
  maxInflightMsgs?: number;
  /** The most bytes in flight to one follower; 0 means no limit. */
  maxInflightBytes?: number;
  /** Leader steps down without a live quorum; followers ignore disruptive votes. */
  checkQuorum?: boolean;
  /** Pre-elections: do not bump terms unless an election could be won. */
  preVote?: boolean;
  /** Refuse proposals on followers instead of forwarding them to the leader. */
  disableProposalForwarding?: boolean;
}

/** A served linearizable read: once applied >= index, read; `context` is the request's. */
export interface ReadState {
  index: number;
  context: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** The state machine. Drive it through RawNode; tests may poke it directly. */
export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = 0n;
  readStates: ReadState[] = [];
  readonly raftLog: RaftLog;
  readonly maxMsgSize: number;
  readonly maxUncommittedSize: number;
  trk: ProgressTracker;
  state: StateType = StateType.Follower;
  isLearner = false;
  msgs: Message[] = [];
  lead: NodeId = 0n;
  /** The node leadership is being handed to, or 0n. */
  leadTransferee: NodeId = 0n;
  /** Index of the latest conf change in the log; a new one waits until it is applied. */
  pendingConfIndex = 0;
  uncommittedSize = 0;
  readOnly = new ReadOnly();
  /** ReadIndex requests that arrived before this leader committed in its term. */
  pendingReadIndexMessages: Message[] = [];
  /** A heartbeat round is owed to confirm newly queued reads (sent once per Ready). */
  readHeartbeatPending = false;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  randomizedElectionTimeout = 0;
  readonly disableProposalForwarding: boolean;
  readonly rand: Rand;

  constructor(c: RaftConfig) {
    if (c.id === 0n) throw new RangeError("raft: cannot use 0 as a node id");
    if (!(c.heartbeatTick > 0)) throw new RangeError("raft: heartbeatTick must be > 0");
    if (!(c.electionTick > c.heartbeatTick)) {
      throw new RangeError("raft: electionTick must be greater than heartbeatTick");
    }
    this.id = c.id;
    this.rand = c.rand;
    this.maxMsgSize = c.maxSizePerMsg ?? 1024 * 1024;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize ?? 0;
    this.checkQuorum = c.checkQuorum ?? true;
    this.preVote = c.preVote ?? true;
    this.heartbeatTimeout = c.heartbeatTick;
    this.electionTimeout = c.electionTick;
    this.disableProposalForwarding = c.disableProposalForwarding ?? false;
    this.raftLog = new RaftLog(c.storage, c.maxCommittedSizePerReady ?? 64 * 1024 * 1024);

    const { hardState, confState } = c.storage.initialState();
    assertNotJoint(confState, "joint configurations are not supported");
    this.trk = trackerFor(
      confState,
      this.id,
      this.raftLog.lastIndex(),
      c.maxInflightMsgs ?? 256,
      c.maxInflightBytes ?? 0,
    );
    this.isLearner = this.trk.learners.includes(this.id);
    if (hardState.term !== 0 || hardState.vote !== 0n || hardState.commit !== 0) {
      this.loadState(hardState);
    }
    if (c.applied !== undefined && c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, 0n);
  }

  private newProgress(lastIndex: number, learner: boolean): Progress {
    return new Progress(
      0,
      lastIndex + 1,
      this.trk.maxInflight,
      this.trk.maxInflightBytes,
      learner,
    );
  }

  private loadState(hs: HardState): void {
    if (hs.commit < this.raftLog.committed || hs.commit > this.raftLog.lastIndex()) {
      throw new RaftInvariantError(
        `hardstate commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
      );
    }
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  // ---- sending ----

  /** Queues m for the network, stamping our id and (for most types) our term. */
  send(m: Message): void {
    // forwarded requests keep their origin (a transfer request names its target in `from`)
    if (m.from === 0n) m.from = this.id;
    const t = m.type;
    if (
      t === MessageType.Vote || t === MessageType.VoteResp || t === MessageType.PreVote ||
      t === MessageType.PreVoteResp
    ) {
      if (m.term === 0) {
        throw new RaftInvariantError(`term should be set when sending ${MessageType[t]}`);
      }
    } else {
      if (m.term !== 0) {
        throw new RaftInvariantError(`term should not be set when sending ${MessageType[t]}`);
      }
      // proposals and reads are forwarded as local messages (term 0)
      if (t !== MessageType.Prop && t !== MessageType.ReadIndex) m.term = this.term;
    }
    this.msgs.push(m);
  }

  /** Sends entries (or a snapshot) to `to` if its progress allows; true if sent. */
  maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.term(prevIndex);
    let ents: Entry[] | null = null;
    if (prevTerm !== -1) {
      try {
        ents = this.raftLog.entries(pr.next, this.maxMsgSize);
      } catch (err) {
        if (!(err instanceof CompactedError)) throw err;
      }
    }
    if (ents === null) return this.sendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send(newMessage({
      type: MessageType.App,
      to,
      index: prevIndex,
      logTerm: prevTerm,
      entries: ents,
      commit: this.raftLog.committed,
    }));
    if (ents.length > 0) {
      pr.sentEntries(ents.length, ents[ents.length - 1].index, payloadSize(ents));
    } else {
      pr.sentEntries(0, prevIndex, 0);
    }
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false; // wait until it answers before shipping a snapshot
    let snap;
    try {
      snap = this.raftLog.snapshot();
    } catch (err) {
      if (err instanceof SnapshotTemporarilyUnavailableError) return false;
      throw err;
    }
    if (snap.metadata.index === 0) throw new RaftInvariantError("need a non-empty snapshot");
    pr.becomeSnapshot(snap.metadata.index);
    this.send(newMessage({ type: MessageType.Snap, to, snapshot: snap }));
    return true;
  }

  sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /** Sends `to` a heartbeat carrying the commit index it may apply (and a read's context). */
  sendHeartbeat(to: NodeId, ctx: Uint8Array | null): void {
    const pr = this.trk.progress.get(to)!;
    // a follower may not have the leader's whole log: never tell it to commit past its match
    const commit = Math.min(pr.match, this.raftLog.committed);
    this.send(newMessage({ type: MessageType.Heartbeat, to, commit, context: ctx }));
  }

  bcastAppend(): void {
    for (const id of this.trk.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  /** Sends every other node a heartbeat (`ctx`: the ReadIndex round it confirms, or null). */
  bcastHeartbeat(ctx: Uint8Array | null): void {
    for (const id of this.trk.progress.keys()) if (id !== this.id) this.sendHeartbeat(id, ctx);
  }

  /** Sends the heartbeat round that confirms queued ReadIndex requests (read_index.ts). */
  flushReadIndex(): void {
    flushReadIndex(this);
  }

  // ---- commit ----

  /** Advances commit to what a quorum holds, if that entry is from this term (§5.4.2). */
  maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.trk.committed(), this.term);
  }

  /**
   * Advances commit if a quorum allows; when it moved, releases the reads that waited for it
   * and tells every follower. Returns whether it moved.
   */
  commitAndBroadcast(): boolean {
    if (!this.maybeCommit()) return false;
    releasePendingReadIndexMessages(this);
    this.bcastAppend();
    return true;
  }

  /** Whether this node's commit index is an entry of its term (a leader's reads wait for it). */
  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.term(this.raftLog.committed) === this.term;
  }

  // ---- role changes ----

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = 0n;
    }
    this.lead = 0n;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = 0n;
    this.trk.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      const fresh = this.newProgress(last, pr.isLearner);
      if (id === this.id) fresh.match = last;
      this.trk.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadIndexMessages = [];
    this.readHeartbeatPending = false;
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + this.rand.int(this.electionTimeout);
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.state = StateType.Follower;
  }

  becomeCandidate(): void {
    if (this.state === StateType.Leader) {
      throw new RaftInvariantError("invalid transition [leader -> candidate]");
    }
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.Candidate;
  }

  becomePreCandidate(): void {
    if (this.state === StateType.Leader) {
      throw new RaftInvariantError("invalid transition [leader -> pre-candidate]");
    }
    // PreVote changes neither term nor vote
    this.trk.resetVotes();
    this.lead = 0n;
    this.state = StateType.PreCandidate;
  }

  becomeLeader(): void {
    if (this.state === StateType.Follower) {
      throw new RaftInvariantError("invalid transition [follower -> leader]");
    }
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.Leader;
    const self = this.trk.progress.get(this.id)!;
    self.becomeReplicate();
    self.recentActive = true;
    // conservatively, any conf change in the log may still be unapplied
    this.pendingConfIndex = this.raftLog.lastIndex();
    // an empty entry of our own term: committing it commits everything before (§5.4.2)
    if (!this.appendEntry([{ term: 0, index: 0, type: EntryType.Normal, data: EMPTY }])) {
      throw new RaftInvariantError("empty entry was dropped");
    }
  }

  /** Appends proposed entries (assigning term and index); false if over the size limit. */
  private appendEntry(es: Entry[]): boolean {
    let li = this.raftLog.lastIndex();
    const size = payloadSize(es);
    if (
      this.maxUncommittedSize > 0 && this.uncommittedSize > 0 && size > 0 &&
      this.uncommittedSize + size > this.maxUncommittedSize
    ) {
      return false;
    }
    this.uncommittedSize += size;
    for (let i = 0; i < es.length; i++) {
      es[i].term = this.term;
      es[i].index = ++li;
    }
    li = this.raftLog.append(es);
    this.trk.progress.get(this.id)!.maybeUpdate(li);
    this.maybeCommit();
    return true;
  }

  /** Applied entries leave the uncommitted budget. */
  reduceUncommittedSize(ents: readonly Entry[]): void {
    if (this.uncommittedSize === 0) return;
    const s = payloadSize(ents);
    this.uncommittedSize = s > this.uncommittedSize ? 0 : this.uncommittedSize - s;
  }

  /** Whether this node may campaign: a voter, with no snapshot waiting to be persisted. */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasPendingSnapshot();
  }

  /** Starts an election now, of the given kind (election.ts); tests call it directly. */
  campaign(t: CampaignType): void {
    campaign(this, t);
  }

  // ---- ticks ----

  tick(): void {
    if (this.state === StateType.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(newMessage({ type: MessageType.Hup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(newMessage({ type: MessageType.CheckQuorum, from: this.id }));
      // a transfer that did not finish within an election timeout is abandoned
      if (this.state === StateType.Leader && this.leadTransferee !== 0n) {
        this.leadTransferee = 0n;
      }
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(newMessage({ type: MessageType.Beat, from: this.id }));
    }
  }

  // ---- step ----

  /**
   * Feeds one message in. Returns null, or the reason a proposal, read or transfer was
   * dropped (the caller decides whether the requester hears about it).
   */
  step(m: Message): DropReason | null {
    if (m.term === 0) {
      // local message, or a forwarded proposal or read
    } else if (m.term > this.term) {
      // leader stickiness: we heard from a live leader within the election timeout
      if (ignoresVoteRequest(this, m)) return null;
      if (m.type === MessageType.PreVote) {
        // never change our term in response to a PreVote
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // the term in a granted pre-vote is the one we will campaign in
      } else if (
        m.type === MessageType.App || m.type === MessageType.Heartbeat ||
        m.type === MessageType.Snap
      ) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, 0n);
      }
    } else if (m.term < this.term) {
      if (
        (this.checkQuorum || this.preVote) &&
        (m.type === MessageType.Heartbeat || m.type === MessageType.App)
      ) {
        // a stale leader (e.g. after a partition): tell it our term so it steps down;
        // otherwise, with CheckQuorum or PreVote, it may never learn and we never elect
        this.send(newMessage({ type: MessageType.AppResp, to: m.from }));
      } else if (m.type === MessageType.PreVote) {
        this.send(newMessage({
          type: MessageType.PreVoteResp,
          to: m.from,
          term: this.term,
          reject: true,
        }));
      }
      return null;
    }

    switch (m.type) {
      case MessageType.Hup:
        hup(this, this.preVote ? CampaignType.PreElection : CampaignType.Election);
        return null;
      case MessageType.Vote:
      case MessageType.PreVote:
        answerVoteRequest(this, m);
        return null;
      case MessageType.ReadIndexResp:
        // a read confirmed by the leader of m.term: still linearizable, whatever our role now
        this.readStates.push({ index: m.index, context: m.context ?? EMPTY });
        return null;
      default:
        switch (this.state) {
          case StateType.Leader:
            return this.stepLeader(m);
          case StateType.Follower:
            return this.stepFollower(m);
          default:
            return this.stepCandidate(m);
        }
    }
  }

  private stepLeader(m: Message): DropReason | null {
    switch (m.type) {
      case MessageType.Beat:
        this.bcastHeartbeat(null);
        return null;
      case MessageType.CheckQuorum:
        if (!this.trk.quorumActive(this.id)) {
          this.becomeFollower(this.term, 0n);
          return null;
        }
        for (const [id, pr] of this.trk.progress) if (id !== this.id) pr.recentActive = false;
        return null;
      case MessageType.Prop:
        return this.propose(m);
      case MessageType.ReadIndex:
        return leaderReadIndex(this, m);
      case MessageType.TransferLeader:
        return startLeaderTransfer(this, m);
    }
    const pr = this.trk.progress.get(m.from);
    if (pr === undefined) return null;
    switch (m.type) {
      case MessageType.AppResp:
        this.handleAppendResponse(m, pr);
        break;
      case MessageType.HeartbeatResp:
        this.handleHeartbeatResponse(m, pr);
        break;
      case MessageType.SnapStatus:
        if (pr.state !== ProgressState.Snapshot) break;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // wait for a heartbeat response before probing: the snapshot may still be applying
        pr.probeSent = true;
        break;
      case MessageType.Unreachable:
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        break;
    }
    return null;
  }

  private propose(m: Message): DropReason | null {
    if (m.entries.length === 0) throw new RaftInvariantError("stepped an empty proposal");
    if (!this.trk.progress.has(this.id)) return DropReason.NotInConfig;
    if (this.leadTransferee !== 0n) return DropReason.TransferInProgress;
    const confAt = proposedConfChangeAt(this, m.entries);
    if (typeof confAt !== "number") return confAt;
    // Entries that came over the network (to != 0) may be delivered twice, or be a peer's
    // objects: stamp fresh copies. Only a local proposal's entries are ours to stamp.
    const es = m.to === 0n ? m.entries : m.entries.map((e) => ({
      term: 0,
      index: 0,
      type: e.type,
      data: e.data,
    }));
    if (!this.appendEntry(es)) return DropReason.TooManyUncommitted;
    if (confAt !== -1) this.pendingConfIndex = es[confAt].index;
    this.bcastAppend();
    return null;
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      let next = m.rejectHint;
      if (m.logTerm > 0) next = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm)[0];
      if (pr.maybeDecrTo(m.index, next)) {
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === ProgressState.Probe) {
      pr.becomeReplicate();
    } else if (
      pr.state === ProgressState.Snapshot && pr.match + 1 >= this.raftLog.firstIndex()
    ) {
      // the follower caught up past our compaction point: resume replication
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Replicate) {
      pr.inflights.freeLE(m.index);
    }
    if (!this.commitAndBroadcast() && wasPaused) this.sendAppend(m.from);
    // keep the pipe full while the window allows
    while (this.maybeSendAppend(m.from, false)) { /* sent one more */ }
    maybeFinishTransfer(this, m.from, pr);
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    // appends may have been lost: free a slot so replication cannot stall on a full window
    if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.raftLog.lastIndex() || pr.state === ProgressState.Probe) {
      this.sendAppend(m.from);
    }
    ackReadIndex(this, m);
  }

  private stepCandidate(m: Message): DropReason | null {
    const myResp = this.state === StateType.PreCandidate
      ? MessageType.PreVoteResp
      : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
      case MessageType.ReadIndex:
      case MessageType.TransferLeader:
        return DropReason.NoLeader;
      case MessageType.App:
        this.becomeFollower(m.term, m.from); // always m.term === this.term here
        this.handleAppendEntries(m);
        return null;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return null;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return null;
      case myResp:
        countVote(this, m);
        return null;
    }
    return null;
  }

  private stepFollower(m: Message): DropReason | null {
    switch (m.type) {
      case MessageType.Prop:
        if (this.lead === 0n) return DropReason.NoLeader;
        if (this.disableProposalForwarding) return DropReason.ForwardingDisabled;
        this.forward(m);
        return null;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return null;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return null;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return null;
      case MessageType.TransferLeader:
      case MessageType.ReadIndex:
        if (this.lead === 0n) return DropReason.NoLeader;
        this.forward(m);
        return null;
      case MessageType.TimeoutNow:
        // the leader chose us: campaign at once, without PreVote
        hup(this, CampaignType.Transfer);
        return null;
    }
    return null;
  }

  /** Sends a local request on to the leader (a fresh message: never alias the caller's). */
  private forward(m: Message): void {
    this.send(newMessage({
      type: m.type,
      to: this.lead,
      from: m.from,
      entries: m.entries,
      context: m.context,
    }));
  }

  handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      this.send(
        newMessage({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed }),
      );
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== -1) {
      this.send(newMessage({ type: MessageType.AppResp, to: m.from, index: lastNew }));
      return;
    }
    // reject, with a hint: our largest index <= m.index whose term is <= m.logTerm
    const [hintIndex, hintTerm] = this.raftLog.findConflictByTerm(
      Math.min(m.index, this.raftLog.lastIndex()),
      m.logTerm,
    );
    this.send(newMessage({
      type: MessageType.AppResp,
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hintIndex,
      logTerm: hintTerm,
    }));
  }

  private handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    this.send(newMessage({ type: MessageType.HeartbeatResp, to: m.from, context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s === null) throw new RaftInvariantError("MsgSnap without a snapshot");
    if (this.restore(s)) {
      this.send(
        newMessage({ type: MessageType.AppResp, to: m.from, index: this.raftLog.lastIndex() }),
      );
    } else {
      this.send(
        newMessage({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed }),
      );
    }
  }

  /** Installs a snapshot from the leader; false if it is stale or not for us. */
  restore(s: Snapshot): boolean {
    const meta = s.metadata;
    if (meta.index <= this.raftLog.committed) return false;
    if (this.state !== StateType.Follower) {
      // defensive: only followers install snapshots
      this.becomeFollower(this.term + 1, 0n);
      return false;
    }
    const cs = meta.confState;
    assertNotJoint(cs, "snapshot carries a joint configuration (unsupported)");
    // A snapshot may predate our own addition (a joiner catching up from an older snapshot):
    // we install it anyway. Without ourselves in the configuration we cannot campaign, and the
    // entries after it (including the change that added us) bring the configuration up to date.
    if (this.raftLog.matchTerm(meta.index, meta.term)) {
      // we already have the entries: just fast-forward the commit
      this.raftLog.commitTo(meta.index);
      return false;
    }
    this.raftLog.restore(s);
    this.trk = trackerFor(
      cs,
      this.id,
      this.raftLog.lastIndex(),
      this.trk.maxInflight,
      this.trk.maxInflightBytes,
    );
    this.isLearner = this.trk.learners.includes(this.id);
    return true;
  }

  // ---- membership (membership.ts) ----

  /** Applies a committed conf change; returns what it did. */
  applyConfChange(cc: ConfChange): ConfChangeOutcome {
    return applyCommittedConfChange(this, cc);
  }
}
