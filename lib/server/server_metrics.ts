/**
 * What a member reports measurements through (MemberOptions.metrics): the sinks of its WAL,
 * backend, MVCC store, lessor and snapshotter, and the server's own counters, all under the
 * meaning etcd's metrics of the same names have. The API layer builds one from its registry
 * (lib/api/member_metrics.ts); without one a member measures nothing.
 */
import type { CountSink } from "../base/metric_sink.ts";
import type { WalMetrics } from "../wal/wal.ts";
import type { BackendMetrics } from "../backend/batch_backend.ts";
import type { MvccMetrics } from "../mvcc/kv_store.ts";
import type { LessorMetrics } from "../lease/lessor.ts";
import type { SnapMetrics } from "../snap/snapshotter.ts";

/**
 * How long an apply may take before it counts as slow (etcd's default
 * --experimental-warning-apply-duration, 100 ms).
 */
export const SLOW_APPLY_MS = 100;

/** A member's sinks; every one is optional. */
export interface ServerMetrics {
  wal?: WalMetrics;
  backend?: BackendMetrics;
  mvcc?: MvccMetrics;
  lessor?: LessorMetrics;
  snap?: SnapMetrics;
  /** Proposals that failed: timed out, dropped, cut by a leader change or a stop. */
  proposalsFailed?: CountSink;
  /** Entries whose apply took longer than SLOW_APPLY_MS. */
  slowApplies?: CountSink;
  /** Linearizable read rounds that failed (timeout, no leader, stop). */
  readIndexesFailed?: CountSink;
  /** Read rounds raft had not answered within READ_INDEX_RETRY_MS (asked again). */
  slowReadIndexes?: CountSink;
  /** Heartbeats the leader sent a peer later than twice the heartbeat interval. */
  heartbeatSendFailures?: CountSink;
  /** Expired leases revoked by this member as leader. */
  leaseExpired?: CountSink;
  /** Events queued to watch streams. */
  watchEvents?: CountSink;
  /** A promotion this member refused as leader because the learner lags, with etcd's error. */
  learnerPromoteFailure?: (reason: string) => void;
  /** Learners this member promoted as leader. */
  learnerPromoteSuccesses?: CountSink;
}
