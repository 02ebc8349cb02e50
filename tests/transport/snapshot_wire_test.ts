import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { encodeMessage } from "../../lib/raft/mod.ts";
import { FrameError } from "../../lib/transport/frames.ts";
import {
  snapshotBody,
  SnapshotBodyReader,
  SnapshotError,
} from "../../lib/transport/snapshot_wire.ts";
import type { SnapshotSource } from "../../lib/transport/transport.ts";
import { snapMsg } from "./recording_host.ts";

function source(file: Uint8Array, chunk: number, size = file.length): SnapshotSource {
  return {
    size,
    read: async function* () {
      for (let p = 0; p < file.length; p += chunk) yield file.slice(p, p + chunk);
    },
    close: () => {},
  };
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c.slice());
  const out = new Uint8Array(parts.reduce((n, c) => n + c.length, 0));
  let p = 0;
  for (const c of parts) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

/** `bytes` re-cut into random chunk sizes. */
async function* rechunk(bytes: Uint8Array, rand: Rand): AsyncGenerator<Uint8Array> {
  let p = 0;
  while (p < bytes.length) {
    const n = 1 + rand.int(rand.chance(0.3) ? 40 : 70000);
    yield bytes.slice(p, p + n);
    p += n;
  }
}

/** Receives `body` with the announced size; returns the file or throws. */
async function receive(body: AsyncIterable<Uint8Array>, size: number) {
  const r = new SnapshotBodyReader(body);
  const m = await r.readMessage();
  const file = await collect(r.payload(size).chunks);
  assert.equal(r.verified, true);
  return { m, file };
}

Deno.test("snapshot wire: the page file arrives byte-exact through any chunking", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  for (let round = 0; round < 20; round++) {
    const file = rand.bytes(rand.int(300_000));
    const m = snapMsg(1n, 2n, 10 + round);
    const wire = await collect(snapshotBody(m, source(file, 1 + rand.int(50_000))));
    assert.equal(wire.length, 4 + encodeMessage(m).length + file.length + 32);
    const got = await receive(rechunk(wire, rand), file.length);
    assert.deepEqual(encodeMessage(got.m), encodeMessage(m));
    assert.deepEqual(got.file, file);
  }
});

Deno.test("snapshot wire: cut, corrupted, padded or mis-announced bodies throw", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const file = rand.bytes(100_000);
  const m = snapMsg(1n, 2n, 5);
  const wire = await collect(snapshotBody(m, source(file, 8192)));
  const head = 4 + encodeMessage(m).length;
  for (let round = 0; round < 30; round++) {
    // a byte flipped anywhere in the file or the hash
    const flipped = wire.slice();
    flipped[head + rand.int(file.length + 32)] ^= 1 << rand.int(8);
    await assert.rejects(receive(rechunk(flipped, rand), file.length), SnapshotError);
    // cut anywhere after the message
    const cut = wire.slice(0, head + rand.int(file.length + 32));
    await assert.rejects(receive(rechunk(cut, rand), file.length), /cut/);
  }
  // extra bytes after the hash
  const padded = new Uint8Array(wire.length + 1);
  padded.set(wire);
  await assert.rejects(receive(rechunk(padded, rand), file.length), /longer/);
  // announced size off by one either way
  await assert.rejects(receive(rechunk(wire, rand), file.length + 1), SnapshotError);
  await assert.rejects(receive(rechunk(wire, rand), file.length - 1), SnapshotError);
  // cut inside the message: no payload at all
  await assert.rejects(receive(rechunk(wire.slice(0, head - 1), rand), file.length), /before/);
  // garbage instead of a message
  const junk = new Uint8Array([3, 0, 0, 0, 1, 2, 3, 4, 5]);
  await assert.rejects(receive(rechunk(junk, rand), 0), FrameError);
});

Deno.test("snapshot wire: a source yielding other than its size fails the send", async () => {
  const file = new Uint8Array(1000).fill(3);
  const m = snapMsg(1n, 2n, 5);
  await assert.rejects(collect(snapshotBody(m, source(file, 100, 999))), /more than its size/);
  await assert.rejects(collect(snapshotBody(m, source(file, 100, 1001))), /yielded 1000 bytes/);
});

Deno.test("snapshot wire: a large message frame split into many small chunks", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const m = snapMsg(1n, 2n, 11);
  m.snapshot!.data = rand.bytes(300_000);
  const file = rand.bytes(5000);
  const wire = await collect(snapshotBody(m, source(file, 700)));
  async function* tiny(): AsyncGenerator<Uint8Array> {
    for (let p = 0; p < wire.length;) {
      const n = 1 + rand.int(100);
      yield wire.slice(p, p + n);
      p += n;
    }
  }
  const got = await receive(tiny(), file.length);
  assert.deepEqual(got.m.snapshot?.data, m.snapshot!.data);
  assert.deepEqual(got.file, file);
  // over the frame limit: refused from its prefix alone
  const r = new SnapshotBodyReader(iterOf([wire.subarray(0, 4)]), 1000);
  await assert.rejects(r.readMessage(), /frame of \d+ bytes refused/);
});

async function* iterOf(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield c;
}
