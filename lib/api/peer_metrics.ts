/**
 * etcd's etcd_network_* peer metrics, from the transport's per-peer counters: bytes sent and
 * received, send failures, snapshots, and which peers are reachable now. Read at each scrape;
 * a cluster of one has no transport and shows none of these series (as etcd shows none).
 */
import { type Counter, exponentialBuckets, type MetricsRegistry } from "./metrics.ts";
import type { MemberId } from "../base/types.ts";
import type { Member } from "../server/member.ts";
import { formatId } from "../server/member_id.ts";

/** Raises a labelled counter that mirrors a count kept elsewhere to that count. */
function catchUp(c: Counter, now: number, labels: Record<string, string>): void {
  const by = now - c.get(labels);
  if (by > 0) c.inc(labels, by);
}

/**
 * Registers etcd_network_peer_round_trip_time_seconds (etcd's buckets: 0.1 ms to 3.2768 s)
 * and returns what the transport calls with each probe's round-trip time.
 */
export function registerPeerRoundTrip(
  registry: MetricsRegistry,
): (peer: MemberId, seconds: number) => void {
  const rtt = registry.histogram(
    "etcd_network_peer_round_trip_time_seconds",
    "Round-Trip-Time histogram between peers",
    ["To"],
    exponentialBuckets(0.0001, 2, 16),
  );
  return (peer, seconds) => rtt.observe(seconds, { To: formatId(peer) });
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
    }
  };
}
