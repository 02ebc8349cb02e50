/**
 * Named points on a member's write paths where a test may make the process die (etcd's gofail
 * failpoints, by etcd's names): around the WAL save, the snapshot save and apply, the WAL
 * release, the backend commit, the online defrag, the compaction and the apply. The code at
 * each point calls `hit(point)` once and goes on; what a hit does is the caller's choice (the
 * whole-cluster simulation crashes the member's disk there, so nothing after the point
 * reaches it). No `concord serve` flag reaches this seam: members built without it pay one
 * null check per point.
 */

/** Every fault point, in the order of a write's life; the names are etcd's, typo included. */
export const FAULT_POINTS = [
  // raft loop (etcd's server/etcdserver/raft.go and server/storage/storage.go)
  "raftBeforeSaveSnap",
  "raftBeforeWALSaveSnaphot",
  "raftAfterSaveSnap",
  "raftBeforeSave",
  "raftAfterSave",
  "raftBeforeApplySnap",
  "raftAfterApplySnap",
  "raftAfterWALRelease",
  // apply (etcd's server/etcdserver/server.go)
  "applyBeforeOpenSnapshot",
  "applyAfterOpenSnapshot",
  "beforeApplyOneEntryNormal",
  "beforeApplyOneConfChange",
  // backend (etcd's server/storage/backend/batch_tx.go and backend.go)
  "beforeCommit",
  "afterCommit",
  "defragBeforeCopy",
  "defragBeforeRename",
  // compaction (etcd's server/storage/mvcc/kvstore.go and kvstore_compaction.go)
  "compactBeforeCommitScheduledCompact",
  "compactAfterCommitScheduledCompact",
  "compactBeforeCommitBatch",
  "compactAfterCommitBatch",
  "compactBeforeSetFinishedCompact",
  "compactAfterSetFinishedCompact",
  // WAL, around a save's fdatasync (etcd's server/storage/wal/wal.go Save); last, so the seeds
  // pinned per point above keep their places
  "walBeforeSync",
  "walAfterSync",
] as const;

/** One named fault point. */
export type FaultPoint = typeof FAULT_POINTS[number];

/**
 * What the code at a fault point calls. Given through the member's options (and from there to
 * the raft loop, the backend and the store); absent in production.
 */
export interface FaultPoints {
  /** The code reached `point`; it goes on when this returns. */
  hit(point: FaultPoint): void;
}
