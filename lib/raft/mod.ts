/**
 * The raft layer's public face for the server: the driver (Node) and its hooks, the
 * synchronous RawNode beneath it, the Storage contract with its in-memory implementation,
 * messages, membership changes and errors. Import from here rather than from the files.
 *
 * How the server drives it:
 *
 * ```ts
 * const node = new Node(new RawNode({ id, storage, rand, electionTick: 10, heartbeatTick: 1 }), {
 *   persist: (b) => wal.save(b.hardState, b.entries, b.snapshot, b.mustSync), // one fsync
 *   send: (msgs) => transport.send(msgs),
 *   apply: (b) => applier.apply(b.snapshot, b.entries, b.confChanges),
 *   readStates: (rs) => reads.confirmed(rs),
 * });
 * clock.every(heartbeatMs, () => { node.tick(); node.process(); });
 * transport.onMessage((m) => { node.step(m); node.process(); });
 * node.propose(requestBytes); node.process(); // throws ProposalDroppedError when refused
 * ```
 *
 * Storage is read by raft only; the server writes it (the WAL) inside `persist`, and creates
 * snapshots / compacts it after applying (use `node.raw.confState()` for the snapshot's
 * membership).
 */
export {
  type AppliedConfChange,
  type ApplyBatch,
  Node,
  type NodeHooks,
  type PersistBatch,
} from "./node.ts";
export {
  type ProgressStatus,
  RawNode,
  type Ready,
  type SoftState,
  type Status,
} from "./raw_node.ts";
export { type RaftConfig, type ReadState } from "./raft.ts";
export { CampaignType, StateType } from "./role.ts";
export { entrySize, type InitialState, type Storage } from "./storage.ts";
export { cloneConfState, MemoryStorage } from "./memory_storage.ts";
export {
  describeMessage,
  isLocalMessage,
  type Message,
  MessageType,
  newMessage,
} from "./messages.ts";
export {
  type ConfChange,
  ConfChangeOutcome,
  ConfChangeType,
  decodeConfChange,
  encodeConfChange,
} from "./confchange.ts";
export {
  CompactedError,
  DropReason,
  ProposalDroppedError,
  RaftInvariantError,
  SnapshotOutOfDateError,
  SnapshotTemporarilyUnavailableError,
  UnavailableError,
} from "./errors.ts";
export { ProgressState } from "./progress.ts";
export { decodeMessage, encodedSize, encodeMessage, MESSAGE_FORMAT } from "./codec.ts";
