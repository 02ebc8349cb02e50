/**
 * Peer calls (Transport.call / TransportHost.handleCall): the leader answers lease renewals
 * and TTLs for followers through them. Over HTTP/2 and over the simulated network: answers
 * arrive byte-exact, a refusal keeps its gRPC code and message, an unknown peer or a cut link
 * fails, and another cluster's member is refused.
 */
import assert from "node:assert/strict";
import { Rand } from "../../lib/base/rand.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { SimNetwork } from "../../lib/transport/sim_network.ts";
import { PeerCallError } from "../../lib/transport/transport.ts";
import { PeerRefusedError } from "../../lib/transport/http_peer.ts";
import { connectAll, startMember, stopAll } from "./http_cluster.ts";
import { RecordingHost } from "./recording_host.ts";

Deno.test("peer call over HTTP/2: answers, refusals with etcd's code, other clusters refused", async () => {
  const a = await startMember(1n, 0xc1n);
  const b = await startMember(2n, 0xc1n);
  const stranger = await startMember(3n, 0xbadn);
  try {
    connectAll([a, b]);
    stranger.transport.addPeer({ id: 2n, urls: [b.url] });
    const body = new Uint8Array(70_000).map((_, i) => (i * 7919) & 0xff);
    const out = await a.transport.call(2n, "echo", body, 5000);
    assert.deepEqual(out, body);
    assert.equal(b.host.calls[0].from, 1n);
    const err = await a.transport.call(2n, "refuse", new Uint8Array(1), 5000).catch((e) => e);
    assert.ok(err instanceof PeerCallError, String(err));
    assert.equal(err.code, 5);
    assert.equal(err.message, "etcdserver: requested lease not found");
    const other = await stranger.transport.call(2n, "echo", body, 5000).catch((e) => e);
    assert.ok(other instanceof PeerRefusedError, String(other));
    assert.equal(other.status, 412);
    assert.equal(b.host.calls.length, 2, "the stranger's call reached the host");
    await assert.rejects(a.transport.call(9n, "echo", body, 5000), /not known/);
  } finally {
    await stopAll([a, b, stranger]);
  }
});

Deno.test("peer call over the simulated network: delivered after a delay, refused over a cut link", async () => {
  const clock = new SimClock();
  const net = new SimNetwork(new Rand(7), clock, { trace: false });
  const h1 = new RecordingHost(1n, 0xc1n);
  const h2 = new RecordingHost(2n, 0xc1n);
  const t1 = net.join(h1);
  const t2 = net.join(h2);
  t1.addPeer({ id: 2n, urls: ["sim://2"] });
  t2.addPeer({ id: 1n, urls: ["sim://1"] });
  const step = async (p: Promise<unknown>) => {
    let done = false;
    p.then(() => (done = true), () => (done = true));
    for (let i = 0; i < 1000 && !done; i++) {
      clock.advance(5);
      await new Promise((r) => setTimeout(r, 0));
    }
    return p;
  };
  const out = await step(t1.call(2n, "echo", new Uint8Array([1, 2, 3]), 1000));
  assert.deepEqual(out, new Uint8Array([1, 2, 3]));
  const refused = await step(t1.call(2n, "refuse", new Uint8Array(0), 1000).catch((e) => e));
  assert.ok(refused instanceof PeerCallError);
  net.partition([1n], [2n]);
  await assert.rejects(step(t1.call(2n, "echo", new Uint8Array(1), 1000)), /unreachable/);
  await t1.close();
  await t2.close();
});
