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
 * This file holds the node's state, its role changes, the commit rule and the dispatch of
 * each message; functions over the same state, each in a file of its own: log replication
 * (replication.ts), elections (election.ts), membership changes (membership.ts), leader
 * transfer (leader_transfer.ts) and ReadIndex (read_index.ts). Their helpers on this class
 * (send, sendHeartbeat, …) are public for them; the driver uses RawNode.
 */
import { type Entry, EntryType, type HardState, type NodeId } from "../base/raftpb.ts";
import type { Rand } from "../base/rand.ts";
import type { ConfChange, ConfChangeOutcome } from "./confchange.ts";
import { DropReason, RaftInvariantError } from "./errors.ts";
import { answerVoteRequest, campaign, countVote, hup, ignoresVoteRequest } from "./election.ts";
import { startLeaderTransfer } from "./leader_transfer.ts";
import { RaftLog } from "./log.ts";
import {
  applyCommittedConfChange,
  assertNotJoint,
  proposedConfChangeAt,
  trackerFor,
} from "./membership.ts";
import { type Message, MessageType, newMessage } from "./messages.ts";
import { Progress } from "./progress.ts";
import { flushReadIndex, leaderReadIndex, releasePendingReadIndexMessages } from "./read_index.ts";
import { ReadOnly } from "./read_only.ts";
import {
  handleAppendEntries,
  handleHeartbeat,
  handleSnapshot,
  maybeSendAppend,
  stepProgress,
} from "./replication.ts";
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
    return maybeSendAppend(this, to, sendIfEmpty);
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
    stepProgress(this, m);
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
        handleAppendEntries(this, m);
        return null;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        handleHeartbeat(this, m);
        return null;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        handleSnapshot(this, m);
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
        handleAppendEntries(this, m);
        return null;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        handleHeartbeat(this, m);
        return null;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        handleSnapshot(this, m);
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

  // ---- membership (membership.ts) ----

  /** Applies a committed conf change; returns what it did. */
  applyConfChange(cc: ConfChange): ConfChangeOutcome {
    return applyCommittedConfChange(this, cc);
  }
}
