/**
 * Raft's persisted data types, shared by the raft core (which produces them) and the storage
 * layer below it (the WAL and snapshot files, which persist them), as etcd's raftpb is.
 * Field meanings and numbering follow etcd's raftpb so the two can be compared directly.
 */
import type { Index, MemberId, Term } from "./types.ts";

/** A raft node id; the same number as the member id in etcd's cluster API. 0n means none. */
export type NodeId = MemberId;

/** The kinds of log entry (etcd's EntryType). */
export enum EntryType {
  /** An application command; its data is opaque to raft. */
  Normal = 0,
  /** A single membership change (ConfChange). */
  ConfChange = 1,
  /** A joint-consensus membership change (ConfChangeV2). */
  ConfChangeV2 = 2,
}

/** One entry of the replicated log. */
export interface Entry {
  term: Term;
  index: Index;
  type: EntryType;
  /** Opaque to raft: the server's request, or an encoded conf change. */
  data: Uint8Array;
}

/** The part of a node's state that must be durable before it answers a message. */
export interface HardState {
  term: Term;
  /** The node voted for in `term`, or 0n. */
  vote: NodeId;
  commit: Index;
}

/** The membership a snapshot or conf change establishes (etcd's ConfState). */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
  /** Voters of the outgoing configuration while in a joint configuration. */
  votersOutgoing: NodeId[];
  /** Voters that become learners when the joint configuration is left. */
  learnersNext: NodeId[];
  /** Leave the joint configuration automatically once it is committed. */
  autoLeave: boolean;
}

/** Where a snapshot sits in the log and which membership it carries. */
export interface SnapshotMetadata {
  confState: ConfState;
  index: Index;
  term: Term;
}

/** A snapshot of the applied state up to `metadata.index`. */
export interface Snapshot {
  /** The server's encoded state (for Concord, the page-file snapshot travels separately). */
  data: Uint8Array;
  metadata: SnapshotMetadata;
}

/** An empty HardState: nothing voted, nothing committed. */
export const EMPTY_HARD_STATE: Readonly<HardState> = Object.freeze({
  term: 0,
  vote: 0n,
  commit: 0,
});

/** An empty ConfState. */
export function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}
