/**
 * etcd's etcd_network_* peer metrics, from the transport's per-peer counters: bytes sent and
 * received, send failures, snapshots, and which peers are reachable now. Read at each scrape;
 * a cluster of one has no transport and shows none of these series (as etcd shows none).
 */
import type { Counter, MetricsRegistry } from "./metrics.ts";
import type { Member } from "../server/member.ts";
import { formatId } from "../server/member_id.ts";

/** Raises a labelled counter that mirrors a count kept elsewhere to that count. */
function catchUp(c: Counter, now: number, labels: Record<string, string>): void {
  const by = now - c.get(labels);
  if (by > 0) c.inc(labels, by);
}

/** Registers the peer families for `member`; returns the collector to run at each scrape. */
export function registerPeerMetrics(registry: MetricsRegistry, member: Member): () => void {
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
