/**
 * etcd's metric families that its single-member fixture (fixtures/etcd34_metrics.txt) cannot
 * show, taken from etcd's source: the peer families of rafthttp/metrics.go (v3.4.23 and
 * v3.5.33 agree), etcd_network_server_stream_failures_total of v3rpc/metrics.go, and the
 * probe families of v3.5.33's etcdhttp/health.go. A family with no series has no line in
 * etcd's /metrics, so the fixture has none of these.
 */

/** etcd's peer families: name -> [type, help, label names (sorted), buckets]. */
export const ETCD_PEER_FAMILIES: Record<string, [string, string, string[], string?]> = {
  etcd_network_active_peers: ["gauge", "The current number of active peer connections.", [
    "Local",
    "Remote",
  ]],
  etcd_network_disconnected_peers_total: ["counter", "The total number of disconnected peers.", [
    "Local",
    "Remote",
  ]],
  etcd_network_peer_sent_bytes_total: ["counter", "The total number of bytes sent to peers.", [
    "To",
  ]],
  etcd_network_peer_received_bytes_total: [
    "counter",
    "The total number of bytes received from peers.",
    ["From"],
  ],
  etcd_network_peer_sent_failures_total: [
    "counter",
    "The total number of send failures from peers.",
    ["To"],
  ],
  etcd_network_peer_received_failures_total: [
    "counter",
    "The total number of receive failures from peers.",
    ["From"],
  ],
  etcd_network_snapshot_send_success: ["counter", "Total number of successful snapshot sends", [
    "To",
  ]],
  etcd_network_snapshot_send_inflights_total: [
    "gauge",
    "Total number of inflight snapshot sends",
    ["To"],
  ],
  etcd_network_snapshot_send_failures: ["counter", "Total number of snapshot send failures", [
    "To",
  ]],
  etcd_network_snapshot_send_total_duration_seconds: [
    "histogram",
    "Total latency distributions of v3 snapshot sends",
    ["To"],
    "0.1 0.2 0.4 0.8 1.6 3.2 6.4 12.8 25.6 51.2 +Inf",
  ],
  etcd_network_snapshot_receive_success: [
    "counter",
    "Total number of successful snapshot receives",
    ["From"],
  ],
  etcd_network_snapshot_receive_inflights_total: [
    "gauge",
    "Total number of inflight snapshot receives",
    ["From"],
  ],
  etcd_network_snapshot_receive_failures: [
    "counter",
    "Total number of snapshot receive failures",
    ["From"],
  ],
  etcd_network_snapshot_receive_total_duration_seconds: [
    "histogram",
    "Total latency distributions of v3 snapshot receives",
    ["From"],
    "0.1 0.2 0.4 0.8 1.6 3.2 6.4 12.8 25.6 51.2 +Inf",
  ],
  etcd_network_peer_round_trip_time_seconds: [
    "histogram",
    "Round-Trip-Time histogram between peers",
    ["To"],
    "0.0001 0.0002 0.0004 0.0008 0.0016 0.0032 0.0064 0.0128 0.0256 0.0512 0.1024 0.2048 " +
    "0.4096 0.8192 1.6384 3.2768 +Inf",
  ],
};

/** The other families beyond the fixture: name -> [type, help, label names (sorted)]. */
export const ETCD_OTHER_FAMILIES: Record<string, [string, string, string[]]> = {
  etcd_network_server_stream_failures_total: [
    "counter",
    "The total number of stream failures from the local server.",
    ["API", "Type"],
  ],
  etcd_server_healthcheck: ["gauge", "The result of each kind of healthcheck.", ["name", "type"]],
  etcd_server_healthchecks_total: [
    "counter",
    "The total number of each kind of healthcheck.",
    ["name", "status", "type"],
  ],
};
