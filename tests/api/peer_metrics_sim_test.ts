/**
 * etcd's peer metrics over the simulated network: the same families, rendered from the sim
 * transport's PeerStats, count what the HTTP transport counts at the same events (see
 * peer_metrics_test.ts for those): bytes, messages that could not leave (send failures), a
 * link cut (a disconnection at the sender, a receive failure at the receiver), snapshots sent,
 * refused, damaged (a receive failure too) and under way.
 */
import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import type { MemberId } from "../../lib/base/types.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { MetricsRegistry } from "../../lib/api/metrics.ts";
import { registerPeerMetrics } from "../../lib/api/peer_metrics.ts";
import { encodeFrames } from "../../lib/transport/frames.ts";
import { SimNetwork } from "../../lib/transport/sim_network.ts";
import type { Transport } from "../../lib/transport/transport.ts";
import { msg, RecordingHost, snapMsg } from "../transport/recording_host.ts";
import { sample } from "./prom_text.ts";

const CID = 0x51an;

interface SimMember {
  host: RecordingHost;
  transport: Transport;
  /** The member's peer families as /metrics renders them. */
  scrape(): string;
}

function join(net: SimNetwork, id: MemberId): SimMember {
  const host = new RecordingHost(id, CID);
  const transport = net.join(host);
  const registry = new MetricsRegistry();
  registry.onCollect(registerPeerMetrics(registry, { id, transport }));
  return { host, transport, scrape: () => registry.render() };
}

/** Lets the snapshot's async steps run between clock steps. */
async function run(clock: SimClock, ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    for (let j = 0; j < 20; j++) await Promise.resolve();
  }
}

const v = (m: SimMember, series: string) => sample(m.scrape(), series) ?? 0;

Deno.test("peer metrics in a simulation: bytes, send failures, a cut link, snapshots", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const clock = new SimClock();
  const net = new SimNetwork(new Rand(seed), clock);
  const a = join(net, 1n);
  const b = join(net, 2n);
  a.transport.addPeer({ id: 2n, urls: [] });
  b.transport.addPeer({ id: 1n, urls: [] });
  assert.equal(v(a, 'etcd_network_active_peers{Local="1",Remote="2"}'), 1);

  // two messages: their framed bytes on both sides, as over HTTP
  a.transport.send([msg(1n, 2n, 1), msg(1n, 2n, 2)]);
  await run(clock, 10);
  assert.equal(b.host.received.length, 2);
  const framed = encodeFrames([msg(1n, 2n, 1), msg(1n, 2n, 2)]).length;
  assert.equal(v(a, 'etcd_network_peer_sent_bytes_total{To="2"}'), framed);
  assert.equal(v(b, 'etcd_network_peer_received_bytes_total{From="1"}'), framed);

  // the link cut both ways: a disconnection and a broken incoming stream on each side;
  // each message sent meanwhile is a send failure
  net.partition([1n], [2n]);
  assert.equal(v(a, 'etcd_network_active_peers{Local="1",Remote="2"}'), 0);
  assert.equal(v(a, 'etcd_network_disconnected_peers_total{Local="1",Remote="2"}'), 1);
  assert.equal(v(b, 'etcd_network_disconnected_peers_total{Local="2",Remote="1"}'), 1);
  assert.equal(v(a, 'etcd_network_peer_received_failures_total{From="2"}'), 1);
  assert.equal(v(b, 'etcd_network_peer_received_failures_total{From="1"}'), 1);
  a.transport.send([msg(1n, 2n, 3), msg(1n, 2n, 4), msg(1n, 2n, 5)]);
  assert.equal(v(a, 'etcd_network_peer_sent_failures_total{To="2"}'), 3);
  net.heal();
  assert.equal(v(a, 'etcd_network_active_peers{Local="1",Remote="2"}'), 1);

  // a snapshot: under way on the sender until delivered, then counted on both sides
  a.host.snapshotFile = new Rand(seed).bytes(50_000);
  a.transport.send([snapMsg(1n, 2n, 7)]);
  await run(clock, 0);
  assert.equal(v(a, 'etcd_network_snapshot_send_inflights_total{To="2"}'), 1);
  await run(clock, 20);
  assert.deepEqual(a.host.snapshotReports, [{ to: 2n, ok: true }]);
  assert.equal(v(a, 'etcd_network_snapshot_send_inflights_total{To="2"}'), 0);
  assert.equal(v(a, 'etcd_network_snapshot_send_success{To="2"}'), 1);
  assert.equal(v(b, 'etcd_network_snapshot_receive_success{From="1"}'), 1);
  assert.equal(v(b, 'etcd_network_snapshot_receive_inflights_total{From="1"}'), 0);
  assert.ok(v(b, 'etcd_network_peer_received_bytes_total{From="1"}') >= framed + 50_000);

  // refused by the receiver's store: a send failure, a receive failure of the snapshot only
  b.host.refuseSnapshots = "no space left on device";
  a.transport.send([snapMsg(1n, 2n, 8)]);
  await run(clock, 20);
  assert.equal(v(a, 'etcd_network_snapshot_send_failures{To="2"}'), 1);
  assert.equal(v(a, 'etcd_network_peer_sent_failures_total{To="2"}'), 4);
  assert.equal(v(b, 'etcd_network_snapshot_receive_failures{From="1"}'), 1);
  assert.equal(v(b, 'etcd_network_peer_received_failures_total{From="1"}'), 1);

  // damaged on the way: the peer's failure too (a receive failure, as a bad body over HTTP)
  b.host.refuseSnapshots = "";
  net.setFaults({ snapshotFaultRate: 1 });
  a.transport.send([snapMsg(1n, 2n, 9)]);
  await run(clock, 20);
  assert.equal(v(a, 'etcd_network_snapshot_send_failures{To="2"}'), 2);
  assert.equal(v(a, 'etcd_network_peer_sent_failures_total{To="2"}'), 5);
  assert.equal(v(b, 'etcd_network_snapshot_receive_failures{From="1"}'), 2);
  assert.equal(v(b, 'etcd_network_peer_received_failures_total{From="1"}'), 2);
  assert.equal(v(b, 'etcd_network_snapshot_receive_success{From="1"}'), 1);

  // b stops: a sees a disconnection and b's stream to it break; b, stopped, counts nothing
  await b.transport.close();
  assert.equal(v(a, 'etcd_network_disconnected_peers_total{Local="1",Remote="2"}'), 2);
  assert.equal(v(a, 'etcd_network_peer_received_failures_total{From="2"}'), 2);
  assert.equal(v(b, 'etcd_network_disconnected_peers_total{Local="2",Remote="1"}'), 1);
  await a.transport.close();
});
