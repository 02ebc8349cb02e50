/**
 * Errors of the raft layer. Storage errors are part of the `Storage` contract (the WAL-backed
 * storage throws the same classes); `ProposalDroppedError` tells the server why a proposal,
 * read or transfer was not accepted, so it can answer the client instead of waiting.
 */

/** The requested index is at or before the storage's compaction point. */
export class CompactedError extends Error {
  constructor(index: number, firstIndex: number) {
    super(`raft: index ${index} is compacted (first available index is ${firstIndex})`);
    this.name = "CompactedError";
  }
}

/** The requested index is beyond the storage's last index. */
export class UnavailableError extends Error {
  constructor(index: number, lastIndex: number) {
    super(`raft: index ${index} is unavailable (last index is ${lastIndex})`);
    this.name = "UnavailableError";
  }
}

/** The storage cannot produce a snapshot right now; raft retries later. */
export class SnapshotTemporarilyUnavailableError extends Error {
  constructor() {
    super("raft: snapshot is temporarily unavailable");
    this.name = "SnapshotTemporarilyUnavailableError";
  }
}

/** A snapshot older than the one already held was offered to the storage. */
export class SnapshotOutOfDateError extends Error {
  constructor(index: number, have: number) {
    super(`raft: snapshot at ${index} is older than the current one at ${have}`);
    this.name = "SnapshotOutOfDateError";
  }
}

/** Why a proposal (or read, or transfer request) was refused. */
export enum DropReason {
  /** There is no known leader to take it (election in progress or partitioned). */
  NoLeader = "no leader",
  /** This node is not the leader and proposal forwarding is disabled. */
  ForwardingDisabled = "not leader and proposal forwarding is disabled",
  /** A leadership transfer is in progress; retry once it finishes. */
  TransferInProgress = "leadership transfer in progress",
  /** The leader's uncommitted log exceeds maxUncommittedEntriesSize. */
  TooManyUncommitted = "too many uncommitted entries",
  /** This leader has been removed from the configuration. */
  NotInConfig = "leader is not in the configuration",
  /** A configuration change is already in flight (one at a time). */
  ConfChangePending = "a configuration change is already pending",
  /** The configuration change is not valid in the current configuration. */
  InvalidConfChange = "invalid configuration change",
  /** A leadership transfer named a node that is not a voter. */
  InvalidTransferTarget = "transfer target is not a voter",
  /** The leader has not committed an entry in its term yet (reads only). */
  NotReady = "leader has not committed an entry in its term",
}

/** The raft layer did not accept a proposal, read, or transfer request. */
export class ProposalDroppedError extends Error {
  readonly reason: DropReason;
  constructor(reason: DropReason, detail?: string) {
    super(`raft: proposal dropped: ${reason}${detail ? ` (${detail})` : ""}`);
    this.name = "ProposalDroppedError";
    this.reason = reason;
  }
}

/** A peer or the driver broke raft's contract (a bug or corrupted state, never user input). */
export class RaftInvariantError extends Error {
  constructor(message: string) {
    super(`raft: ${message}`);
    this.name = "RaftInvariantError";
  }
}
