/**
 * The HTTP transport between in-process members over real loopback HTTP/2: ordering and
 * batching, dead and late peers, a stalled peer, refusals, garbage on the port, snapshots
 * through the pipeline (whole, corrupted and cut in transit).
 */
import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { serveHttp } from "../../lib/http/server.ts";
import { MessageType } from "../../lib/raft/mod.ts";
import type { PeerStats } from "../../lib/transport/transport.ts";
import {
  connectAll,
  FAST,
  freePort,
  Proxy,
  startMember,
  stopAll,
  type TestMember,
  waitFor,
} from "./http_cluster.ts";
import { bigApp, msg, RecordingHost, snapMsg } from "./recording_host.ts";
import { HttpTransport } from "../../lib/transport/http_transport.ts";
import { PEER_CLOSE_WAIT_MS } from "../../lib/transport/peer_server.ts";

const CID = 0x1234n;

function statsOf(m: TestMember, id: bigint): PeerStats {
  const s = m.transport.stats().find((x) => x.id === id);
  assert.ok(s, `no stats for ${id}`);
  return s;
}

async function upAll(members: TestMember[]): Promise<void> {
  for (const a of members) {
    for (const b of members) {
      if (a === b) continue;
      await waitFor(() => a.transport.activeSince(b.id) > 0, `stream ${a.id}->${b.id}`);
    }
  }
}

Deno.test("http transport: messages arrive in order per peer; one turn's messages leave in one write", async () => {
  const ms = await Promise.all([1n, 2n, 3n].map((id) => startMember(id, CID)));
  try {
    connectAll(ms);
    await upAll(ms);
    const [a, b, c] = ms;
    // one call, one turn: 500 messages to each peer leave in one write each
    const batch = [];
    for (let i = 0; i < 500; i++) batch.push(msg(1n, 2n, i), msg(1n, 3n, i));
    a.transport.send(batch);
    await waitFor(() => b.host.received.length === 500 && c.host.received.length === 500, "500");
    assert.equal(statsOf(a, 2n).writes, 1);
    assert.equal(statsOf(a, 3n).writes, 1);
    // then many turns with big and small messages, from two senders at once
    for (let i = 500; i < 1500; i++) {
      a.transport.send([i % 50 === 0 ? bigApp(1n, 2n, i, 100_000) : msg(1n, 2n, i)]);
      c.transport.send([msg(3n, 2n, i)]);
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    await waitFor(() => b.host.received.length === 2500, "all messages at 2");
    const from1 = b.host.received.filter((m) => m.from === 1n).map((m) => m.commit);
    const from3 = b.host.received.filter((m) => m.from === 3n).map((m) => m.commit);
    assert.deepEqual(from1, [...Array(1500).keys()]);
    assert.deepEqual(from3, [...Array(1500).keys()].slice(500));
    assert.equal(
      b.host.received.find((m) => m.from === 1n && m.commit === 1000)?.entries[0].data.length,
      100_000,
    );
    const s = statsOf(a, 2n);
    assert.equal(s.messagesSent, 1500);
    assert.equal(s.dropped, 0);
    assert.ok(s.writes < 1500, `batched: ${s.writes} writes`);
    const r = statsOf(b, 1n);
    assert.equal(r.messagesReceived, 1500);
    assert.equal(r.bytesReceived, s.bytesSent);
    assert.deepEqual(a.host.unreachable, []);
  } finally {
    await stopAll(ms);
  }
});

Deno.test("http transport: a dead peer does not block a live one, is unreachable, and reconnects when it comes up", async () => {
  const deadPort = freePort();
  const a = await startMember(1n, CID);
  const b = await startMember(2n, CID);
  const members = [a, b];
  try {
    a.transport.addPeer({ id: 2n, urls: [b.url] });
    a.transport.addPeer({ id: 3n, urls: [`http://127.0.0.1:${deadPort}`] });
    await waitFor(() => a.transport.activeSince(2n) > 0, "stream to 2");
    for (let i = 0; i < 100; i++) a.transport.send([msg(1n, 2n, i), msg(1n, 3n, i)]);
    await waitFor(() => b.host.received.length === 100, "messages at 2");
    assert.equal(a.transport.activeSince(3n), 0);
    assert.equal(a.host.unreachable.filter((id) => id === 3n).length, 100);
    assert.ok(!a.host.unreachable.includes(2n));
    const s3 = statsOf(a, 3n);
    assert.equal(s3.dropped, 100);
    await waitFor(() => statsOf(a, 3n).failures >= 2, "dial retries");
    assert.match(statsOf(a, 3n).lastError, /stream/);

    // the peer comes up on that port: the stream reconnects and messages flow
    const c = await startMember(3n, CID, { port: deadPort });
    members.push(c);
    await waitFor(() => a.transport.activeSince(3n) > 0, "stream to 3 after it came up");
    a.transport.send([msg(1n, 3n, 1000)]);
    await waitFor(() => c.host.received.length === 1, "message at 3");
    assert.equal(c.host.received[0].commit, 1000);
    assert.ok(a.logs.some((l) => l.includes("established TCP streaming connection")));

    // it goes away again: reported unreachable once the stream breaks
    const before = a.host.unreachable.length;
    await c.transport.close();
    await c.server?.close();
    c.server = null;
    await waitFor(() => a.transport.activeSince(3n) === 0, "stream to 3 down");
    await waitFor(() => a.host.unreachable.length > before, "unreachable report");
    assert.ok(a.logs.some((l) => l.includes("lost TCP streaming connection")));
  } finally {
    await stopAll(members);
  }
});

Deno.test("http transport: a stalled peer fills its queue, which drops and counts; others flow", async () => {
  // a "peer" that accepts the stream and never reads it: flow control stops the writes
  const stalled = await serveHttp({
    handler: (req) =>
      Promise.resolve({
        status: 200,
        body: (async function* () {
          yield new Uint8Array(0);
          await new Promise((r) => req.signal.addEventListener("abort", r));
        })(),
      }),
    limits: { drainTimeoutMs: 100, maxBodyBytes: Number.MAX_SAFE_INTEGER },
  });
  const a = await startMember(1n, CID, { queueLimit: 64 });
  const c = await startMember(3n, CID);
  try {
    a.transport.addPeer({ id: 2n, urls: [`http://127.0.0.1:${stalled.port}`] });
    a.transport.addPeer({ id: 3n, urls: [c.url] });
    await waitFor(() => a.transport.activeSince(2n) > 0 && a.transport.activeSince(3n) > 0, "up");
    for (let i = 0; i < 400; i++) {
      a.transport.send([bigApp(1n, 2n, i, 16 * 1024), msg(1n, 3n, i)]);
      await new Promise((r) => setTimeout(r, 0));
    }
    await waitFor(() => c.host.received.length === 400, "all messages at the live peer");
    const s = statsOf(a, 2n);
    assert.ok(s.dropped > 0, "the full queue dropped");
    assert.ok(s.messagesSent + s.dropped <= 400);
    assert.ok(s.messagesSent < 100, `flow control held the writes (${s.messagesSent} sent)`);
    assert.ok(a.host.unreachable.includes(2n));
    assert.ok(!a.host.unreachable.includes(3n));
    assert.equal(
      a.logs.filter((l) => l.includes("dropped internal Raft message since sending buffer is full"))
        .length,
      1,
      "logged once per overflow",
    );
  } finally {
    await stopAll([a, c]);
    await stalled.close();
  }
});

Deno.test("http transport: wrong cluster id (412) and removed member (410) refuse the stream", async () => {
  const a = await startMember(1n, CID);
  const b = await startMember(2n, CID + 1n);
  const c = await startMember(3n, CID);
  try {
    c.host.removed.add(1n);
    a.transport.addPeer({ id: 2n, urls: [b.url] });
    a.transport.addPeer({ id: 3n, urls: [c.url] });
    await waitFor(() => statsOf(a, 2n).failures > 0 && statsOf(a, 3n).failures > 0, "refusals");
    assert.match(statsOf(a, 2n).lastError, /412 "cluster ID mismatch"/);
    assert.match(statsOf(a, 3n).lastError, /410 "removed member"/);
    // retried (failures > 1) but logged once each
    await waitFor(() => statsOf(a, 2n).failures > 2, "retries");
    assert.equal(
      a.logs.filter((l) =>
        l.includes("remote peer refused our request") && l.endsWith('reason="cluster ID mismatch"')
      ).length,
      1,
    );
    assert.equal(
      a.logs.filter((l) => l.endsWith('reason="this member was removed from the cluster"')).length,
      1,
    );
    assert.ok(a.host.removedBy.length > 0 && a.host.removedBy.every((id) => id === 3n));
    a.transport.send([msg(1n, 2n, 1), msg(1n, 3n, 2)]);
    assert.deepEqual(a.host.unreachable, [2n, 3n]);
    assert.equal(a.transport.activeSince(2n), 0);
    assert.equal(a.transport.activeSince(3n), 0);
    // the snapshot pipeline is refused the same way
    a.host.snapshotFile = new Uint8Array(1000);
    a.transport.send([snapMsg(1n, 2n, 5)]);
    await waitFor(() => a.host.snapshotReports.length === 1, "snapshot report");
    assert.deepEqual(a.host.snapshotReports, [{ to: 2n, ok: false }]);
    assert.match(statsOf(a, 2n).lastError, /snapshot: .*412/);
    assert.deepEqual(b.host.received, []);
    assert.deepEqual(c.host.received, []);
    assert.deepEqual(b.host.stored, []);
  } finally {
    await stopAll([a, b, c]);
  }
});

Deno.test("http transport: garbage on the peer port is refused; the member keeps serving", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const ms = await Promise.all([1n, 2n].map((id) => startMember(id, CID)));
  try {
    connectAll(ms);
    await upAll(ms);
    const port = ms[1].server!.port;
    for (let i = 0; i < 4; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const junk = rand.bytes(100 + rand.int(1000));
      junk[0] = 0x16; // looks like nothing the server speaks
      await conn.write(new Uint8Array([...junk, 13, 10, 13, 10])).catch(() => 0);
      const buf = new Uint8Array(1024);
      while ((await conn.read(buf).catch(() => null)) !== null) { /* until closed */ }
      conn.close();
    }
    ms[0].transport.send([msg(1n, 2n, 7)]);
    await waitFor(() => ms[1].host.received.length === 1, "message after the garbage");
    assert.equal(ms[0].transport.activeSince(2n) > 0, true);
  } finally {
    await stopAll(ms);
  }
});

Deno.test("http transport: a snapshot of a few MiB arrives byte-exact through the pipeline", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const ms = await Promise.all(
    [1n, 2n].map((id) => startMember(id, CID, { snapshotLogBytes: 1024 * 1024 })),
  );
  try {
    connectAll(ms);
    await upAll(ms);
    const [a, b] = ms;
    a.host.snapshotFile = rand.bytes(4 * 1024 * 1024 + rand.int(1000));
    a.host.chunkSize = 1 + rand.int(200_000);
    a.transport.send([msg(1n, 2n, 1), snapMsg(1n, 2n, 42), msg(1n, 2n, 2)]);
    await waitFor(() => a.host.snapshotReports.length === 1, "snapshot report", 20_000);
    assert.deepEqual(a.host.snapshotReports, [{ to: 2n, ok: true }]);
    assert.equal(b.host.stored.length, 1);
    assert.equal(b.host.stored[0].m.snapshot?.metadata.index, 42);
    assert.equal(b.host.stored[0].m.type, MessageType.Snap);
    assert.deepEqual(b.host.stored[0].bytes, a.host.snapshotFile);
    assert.equal(a.host.sourcesClosed, 1);
    const s = statsOf(a, 2n);
    assert.equal(s.snapshotsSent, 1);
    assert.equal(s.snapshotBytesSent, a.host.snapshotFile.length);
    assert.equal(statsOf(b, 1n).snapshotBytesReceived, a.host.snapshotFile.length);
    // the stream's messages were not held up by it, nor mixed into it
    assert.deepEqual(b.host.received.map((m) => m.commit), [1, 2]);
    assert.ok(a.logs.some((l) => l.includes("sent database snapshot")));
    // progress, every MiB, on both sides
    const sending = a.logs.filter((l) =>
      l.includes('sending database snapshot: progress remote-peer-id="2"')
    );
    const receiving = b.logs.filter((l) =>
      l.includes('receiving database snapshot: progress remote-snapshot-sender-id="1"')
    );
    assert.equal(sending.length, 4, sending.join("\n"));
    assert.equal(receiving.length, 4, receiving.join("\n"));
  } finally {
    await stopAll(ms);
  }
});

Deno.test("http transport: a snapshot corrupted or cut in transit fails on both sides", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const b = await startMember(2n, CID);
  const proxy = new Proxy(b.server!.port);
  const a = await startMember(1n, CID);
  try {
    a.transport.addPeer({ id: 2n, urls: [`http://127.0.0.1:${proxy.port}`] });
    await waitFor(() => a.transport.activeSince(2n) > 0, "stream");
    a.host.snapshotFile = rand.bytes(3 * 1024 * 1024);

    // a byte flipped somewhere in the middle of the page file
    proxy.arm({ flipAt: 1024 * 1024 + rand.int(1024 * 1024) });
    a.transport.send([snapMsg(1n, 2n, 7)]);
    await waitFor(() => a.host.snapshotReports.length === 1, "report after the flip", 20_000);
    assert.ok(proxy.flipped);
    assert.deepEqual(a.host.snapshotReports, [{ to: 2n, ok: false }]);
    assert.equal(b.host.stored.length, 0, "the corrupted file was not kept");
    assert.equal(b.host.snapshotErrors.length, 1, "the payload's iteration threw");

    // the connection cut in the middle
    await waitFor(() => a.transport.activeSince(2n) > 0, "stream again");
    proxy.arm({ cutAt: 1024 * 1024 + rand.int(1024 * 1024) });
    a.transport.send([snapMsg(1n, 2n, 8)]);
    await waitFor(() => a.host.snapshotReports.length === 2, "report after the cut", 20_000);
    assert.ok(proxy.cut);
    assert.deepEqual(a.host.snapshotReports[1], { to: 2n, ok: false });
    await waitFor(() => b.host.snapshotErrors.length === 2, "the receiver's payload threw");
    assert.equal(b.host.stored.length, 0);
    assert.equal(statsOf(a, 2n).snapshotsFailed, 2);

    // and a whole one still goes through afterwards
    proxy.arm({});
    await waitFor(() => a.transport.activeSince(2n) > 0, "stream after the cut");
    a.transport.send([snapMsg(1n, 2n, 9)]);
    await waitFor(() => a.host.snapshotReports.length === 3, "third report", 20_000);
    assert.deepEqual(a.host.snapshotReports[2], { to: 2n, ok: true });
    assert.deepEqual(b.host.stored[0].bytes, a.host.snapshotFile);
  } finally {
    await stopAll([a, b]);
    await proxy.close();
  }
});

Deno.test("http transport: a source that yields fewer bytes than its size fails the send", async () => {
  const ms = await Promise.all([1n, 2n].map((id) => startMember(id, CID)));
  try {
    connectAll(ms);
    await upAll(ms);
    const [a, b] = ms;
    a.host.snapshotFile = new Uint8Array(100_000).fill(9);
    a.host.sizeSkew = 1;
    a.transport.send([snapMsg(1n, 2n, 3)]);
    await waitFor(() => a.host.snapshotReports.length === 1, "report");
    assert.deepEqual(a.host.snapshotReports, [{ to: 2n, ok: false }]);
    await waitFor(() => b.host.snapshotErrors.length === 1, "the receiver's payload threw");
    assert.equal(b.host.stored.length, 0);
    assert.match(statsOf(a, 2n).lastError, /yielded 100000 bytes, announced 100001/);
  } finally {
    await stopAll(ms);
  }
});

Deno.test("http transport: updatePeer moves the stream to new URLs; removePeer stops it", async () => {
  const deadPort = freePort();
  const ms = await Promise.all([1n, 2n].map((id) => startMember(id, CID)));
  try {
    const [a, b] = ms;
    a.transport.addPeer({ id: 2n, urls: [`http://127.0.0.1:${deadPort}`] });
    await waitFor(() => statsOf(a, 2n).failures > 0, "a failed dial");
    assert.equal(a.transport.activeSince(2n), 0);
    a.transport.updatePeer({ id: 2n, urls: [b.url] });
    await waitFor(() => a.transport.activeSince(2n) > 0, "stream at the new URL");
    a.transport.send([msg(1n, 2n, 1)]);
    await waitFor(() => b.host.received.length === 1, "message");
    // a second URL listed after the live one changes nothing
    a.transport.updatePeer({ id: 2n, urls: [b.url, `http://127.0.0.1:${deadPort}`] });
    a.transport.send([msg(1n, 2n, 2)]);
    await waitFor(() => b.host.received.length === 2, "second message");
    a.transport.removePeer(2n);
    assert.equal(a.transport.activeSince(2n), 0);
    assert.deepEqual(a.transport.stats(), []);
    a.transport.send([msg(1n, 2n, 3)]); // to no one: ignored, not reported
    assert.deepEqual(a.host.unreachable, []);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(b.host.received.length, 2);
    assert.throws(() => a.transport.addPeer({ id: 4n, urls: ["ftp://x"] }), /http: or https:/);
  } finally {
    await stopAll(ms);
  }
});

Deno.test("http transport: a peer that goes silent (no RST) is found by keep-alive and reconnected", async () => {
  const b = await startMember(2n, CID);
  const proxy = new Proxy(b.server!.port);
  const a = await startMember(1n, CID, { keepAliveIntervalMs: 100, keepAliveTimeoutMs: 300 });
  try {
    a.transport.addPeer({ id: 2n, urls: [`http://127.0.0.1:${proxy.port}`] });
    await waitFor(() => a.transport.activeSince(2n) > 0, "stream");
    const first = a.transport.activeSince(2n);
    proxy.frozen = true;
    await waitFor(() => a.transport.activeSince(2n) === 0, "stream torn down", 3000);
    assert.deepEqual(a.host.unreachable, [2n]);
    proxy.frozen = false;
    await waitFor(() => a.transport.activeSince(2n) > first, "stream again", 3000);
    a.transport.send([msg(1n, 2n, 5)]);
    await waitFor(() => b.host.received.length === 1, "message after the outage");
  } finally {
    await stopAll([a, b]);
    await proxy.close();
  }
});

Deno.test("http transport: connections cut at random moments never reorder or duplicate a peer's messages", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const b = await startMember(2n, CID);
  const proxy = new Proxy(b.server!.port);
  const a = await startMember(1n, CID, { backoffMinMs: 10, backoffMaxMs: 50 });
  try {
    a.transport.addPeer({ id: 2n, urls: [`http://127.0.0.1:${proxy.port}`] });
    await waitFor(() => a.transport.activeSince(2n) > 0, "stream");
    let n = 0;
    let cuts = 0;
    const deadline = Date.now() + 1500;
    while (Date.now() < deadline) {
      const batch = [];
      for (let i = rand.int(20); i >= 0; i--) batch.push(msg(1n, 2n, n++));
      a.transport.send(batch);
      if (rand.chance(0.02)) {
        proxy.cutAll();
        cuts++;
      }
      await new Promise((r) => setTimeout(r, rand.int(3)));
    }
    assert.ok(cuts >= 3, `${cuts} cuts`);
    const got = b.host.received.map((m) => m.commit);
    for (let i = 1; i < got.length; i++) {
      assert.ok(got[i] > got[i - 1], `order broken at ${i}: ${got[i - 1]} then ${got[i]}`);
    }
    const s = statsOf(a, 2n);
    assert.ok(s.failures >= 1);
    // everything sent is accounted for: delivered, dropped, or written into a stream that broke
    assert.ok(got.length <= n && s.messagesSent + s.dropped === n);
    // and after the last cut, messages flow again
    await waitFor(() => a.transport.activeSince(2n) > 0, "stream after the cuts");
    a.transport.send([msg(1n, 2n, n)]);
    await waitFor(() => b.host.received.at(-1)?.commit === n, "a message after the cuts");
  } finally {
    await stopAll([a, b]);
    await proxy.close();
  }
});

Deno.test("http transport: a receiver refusing a snapshot mid-body: the sender reports its answer", async () => {
  const ms = await Promise.all([1n, 2n].map((id) => startMember(id, CID)));
  try {
    connectAll(ms);
    await upAll(ms);
    const [a, b] = ms;
    b.host.refuseSnapshots = "no space left on device";
    a.host.snapshotFile = new Uint8Array(8 * 1024 * 1024);
    a.transport.send([snapMsg(1n, 2n, 3)]);
    await waitFor(() => a.host.snapshotReports.length === 1, "report");
    assert.deepEqual(a.host.snapshotReports, [{ to: 2n, ok: false }]);
    assert.match(statsOf(a, 2n).lastError, /500 "error saving snapshot: no space left on device"/);
    assert.ok(statsOf(a, 2n).snapshotBytesSent < a.host.snapshotFile.length, "stopped early");
    assert.equal(a.host.sourcesClosed, 1);
    // the stream was not disturbed
    a.transport.send([msg(1n, 2n, 1)]);
    await waitFor(() => b.host.received.length === 1, "message");
  } finally {
    await stopAll(ms);
  }
});

Deno.test("http transport: each probe's round trip goes to onRoundTrip (for the RTT histogram)", async () => {
  const seen: [bigint, number][] = [];
  const a = await startMember(1n, 0x55n, {
    probeIntervalMs: 50,
    onRoundTrip: (peer, seconds) => seen.push([peer, seconds]),
  });
  const b = await startMember(2n, 0x55n);
  try {
    connectAll([a, b]);
    await waitFor(() => seen.length >= 2, "two probes");
    for (const [peer, seconds] of seen) {
      assert.equal(peer, 2n);
      assert.ok(seconds > 0 && seconds < 5, `rtt ${seconds}`);
    }
    assert.equal(seen.at(-1)![1], a.transport.stats()[0].rttMs / 1000);
  } finally {
    await stopAll([a, b]);
  }
});

Deno.test("http transport: a peer that comes up and dials us is dialed back at once, not after the backoff", async () => {
  const port = freePort();
  // a's dials to b, down, back off 5 s after the first failure
  const a = await startMember(1n, CID, { backoffMinMs: 5000, backoffMaxMs: 5000 });
  const members = [a];
  try {
    a.transport.addPeer({ id: 2n, urls: [`http://127.0.0.1:${port}`] });
    await waitFor(() => statsOf(a, 2n).failures >= 1, "a's first dial to b failing");
    const up = Date.now();
    // b comes up (advertising no peer URLs) and dials a: a dials b back now (etcd's member
    // that comes up gets the leader's messages at once; here they waited out the backoff)
    const b = await startMember(2n, CID, { port });
    members.push(b);
    b.transport.addPeer({ id: 1n, urls: [a.url] });
    await waitFor(() => a.transport.activeSince(2n) > 0, "a's stream to b", 4000);
    assert.ok(Date.now() - up < 4000, `${Date.now() - up} ms`);
    a.transport.send([msg(1n, 2n, 7)]);
    await waitFor(() => b.host.received.length === 1, "a's message at b");
  } finally {
    await stopAll(members);
  }
});

Deno.test("http transport: a sender that is not a peer yet is answered at the URLs it advertises (etcd's remotes)", async () => {
  const port = freePort();
  const a = await startMember(1n, CID, { port, advertisePeerUrls: [`http://127.0.0.1:${port}`] });
  const b = await startMember(2n, CID);
  try {
    a.transport.addPeer({ id: 2n, urls: [b.url] });
    // b does not know a: before a's stream reaches it, a message to a goes nowhere
    b.transport.send([msg(2n, 1n, 1)]);
    await waitFor(() => a.transport.activeSince(2n) > 0, "a's stream to b");
    a.transport.send([msg(1n, 2n, 2)]);
    await waitFor(() => b.host.received.length === 1, "a's message at b");
    // now b answers a through the remote a advertised
    await waitFor(() => {
      b.transport.send([msg(2n, 1n, 3)]);
      return a.host.received.length > 0;
    }, "b's answer at a");
    assert.ok(a.host.received.every((m) => m.commit === 3), "the message sent before was lost");
    assert.ok(
      b.logs.some((l) => /added remote peer .*remote-peer-id="?1"?\b/.test(l)),
      b.logs.join("\n"),
    );
    // a becomes a peer of b: the remote goes, the peer carries on
    b.transport.addPeer({ id: 1n, urls: [a.url] });
    const before = a.host.received.length;
    await waitFor(() => {
      b.transport.send([msg(2n, 1n, 4)]);
      return a.host.received.length > before;
    }, "b's message through its peer");
    assert.equal(b.transport.stats().length, 1);
  } finally {
    await stopAll([a, b]);
  }
});

Deno.test("http transport: closing the peer listener waits at most PEER_CLOSE_WAIT_MS for a running peer's stream (as etcd's 1 s)", async () => {
  // the listener with the transport's own limits (startMember shortens the drain for speed)
  const host = new RecordingHost(2n, CID);
  const b = new HttpTransport({ ...FAST, log: () => {}, host });
  const server = await b.serve({});
  const a = await startMember(1n, CID);
  try {
    a.transport.addPeer({ id: 2n, urls: [`http://127.0.0.1:${server.port}`] });
    b.addPeer({ id: 1n, urls: [a.url] });
    await waitFor(() => a.transport.activeSince(2n) > 0, "stream 1->2");
    // a's stream to b never ends by itself: the close must not wait it out
    const started = performance.now();
    await b.close();
    await server.close();
    const took = performance.now() - started;
    assert.ok(
      took < PEER_CLOSE_WAIT_MS + 2000,
      `closing took ${took.toFixed(0)} ms with a live incoming stream`,
    );
  } finally {
    await b.close();
    await server.close();
    await stopAll([a]);
  }
});
