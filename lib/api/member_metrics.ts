/**
 * The member's own Prometheus metrics, under etcd's names, types, help texts, labels and
 * buckets, so etcd's Grafana dashboard and alert rules work unchanged. Two kinds:
 * - families the member's layers feed as things happen (WAL fsyncs, backend commits, puts,
 *   lease grants...): `registerMemberSinks` registers them and returns the `ServerMetrics`
 *   sinks to start the member with;
 * - families that mirror state kept elsewhere (leader, indexes, sizes, watchers): read from
 *   the member when /metrics is scraped (`registerServerMetrics`).
 * The buckets are etcd 3.5's (prometheus.ExponentialBuckets with the same arguments); the
 * families etcd 3.4 also exports under etcd_debugging_* names are kept for 3.4 dashboards.
 */
import { type Counter, exponentialBuckets, type MetricsRegistry } from "./metrics.ts";
import { ETCD_CLUSTER_VERSION, ETCD_COMPAT_VERSION } from "../base/version.ts";
import type { Member } from "../server/member.ts";
import type { ServerMetrics } from "../server/server_metrics.ts";
import { formatId } from "../server/member_id.ts";
import { registerPeerMetrics } from "./peer_metrics.ts";

/** etcd's buckets for disk latencies: 1 ms to 8.192 s. */
const DISK_BUCKETS = exponentialBuckets(0.001, 2, 14);

/**
 * Registers the families the member feeds (etcd_disk_*, etcd_snap_*, etcd_mvcc_* counters and
 * hash durations, etcd_debugging_lease_*, the server's failure counters) and returns their
 * sinks, to pass as `MemberOptions.metrics`.
 */
export function registerMemberSinks(registry: MetricsRegistry): ServerMetrics {
  const r = registry;
  const wal = {
    fsyncSeconds: r.histogram(
      "etcd_disk_wal_fsync_duration_seconds",
      "The latency distributions of fsync called by WAL.",
      [],
      DISK_BUCKETS,
    ),
    writeSeconds: r.histogram(
      "etcd_disk_wal_write_duration_seconds",
      "The latency distributions of write called by WAL.",
      [],
      DISK_BUCKETS,
    ),
    // a gauge in etcd (it only grows)
    writeBytes: r.gauge("etcd_disk_wal_write_bytes_total", "Total number of bytes written in WAL."),
  };
  const backend = {
    commitSeconds: r.histogram(
      "etcd_disk_backend_commit_duration_seconds",
      "The latency distributions of commit called by backend.",
      [],
      DISK_BUCKETS,
    ),
    defragSeconds: r.histogram(
      "etcd_disk_backend_defrag_duration_seconds",
      "The latency distribution of backend defragmentation.",
      [],
      exponentialBuckets(0.1, 2, 13),
    ),
    snapshotSeconds: r.histogram(
      "etcd_disk_backend_snapshot_duration_seconds",
      "The latency distribution of backend snapshots.",
      [],
      exponentialBuckets(0.01, 2, 17),
    ),
  };
  const snap = {
    marshallingSeconds: r.histogram(
      "etcd_debugging_snap_save_marshalling_duration_seconds",
      "The marshalling cost distributions of save called by snapshot.",
      [],
      DISK_BUCKETS,
    ),
    saveSeconds: r.histogram(
      "etcd_debugging_snap_save_total_duration_seconds",
      "The total latency distributions of save called by snapshot.",
      [],
      DISK_BUCKETS,
    ),
    fsyncSeconds: r.histogram(
      "etcd_snap_fsync_duration_seconds",
      "The latency distributions of fsync called by snap.",
      [],
      DISK_BUCKETS,
    ),
    dbSaveSeconds: r.histogram(
      "etcd_snap_db_save_total_duration_seconds",
      "The total latency distributions of v3 snapshot save",
      [],
      exponentialBuckets(0.1, 2, 10),
    ),
    dbFsyncSeconds: r.histogram(
      "etcd_snap_db_fsync_duration_seconds",
      "The latency distributions of fsyncing .snap.db file",
      [],
      DISK_BUCKETS,
    ),
  };
  const ranges = r.counter("etcd_mvcc_range_total", "Total number of ranges seen by this member.");
  const puts = r.counter("etcd_mvcc_put_total", "Total number of puts seen by this member.");
  const deletes = r.counter(
    "etcd_mvcc_delete_total",
    "Total number of deletes seen by this member.",
  );
  const txns = r.counter("etcd_mvcc_txn_total", "Total number of txns seen by this member.");
  // etcd 3.4's names for the same counts (3.5 keeps only the range one)
  mirror(
    r,
    ranges,
    "etcd_debugging_mvcc_range_total",
    "Total number of ranges seen by this member.",
  );
  mirror(r, puts, "etcd_debugging_mvcc_put_total", "Total number of puts seen by this member.");
  mirror(
    r,
    deletes,
    "etcd_debugging_mvcc_delete_total",
    "Total number of deletes seen by this member.",
  );
  mirror(r, txns, "etcd_debugging_mvcc_txn_total", "Total number of txns seen by this member.");
  const mvcc = {
    ranges,
    puts,
    deletes,
    txns,
    // a gauge in etcd (it only grows)
    putBytes: r.gauge(
      "etcd_debugging_mvcc_total_put_size_in_bytes",
      "The total size of put kv pairs seen by this member.",
    ),
    hashSeconds: r.histogram(
      "etcd_mvcc_hash_duration_seconds",
      "The latency distribution of storage hash operation.",
      [],
      exponentialBuckets(0.01, 2, 15),
    ),
    hashRevSeconds: r.histogram(
      "etcd_mvcc_hash_rev_duration_seconds",
      "The latency distribution of storage hash by revision operation.",
      [],
      exponentialBuckets(0.01, 2, 15),
    ),
    indexCompactionPauseMs: r.histogram(
      "etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds",
      "Bucketed histogram of index compaction pause duration.",
      [],
      exponentialBuckets(0.5, 2, 14),
    ),
    dbCompactionPauseMs: r.histogram(
      "etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds",
      "Bucketed histogram of db compaction pause duration.",
      [],
      exponentialBuckets(1, 2, 13),
    ),
    dbCompactionTotalMs: r.histogram(
      "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds",
      "Bucketed histogram of db compaction total duration.",
      [],
      exponentialBuckets(100, 2, 14),
    ),
    dbCompactionKeys: r.counter(
      "etcd_debugging_mvcc_db_compaction_keys_total",
      "Total number of db keys compacted.",
    ),
    dbCompactionLast: r.gauge(
      "etcd_debugging_mvcc_db_compaction_last",
      "The unix time of the last db compaction. Resets to 0 on start.",
    ),
  };
  const lessor = {
    granted: r.counter("etcd_debugging_lease_granted_total", "The total number of granted leases."),
    revoked: r.counter("etcd_debugging_lease_revoked_total", "The total number of revoked leases."),
    renewed: r.counter(
      "etcd_debugging_lease_renewed_total",
      "The number of renewed leases seen by the leader.",
    ),
    ttlSeconds: r.histogram(
      "etcd_debugging_lease_ttl_total",
      "Bucketed histogram of lease TTLs.",
      [],
      exponentialBuckets(1, 2, 24),
    ),
  };
  return {
    wal,
    backend,
    snap,
    mvcc,
    lessor,
    proposalsFailed: r.counter(
      "etcd_server_proposals_failed_total",
      "The total number of failed proposals seen.",
    ),
    slowApplies: r.counter(
      "etcd_server_slow_apply_total",
      "The total number of slow apply requests (likely overloaded from slow disk).",
    ),
    readIndexesFailed: r.counter(
      "etcd_server_read_indexes_failed_total",
      "The total number of failed read indexes seen.",
    ),
    slowReadIndexes: r.counter(
      "etcd_server_slow_read_indexes_total",
      "The total number of pending read indexes not in sync with leader's or timed out read index requests.",
    ),
    heartbeatSendFailures: r.counter(
      "etcd_server_heartbeat_send_failures_total",
      "The total number of leader heartbeat send failures (likely overloaded from slow disk).",
    ),
    leaseExpired: r.counter(
      "etcd_debugging_server_lease_expired_total",
      "The total number of expired leases.",
    ),
    watchEvents: r.counter(
      "etcd_debugging_mvcc_events_total",
      "Total number of events sent by this member.",
    ),
    learnerPromoteFailure: promoteFailure(r),
    learnerPromoteSuccesses: r.counter(
      "etcd_server_learner_promote_successes",
      "The total number of successful learner promotions while this member is leader.",
    ),
  };
}

/** etcd_server_learner_promote_failures{Reason}: by etcd's error text. */
function promoteFailure(r: MetricsRegistry): (reason: string) => void {
  const c = r.counter(
    "etcd_server_learner_promote_failures",
    "The total number of failed learner promotions (likely learner not ready) while this member is leader.",
    ["Reason"],
  );
  return (reason) => c.inc({ Reason: reason });
}

/** A second counter under another name that shows the same count (read at scrape). */
function mirror(r: MetricsRegistry, of: Counter, name: string, help: string): void {
  const copy = r.counter(name, help);
  r.onCollect(() => catchUp(copy, of.get()));
}

/** Raises a counter without labels that mirrors a count kept elsewhere to that count. */
function catchUp(c: Counter, now: number): void {
  const by = now - c.get();
  if (by > 0) c.add(by);
}

/**
 * Registers etcd's server, mvcc, cluster and peer gauges for `member` on `registry`, read
 * from the member at each scrape.
 */
export function registerServerMetrics(registry: MetricsRegistry, member: Member): void {
  const r = registry;
  const hasLeader = r.gauge(
    "etcd_server_has_leader",
    "Whether or not a leader exists. 1 is existence, 0 is not.",
  );
  const isLeader = r.gauge(
    "etcd_server_is_leader",
    "Whether or not this member is a leader. 1 if is, 0 otherwise.",
  );
  const isLearner = r.gauge(
    "etcd_server_is_learner",
    "Whether or not this member is a learner. 1 if is, 0 otherwise.",
  );
  const leaderChanges = r.counter(
    "etcd_server_leader_changes_seen_total",
    "The number of leader changes seen.",
  );
  // gauges in etcd, despite the _total
  const committed = r.gauge(
    "etcd_server_proposals_committed_total",
    "The total number of consensus proposals committed.",
  );
  const applied = r.gauge(
    "etcd_server_proposals_applied_total",
    "The total number of consensus proposals applied.",
  );
  const pending = r.gauge(
    "etcd_server_proposals_pending",
    "The current number of pending proposals to commit.",
  );
  const applyingSnapshot = r.gauge(
    "etcd_server_snapshot_apply_in_progress_total",
    "1 if the server is applying the incoming snapshot. 0 if none.",
  );
  const term = r.gauge("concord_server_term", "The raft term this member is in.");
  const quota = r.gauge(
    "etcd_server_quota_backend_bytes",
    "Current backend storage quota size in bytes.",
  );
  const dbSize = r.gauge(
    "etcd_mvcc_db_total_size_in_bytes",
    "Total size of the underlying database physically allocated in bytes.",
  );
  const dbSizeDebug = r.gauge(
    "etcd_debugging_mvcc_db_total_size_in_bytes",
    "Total size of the underlying database physically allocated in bytes.",
  );
  const dbInUse = r.gauge(
    "etcd_mvcc_db_total_size_in_use_in_bytes",
    "Total size of the underlying database logically in use in bytes.",
  );
  const openReads = r.gauge(
    "etcd_mvcc_db_open_read_transactions",
    "The number of currently open read transactions",
  );
  const defragInflight = r.gauge(
    "etcd_disk_defrag_inflight",
    "Whether or not defrag is active on the member. 1 means active, 0 means not.",
  );
  const revision = r.gauge(
    "etcd_debugging_mvcc_current_revision",
    "The current revision of store.",
  );
  const compactRevision = r.gauge(
    "etcd_debugging_mvcc_compact_revision",
    "The revision of the last compaction in store.",
  );
  const keys = r.gauge("etcd_debugging_mvcc_keys_total", "Total number of keys.");
  const watchStreams = r.gauge(
    "etcd_debugging_mvcc_watch_stream_total",
    "Total number of watch streams.",
  );
  const watchers = r.gauge("etcd_debugging_mvcc_watcher_total", "Total number of watchers.");
  const slowWatchers = r.gauge(
    "etcd_debugging_mvcc_slow_watcher_total",
    "Total number of unsynced slow watchers.",
  );
  const pendingEvents = r.gauge(
    "etcd_debugging_mvcc_pending_events_total",
    "Total number of pending events to be sent.",
  );
  const authRevision = r.gauge(
    "etcd_debugging_auth_revision",
    "The current revision of auth store.",
  );
  r.gauge(
    "etcd_server_id",
    "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
    ["server_id"],
  ).set(1, { server_id: formatId(member.id) });
  r.gauge(
    "etcd_server_version",
    "Which version is running. 1 for 'server_version' label with current version.",
    ["server_version"],
  ).set(1, { server_version: ETCD_COMPAT_VERSION });
  r.gauge(
    "etcd_cluster_version",
    "Which version is running. 1 for 'cluster_version' label with current cluster version",
    ["cluster_version"],
  ).set(1, { cluster_version: ETCD_CLUSTER_VERSION.split(".").slice(0, 2).join(".") });
  const peers = registerPeerMetrics(r, member);

  r.onCollect(() => {
    hasLeader.set(member.leader !== 0n ? 1 : 0);
    isLeader.set(member.isLeader ? 1 : 0);
    isLearner.set(member.membership.get(member.id)?.isLearner ? 1 : 0);
    catchUp(leaderChanges, member.leaderChanges);
    committed.set(member.commitIndex);
    applied.set(member.appliedIndex);
    pending.set(member.proposalsPending);
    applyingSnapshot.set(member.applyingSnapshot ? 1 : 0);
    term.set(member.term);
    quota.set(member.config.quotaBackendBytes);
    const stats = member.backend.stats();
    dbSize.set(stats.fileBytes);
    dbSizeDebug.set(stats.fileBytes);
    dbInUse.set(stats.inUseBytes);
    openReads.set(stats.openReads);
    defragInflight.set(member.backend.defragmenting ? 1 : 0);
    const store = member.store;
    revision.set(store.rev());
    compactRevision.set(store.compactRev()); // -1 before any compaction, as etcd
    keys.set(store.liveKeys());
    const w = member.hub.counts();
    watchStreams.set(member.hub.streamCount);
    watchers.set(w.synced + w.unsynced + w.victims);
    slowWatchers.set(w.unsynced + w.victims);
    pendingEvents.set(member.hub.pendingEvents());
    authRevision.set(member.auth.revision);
    peers();
  });
}
