/**
 * The member's own Prometheus metrics, under etcd's names so existing dashboards and alerts
 * (has_leader, proposals, db size, quota) work unchanged. Values are read from the member when
 * /metrics is scraped.
 */
import type { Counter, MetricsRegistry } from "./metrics.ts";
import { ETCD_CLUSTER_VERSION, ETCD_COMPAT_VERSION } from "../base/version.ts";
import type { Member } from "../server/member.ts";
import { formatId } from "../server/member_id.ts";

/** Registers etcd's server, mvcc and process gauges for `member` on `registry`. */
export function registerServerMetrics(
  registry: MetricsRegistry,
  member: Member,
  startedAtMs: number,
): void {
  const hasLeader = registry.gauge(
    "etcd_server_has_leader",
    "Whether or not a leader exists. 1 is existence, 0 is not.",
  );
  const isLeader = registry.gauge(
    "etcd_server_is_leader",
    "Whether or not this member is a leader. 1 if is, 0 otherwise.",
  );
  const committed = registry.gauge(
    "etcd_server_proposals_committed_total",
    "The total number of consensus proposals committed.",
  );
  const applied = registry.gauge(
    "etcd_server_proposals_applied_total",
    "The total number of consensus proposals applied.",
  );
  const term = registry.gauge("etcd_server_term", "The raft term this member is in.");
  const quota = registry.gauge(
    "etcd_server_quota_backend_bytes",
    "Current backend storage quota size in bytes.",
  );
  const dbSize = registry.gauge(
    "etcd_mvcc_db_total_size_in_bytes",
    "Total size of the underlying database physically allocated in bytes.",
  );
  const dbInUse = registry.gauge(
    "etcd_mvcc_db_total_size_in_use_in_bytes",
    "Total size of the underlying database logically in use in bytes.",
  );
  const revision = registry.gauge(
    "etcd_debugging_mvcc_current_revision",
    "The current revision of store.",
  );
  const rss = registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  const leaderChanges = registry.counter(
    "etcd_server_leader_changes_seen_total",
    "The number of leader changes seen.",
  );
  const peers = registerPeerMetrics(registry, member);
  registry.gauge(
    "process_start_time_seconds",
    "Start time of the process since unix epoch in seconds.",
  )
    .set(Math.floor(startedAtMs / 1000));
  registry.gauge(
    "etcd_server_id",
    "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
    [
      "server_id",
    ],
  ).set(1, { server_id: formatId(member.id) });
  registry.gauge(
    "etcd_server_version",
    "Which version is running. 1 for 'server_version' label with current version.",
    [
      "server_version",
    ],
  ).set(1, { server_version: ETCD_COMPAT_VERSION });
  registry.gauge(
    "etcd_cluster_version",
    "Which version is running. 1 for 'cluster_version' label with current cluster version",
    [
      "cluster_version",
    ],
  ).set(1, { cluster_version: ETCD_CLUSTER_VERSION.split(".").slice(0, 2).join(".") });

  registry.onCollect(() => {
    hasLeader.set(member.leader !== 0n ? 1 : 0);
    isLeader.set(member.isLeader ? 1 : 0);
    committed.set(member.commitIndex);
    applied.set(member.appliedIndex);
    term.set(member.term);
    quota.set(member.config.quotaBackendBytes);
    const stats = member.backend.stats();
    dbSize.set(stats.fileBytes);
    dbInUse.set(stats.inUseBytes);
    revision.set(member.store.rev());
    rss.set(Deno.memoryUsage().rss);
    catchUp(leaderChanges, member.leaderChanges, {});
    peers();
  });
}

/** Raises a counter that mirrors a count kept elsewhere to that count. */
function catchUp(c: Counter, now: number, labels: Record<string, string>): void {
  const by = now - c.get(labels);
  if (by > 0) c.inc(labels, by);
}

/**
 * etcd's etcd_network_* peer metrics from the transport's per-peer counters: bytes sent and
 * received, send failures, snapshots, and which peers are reachable now. Returns the collector.
 */
function registerPeerMetrics(registry: MetricsRegistry, member: Member): () => void {
  const sent = registry.counter(
    "etcd_network_peer_sent_bytes_total",
    "The total number of bytes sent to peers.",
    ["To"],
  );
  const received = registry.counter(
    "etcd_network_peer_received_bytes_total",
    "The total number of bytes received from peers.",
    ["From"],
  );
  const failures = registry.counter(
    "etcd_network_peer_sent_failures_total",
    "The total number of send failures from peers.",
    ["To"],
  );
  const snapOk = registry.counter(
    "etcd_network_snapshot_send_success",
    "Total number of successful snapshot sends",
    ["To"],
  );
  const snapFailed = registry.counter(
    "etcd_network_snapshot_send_failures",
    "Total number of snapshot send failures",
    ["To"],
  );
  const active = registry.gauge(
    "etcd_network_active_peers",
    "The current number of active peer connections.",
    ["Local", "Remote"],
  );
  const rtt = registry.gauge(
    "concord_network_peer_round_trip_time_seconds",
    "The last measured round-trip time to each peer (etcd keeps a histogram of the same).",
    ["To"],
  );
  return () => {
    const t = member.transport;
    if (t === null) return;
    const local = formatId(member.id);
    for (const s of t.stats()) {
      const id = formatId(s.id);
      catchUp(sent, s.bytesSent, { To: id });
      catchUp(received, s.bytesReceived, { From: id });
      catchUp(failures, s.failures, { To: id });
      catchUp(snapOk, s.snapshotsSent, { To: id });
      catchUp(snapFailed, s.snapshotsFailed, { To: id });
      active.set(s.activeSince > 0 ? 1 : 0, { Local: local, Remote: id });
      rtt.set(s.rttMs / 1000, { To: id });
    }
  };
}
