/** The Cluster page's view of peers from /metrics: connection state and round trip times. */
import assert from "node:assert/strict";
import { parseMetrics } from "../../lib/ui/prom_text.ts";
import { peerLinksOf } from "../../lib/ui/peer_links.ts";

Deno.test("peer links: active peers, last or mean round trip", () => {
  const links = peerLinksOf(parseMetrics(`
etcd_network_active_peers{Local="a",Remote="b"} 1
etcd_network_active_peers{Local="a",Remote="c"} 0
etcd_network_active_peers{Local="a",Remote="d"} 1
concord_network_peer_round_trip_time_seconds{To="b"} 0.0004
etcd_network_peer_round_trip_time_seconds_sum{To="d"} 0.003
etcd_network_peer_round_trip_time_seconds_count{To="d"} 6
etcd_network_peer_round_trip_time_seconds_bucket{To="d",le="+Inf"} 6
`));
  assert.deepEqual(links.get("b"), { active: true, rtt: { seconds: 0.0004, kind: "last" } });
  assert.deepEqual(links.get("c"), { active: false });
  assert.deepEqual(links.get("d"), { active: true, rtt: { seconds: 0.0005, kind: "mean" } });
  assert.equal(links.size, 3);
  assert.equal(peerLinksOf([]).size, 0);
});
