/**
 * etcd's etcd_network_* peer metrics (etcd's rafthttp/metrics.go, the same in v3.4.23 and
 * v3.5.33), from the transport's per-peer counters: bytes sent and received (raft messages
 * and snapshots), send and receive
 * failures, disconnections, snapshots sent and received (with those under way), and which
 * peers are reachable now. Counters are read at each scrape; the durations (round trips,
 * snapshots) are observed as they happen. A cluster of one has no transport and shows no
 * series of these families (as etcd shows none).
 */
import { type Counter, exponentialBuckets, type MetricsRegistry } from "./metrics.ts";
import type { MemberId } from "../base/types.ts";
import type { Transport } from "../transport/mod.ts";
import { formatId } from "../server/member_id.ts";

/** Raises a labelled counter that mirrors a count kept elsewhere to that count. */
function catchUp(c: Counter, now: number, labels: Record<string, string>): void {
  const by = now - c.get(labels);
  if (by > 0) c.inc(labels, by);
}

/** What the transport calls with each duration it measures (HttpTransportOptions' hooks). */
export interface PeerObservers {
  onRoundTrip: (peer: MemberId, seconds: number) => void;
  onSnapshotSent: (peer: MemberId, seconds: number) => void;
  onSnapshotReceived: (peer: MemberId, seconds: number) => void;
}

/**
 * Registers etcd's peer histograms: etcd_network_peer_round_trip_time_seconds (buckets 0.1 ms
 * to 3.2768 s) and etcd_network_snapshot_{send,receive}_total_duration_seconds (0.1 s to
 * 51.2 s); returns the hooks the transport calls with each measurement.
 */
export function registerPeerObservers(registry: MetricsRegistry): PeerObservers {
  const rtt = registry.histogram(
    "etcd_network_peer_round_trip_time_seconds",
    "Round-Trip-Time histogram between peers",
    ["To"],
    exponentialBuckets(0.0001, 2, 16),
  );
  const sent = registry.histogram(
    "etcd_network_snapshot_send_total_duration_seconds",
    "Total latency distributions of v3 snapshot sends",
    ["To"],
    exponentialBuckets(0.1, 2, 10),
  );
  const received = registry.histogram(
    "etcd_network_snapshot_receive_total_duration_seconds",
    "Total latency distributions of v3 snapshot receives",
    ["From"],
    exponentialBuckets(0.1, 2, 10),
  );
  return {
    onRoundTrip: (peer, seconds) => rtt.observe(seconds, { To: formatId(peer) }),
    onSnapshotSent: (peer, seconds) => sent.observe(seconds, { To: formatId(peer) }),
    onSnapshotReceived: (peer, seconds) => received.observe(seconds, { From: formatId(peer) }),
  };
}

/** The member whose peers are measured: its id and its transport (null in a cluster of one). */
export interface PeerMetricsSource {
  readonly id: MemberId;
  readonly transport: Transport | null;
}

/** Registers the peer families for `member`; returns the collector to run at each scrape. */
export function registerPeerMetrics(
  registry: MetricsRegistry,
  member: PeerMetricsSource,
): () => void {
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
  const recvFailures = registry.counter(
    "etcd_network_peer_received_failures_total",
    "The total number of receive failures from peers.",
    ["From"],
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
  const snapSending = registry.gauge(
    "etcd_network_snapshot_send_inflights_total",
    "Total number of inflight snapshot sends",
    ["To"],
  );
  const snapReceived = registry.counter(
    "etcd_network_snapshot_receive_success",
    "Total number of successful snapshot receives",
    ["From"],
  );
  const snapReceiveFailed = registry.counter(
    "etcd_network_snapshot_receive_failures",
    "Total number of snapshot receive failures",
    ["From"],
  );
  const snapReceiving = registry.gauge(
    "etcd_network_snapshot_receive_inflights_total",
    "Total number of inflight snapshot receives",
    ["From"],
  );
  const active = registry.gauge(
    "etcd_network_active_peers",
    "The current number of active peer connections.",
    ["Local", "Remote"],
  );
  const disconnected = registry.counter(
    "etcd_network_disconnected_peers_total",
    "The total number of disconnected peers.",
    ["Local", "Remote"],
  );
  return () => {
    const t = member.transport;
    if (t === null) return;
    const local = formatId(member.id);
    for (const s of t.stats()) {
      const id = formatId(s.id);
      const to = { To: id };
      const from = { From: id };
      const pair = { Local: local, Remote: id };
      // as etcd's, the bytes of snapshots too
      catchUp(sent, s.bytesSent + s.snapshotBytesSent, to);
      catchUp(received, s.bytesReceived + s.snapshotBytesReceived, from);
      // as etcd's: one per message that never reached the peer and one per failed snapshot;
      // failed dials and probes (s.failures) send no message and count none
      catchUp(failures, s.dropped + s.snapshotsFailed, to);
      catchUp(recvFailures, s.receiveFailures, from);
      catchUp(snapOk, s.snapshotsSent, to);
      catchUp(snapFailed, s.snapshotsFailed, to);
      snapSending.set(s.snapshotsSending, to);
      catchUp(snapReceived, s.snapshotsReceived, from);
      catchUp(snapReceiveFailed, s.snapshotReceiveFailures, from);
      snapReceiving.set(s.snapshotsReceiving, from);
      active.set(s.activeSince > 0 ? 1 : 0, pair);
      catchUp(disconnected, s.disconnects, pair);
    }
  };
}
