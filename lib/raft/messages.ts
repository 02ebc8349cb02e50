/**
 * The messages raft nodes exchange, and the local messages the driver feeds in. One flat,
 * fixed-shape record (like etcd's raftpb.Message) keeps the hot path monomorphic: every
 * message is made by `newMessage`, so V8 sees one object shape.
 */
import type { Entry, NodeId, Snapshot } from "../base/raftpb.ts";

/** What a message asks or answers (numbered like etcd's raftpb.MessageType). */
export enum MessageType {
  /** Local: start an election (sent to self by the election timer or `campaign`). */
  Hup = 0,
  /** Local: the leader's heartbeat timer fired. */
  Beat = 1,
  /** A proposal: local from the server, or forwarded by a follower to the leader. */
  Prop = 2,
  /** Leader to follower: entries after (index, logTerm), and the leader's commit index. */
  App = 3,
  /** Follower to leader: accepted up to `index`, or rejected with a hint. */
  AppResp = 4,
  /** Candidate to voter: vote for me in `term`; my last entry is (index, logTerm). */
  Vote = 5,
  VoteResp = 6,
  /** Leader to follower: install this snapshot. */
  Snap = 7,
  /** Leader to follower: I am alive; commit up to `commit`; echo `context`. */
  Heartbeat = 8,
  HeartbeatResp = 9,
  /** Local: the transport could not reach `from`. */
  Unreachable = 10,
  /** Local: the transport finished (or failed, `reject`) sending a snapshot to `from`. */
  SnapStatus = 11,
  /** Local: the leader checks that a quorum was active in the last election timeout. */
  CheckQuorum = 12,
  /** Ask the leader to hand leadership to `from`. */
  TransferLeader = 13,
  /** Leader to transfer target: campaign now, skipping PreVote and leader stickiness. */
  TimeoutNow = 14,
  /** A linearizable read request carrying `context`; forwarded to the leader. */
  ReadIndex = 15,
  /** The leader's answer to a forwarded ReadIndex: read at `index`, for `context`. */
  ReadIndexResp = 16,
  /** Would you vote for me at `term`? (does not change anyone's term) */
  PreVote = 17,
  PreVoteResp = 18,
}

/** One raft message. Unused fields hold their zero value. */
export interface Message {
  type: MessageType;
  to: NodeId;
  from: NodeId;
  /** The sender's term; 0 for local messages and forwarded proposals/reads. */
  term: number;
  /** App: term of the entry at `index`. AppResp reject: term of the hint entry. */
  logTerm: number;
  /** App: index before `entries`. AppResp: accepted index, or rejected index. */
  index: number;
  entries: Entry[];
  commit: number;
  snapshot: Snapshot | null;
  reject: boolean;
  /** AppResp reject: the follower's hint for the leader's next probe. */
  rejectHint: number;
  /** Opaque context: ReadIndex request id, or the campaign-transfer marker on votes. */
  context: Uint8Array | null;
}

const NO_ENTRIES: Entry[] = [];
Object.freeze(NO_ENTRIES);

/** A message with every field present (fields not given take their zero value). */
export function newMessage(m: Partial<Message> & { type: MessageType }): Message {
  return {
    type: m.type,
    to: m.to ?? 0n,
    from: m.from ?? 0n,
    term: m.term ?? 0,
    logTerm: m.logTerm ?? 0,
    index: m.index ?? 0,
    entries: m.entries ?? NO_ENTRIES,
    commit: m.commit ?? 0,
    snapshot: m.snapshot ?? null,
    reject: m.reject ?? false,
    rejectHint: m.rejectHint ?? 0,
    context: m.context ?? null,
  };
}

/** Messages that only the local driver may step; a peer sending one is refused. */
export function isLocalMessage(t: MessageType): boolean {
  return t === MessageType.Hup || t === MessageType.Beat || t === MessageType.Unreachable ||
    t === MessageType.SnapStatus || t === MessageType.CheckQuorum;
}

/** Responses: stepping one from a node the tracker does not know is refused. */
export function isResponseMessage(t: MessageType): boolean {
  return t === MessageType.AppResp || t === MessageType.VoteResp ||
    t === MessageType.HeartbeatResp || t === MessageType.Unreachable ||
    t === MessageType.PreVoteResp;
}

/** The response type that answers a vote request type. */
export function voteResponseType(t: MessageType): MessageType {
  if (t === MessageType.Vote) return MessageType.VoteResp;
  if (t === MessageType.PreVote) return MessageType.PreVoteResp;
  throw new Error(`not a vote message: ${MessageType[t]}`);
}

/** A short readable form for logs and failing tests. */
export function describeMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${MessageType[m.type]} term=${m.term}`;
  if (m.type === MessageType.App || m.type === MessageType.AppResp) {
    s += ` logTerm=${m.logTerm} index=${m.index} commit=${m.commit}`;
  }
  if (m.entries.length > 0) s += ` entries=${m.entries.length}`;
  if (m.reject) s += ` reject hint=${m.rejectHint}`;
  if (m.snapshot !== null) s += ` snap=${m.snapshot.metadata.index}`;
  return s;
}

function isCounter(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

/**
 * Checks a message received from a peer before raft sees it: counters are safe non-negative
 * integers, appended entries are contiguous after `index` and no newer than the sender's term,
 * a snapshot message carries a snapshot. Returns a description of the first problem, or null.
 */
export function messageProblem(m: Message): string | null {
  if (!(m.type in MessageType)) return `unknown message type ${m.type}`;
  if (!isCounter(m.term) || !isCounter(m.logTerm) || !isCounter(m.index)) {
    return "term, logTerm and index must be non-negative safe integers";
  }
  if (!isCounter(m.commit) || !isCounter(m.rejectHint)) {
    return "commit and rejectHint must be non-negative safe integers";
  }
  if (m.to === 0n || m.from === 0n) return "message without a sender or recipient";
  const ents = m.entries;
  if (m.type === MessageType.App) {
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i];
      if (e.index !== m.index + 1 + i) {
        return `entry ${i} has index ${e.index}, not ${m.index + 1 + i}`;
      }
      if (!isCounter(e.term) || e.term > m.term) return `entry ${e.index} has bad term ${e.term}`;
    }
  }
  if (m.type === MessageType.Snap) {
    const s = m.snapshot;
    if (s === null) return "snapshot message without a snapshot";
    if (!isCounter(s.metadata.index) || !isCounter(s.metadata.term) || s.metadata.index === 0) {
      return "snapshot metadata index and term must be positive safe integers";
    }
  }
  return null;
}
