/**
 * The peer handler served on a real listener, driven with fetch (HTTP/1.1) and raw sockets:
 * what the HTTP transport's sender meets on the other side.
 */
import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import type { MemberId } from "../../lib/base/types.ts";
import { PREFACE } from "../../lib/http/frame.ts";
import type { HttpServer } from "../../lib/http/server.ts";
import { encodeFrames, framePrefix } from "../../lib/transport/frames.ts";
import type { PeerReceiveSink } from "../../lib/transport/peer_handler.ts";
import { servePeers } from "../../lib/transport/peer_server.ts";
import { snapshotBody } from "../../lib/transport/snapshot_wire.ts";
import { msg, RecordingHost, snapMsg } from "./recording_host.ts";

const CID = 0xabcdefn;

class CountingSink implements PeerReceiveSink {
  messages = 0;
  bytes = 0;
  snapshots: { bytes: number; ok: boolean }[] = [];
  received(_from: MemberId, messages: number, bytes: number): void {
    this.messages += messages;
    this.bytes += bytes;
  }
  snapshotReceived(_from: MemberId, bytes: number, ok: boolean): void {
    this.snapshots.push({ bytes, ok });
  }
  receiveFailures = 0;
  receiveFailed(_from: MemberId): void {
    this.receiveFailures++;
  }
  /** Snapshots being stored now, and the most at once. */
  receiving = 0;
  maxReceiving = 0;
  snapshotReceiving(_from: MemberId, delta: 1 | -1): void {
    this.receiving += delta;
    this.maxReceiving = Math.max(this.maxReceiving, this.receiving);
  }
}

async function withPeer(
  fn: (
    url: string,
    host: RecordingHost,
    sink: CountingSink,
    server: HttpServer,
    logs: string[],
  ) => Promise<void>,
): Promise<void> {
  const host = new RecordingHost(2n, CID);
  const sink = new CountingSink();
  const logs: string[] = [];
  const server = await servePeers({ host, sink, log: (l) => logs.push(l) });
  try {
    await fn(`http://127.0.0.1:${server.port}`, host, sink, server, logs);
  } finally {
    await server.close();
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return {
    "x-etcd-cluster-id": CID.toString(16),
    "x-server-from": "1",
    "x-raft-to": "2",
    "x-server-version": "3.5.0",
    ...extra,
  };
}

function bodyOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks);
}

Deno.test("peer handler: a stream delivers its frames in order and answers 200", async () => {
  await withPeer(async (url, host, sink) => {
    const msgs = Array.from({ length: 100 }, (_, i) => msg(1n, 2n, i));
    const wire = encodeFrames(msgs);
    // chunked at odd boundaries, with a link heartbeat frame in the middle
    const chunks = [wire.subarray(0, 7), framePrefix(0).slice(0, 0), wire.subarray(7, 1000)];
    chunks.push(wire.subarray(1000));
    const res = await fetch(`${url}/raft/stream`, {
      method: "POST",
      headers: headers(),
      body: bodyOf(chunks),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-etcd-cluster-id"), CID.toString(16));
    assert.equal(await res.text(), "");
    assert.deepEqual(host.received.map((m) => m.commit), [...Array(100).keys()]);
    assert.equal(sink.messages, 100);
    assert.equal(sink.bytes, wire.length);
  });
});

Deno.test("peer handler: etcd's refusals (412 cluster ID / to field of a stream or call, 410 removed, 405, 404)", async () => {
  await withPeer(async (url, host) => {
    const body = encodeFrames([msg(1n, 2n, 1)]);
    const post = async (path: string, h: Record<string, string>) => {
      const res = await fetch(`${url}${path}`, {
        method: "POST",
        headers: h,
        body: bodyOf([body]),
      });
      return [res.status, await res.text()];
    };
    assert.deepEqual(
      await post("/raft/stream", headers({ "x-etcd-cluster-id": "abc" })),
      [412, "cluster ID mismatch\n"],
    );
    assert.deepEqual(
      await post("/raft/stream", headers({ "x-etcd-cluster-id": "" })),
      [412, "cluster ID mismatch\n"],
    );
    assert.deepEqual(
      await post("/raft/snapshot", headers({ "x-etcd-cluster-id": "1" })),
      [412, "cluster ID mismatch\n"],
    );
    assert.deepEqual(
      await post("/raft/stream", headers({ "x-raft-to": "3" })),
      [412, "to field mismatch\n"],
    );
    // a call for the member that had this peer URL before (a replacement reuses it)
    assert.deepEqual(
      await post("/raft/call/removed", headers({ "x-raft-to": "3" })),
      [412, "to field mismatch\n"],
    );
    assert.deepEqual(host.calls, [], "no call for another member reached the host");
    host.removed.add(1n);
    assert.deepEqual(await post("/raft/stream", headers()), [410, "removed member\n"]);
    assert.deepEqual(await post("/raft/snapshot", headers()), [410, "removed member\n"]);
    host.removed.clear();
    assert.deepEqual((await post("/raft/nothing", headers()))[0], 404);
    const get = await fetch(`${url}/raft/stream`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
    await get.body?.cancel();
    assert.deepEqual(host.received, [], "no refused message was delivered");
    // the same message with the right headers does arrive
    assert.deepEqual(await post("/raft/stream", headers()), [200, ""]);
    assert.equal(host.received.length, 1);
  });
});

Deno.test("peer handler: garbage in a stream fails it; the member keeps serving", async () => {
  await withPeer(async (url, host, sink, _server, logs) => {
    const good = encodeFrames([msg(1n, 2n, 1)]);
    const cases: Uint8Array[] = [
      new Uint8Array([9, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), // not a message
      framePrefix(0x7fffffff), // oversized
      encodeFrames([msg(3n, 2n, 1)]), // not from the stream's sender
      encodeFrames([snapMsg(1n, 2n, 4)]), // snapshots go through the pipeline
      good.subarray(0, good.length - 1), // ends inside a frame
    ];
    for (const bad of cases) {
      const res = await fetch(`${url}/raft/stream`, {
        method: "POST",
        headers: headers(),
        body: bodyOf([good, bad]),
      });
      // the refusal comes after the 200: the response body fails
      await assert.rejects(res.text());
    }
    assert.equal(host.received.length, cases.length, "only the good frames arrived");
    assert.equal(sink.receiveFailures, cases.length, "each refused stream a receive failure");
    assert.equal(
      logs.filter((l) =>
        l.startsWith('concord: refused stream from remote peer remote-peer-id="1" error=')
      ).length,
      cases.length,
    );
    const res = await fetch(`${url}/raft/stream`, {
      method: "POST",
      headers: headers(),
      body: bodyOf([good]),
    });
    assert.equal(res.status, 200);
    await res.text();
    assert.equal(host.received.length, cases.length + 1);
  });
});

Deno.test("peer handler: raw garbage bytes on the peer port are refused", async () => {
  await withPeer(async (url, host, _sink, server) => {
    const seed = testSeed();
    console.log(`seed=${seed}`);
    const rand = new Rand(seed);
    for (let i = 0; i < 5; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      // random bytes ending a "request head", or the HTTP/2 preface followed by random frames
      const junk = rand.bytes(1 + rand.int(2000));
      let bytes: Uint8Array;
      if (i % 2 === 0) {
        junk[0] = 0x01; // neither the h2 preface nor a method letter
        bytes = new Uint8Array([...junk, 13, 10, 13, 10]);
      } else {
        bytes = new Uint8Array([...PREFACE, ...junk]);
      }
      await conn.write(bytes).catch(() => 0);
      // the server answers 400, a GOAWAY, or just closes; either way it ends the connection
      const buf = new Uint8Array(4096);
      let text = "";
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      conn.close();
      if (i % 2 === 0) assert.ok(text === "" || text.startsWith("HTTP/1.1 400"), text.slice(0, 80));
    }
    const res = await fetch(`${url}/raft/probing`);
    assert.equal(res.status, 200);
    const health = await res.json();
    assert.equal(health.OK, true);
    assert.ok(Math.abs(Date.parse(health.Now) - Date.now()) < 60_000);
    assert.equal(host.received.length, 0);
  });
});

async function postSnapshot(url: string, wire: Uint8Array, size: number): Promise<Response> {
  const chunks: Uint8Array[] = [];
  for (let p = 0; p < wire.length; p += 100_000) chunks.push(wire.subarray(p, p + 100_000));
  return await fetch(`${url}/raft/snapshot`, {
    method: "POST",
    headers: headers({ "x-snapshot-size": String(size) }),
    body: bodyOf(chunks),
  });
}

async function wireOf(file: Uint8Array, index: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const src = {
    size: file.length,
    read: async function* () {
      yield file;
    },
    close() {},
  };
  for await (const c of snapshotBody(snapMsg(1n, 2n, index), src)) parts.push(c);
  const out = new Uint8Array(parts.reduce((n, c) => n + c.length, 0));
  let p = 0;
  for (const c of parts) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

Deno.test("peer handler: a snapshot is stored byte-exact (204); a cut or corrupted one is 400", async () => {
  await withPeer(async (url, host, sink) => {
    const seed = testSeed();
    console.log(`seed=${seed}`);
    const rand = new Rand(seed);
    const file = rand.bytes(3 * 1024 * 1024 + 17);
    const wire = await wireOf(file, 9);
    const ok = await postSnapshot(url, wire, file.length);
    assert.equal(ok.status, 204);
    assert.equal(host.stored.length, 1);
    assert.deepEqual(host.stored[0].bytes, file);
    assert.equal(host.stored[0].m.snapshot?.metadata.index, 9);

    const flipped = wire.slice();
    flipped[wire.length - 100 - rand.int(file.length)] ^= 0x10;
    const bad = await postSnapshot(url, flipped, file.length);
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /SHA-256 mismatch/);

    const cut = wire.slice(0, wire.length - 1 - rand.int(file.length));
    const short = await postSnapshot(url, cut, file.length);
    assert.equal(short.status, 400);
    assert.match(await short.text(), /cut/);

    const noSize = await postSnapshot(url, wire.subarray(0, 100), -1);
    assert.equal(noSize.status, 400);
    await noSize.body?.cancel();

    assert.equal(host.stored.length, 1, "no bad snapshot was kept");
    assert.equal(host.snapshotErrors.length, 2);
    // every request ends in one report, the one refused for its size header too
    assert.deepEqual(sink.snapshots.map((s) => s.ok), [true, false, false, false]);
    // the corrupted and the cut body could not be read; the size header is no read failure
    assert.equal(sink.receiveFailures, 2);
    assert.deepEqual([sink.receiving, sink.maxReceiving], [0, 1]);
    assert.equal(sink.snapshots[0].bytes, file.length);
  });
});
