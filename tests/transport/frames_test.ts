import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { encodeMessage, type Message, MessageType } from "../../lib/raft/mod.ts";
import { encodeFrames, FrameDecoder, FrameError, framePrefix } from "../../lib/transport/frames.ts";
import { PeerQueue } from "../../lib/transport/peer_queue.ts";
import { bigApp, msg, snapMsg } from "./recording_host.ts";

function sample(rand: Rand, n: number): Message[] {
  const out: Message[] = [];
  for (let i = 0; i < n; i++) {
    const k = rand.int(3);
    if (k === 0) out.push(msg(1n, 2n, i));
    else if (k === 1) out.push(bigApp(1n, 2n, i, rand.int(3000)));
    else out.push(snapMsg(1n, 2n, i));
  }
  return out;
}

Deno.test("frames: messages decode in order from any chunking of the stream", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  for (let round = 0; round < 50; round++) {
    const msgs = sample(rand, 1 + rand.int(20));
    // heartbeat frames (length 0) between some messages carry nothing
    const parts: Uint8Array[] = [];
    for (const m of msgs) {
      if (rand.chance(0.2)) parts.push(framePrefix(0));
      parts.push(encodeFrames([m]));
    }
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let p = 0;
    for (const part of parts) {
      all.set(part, p);
      p += part.length;
    }
    const dec = new FrameDecoder();
    const got: Message[] = [];
    let off = 0;
    while (off < all.length) {
      const n = Math.min(all.length - off, 1 + rand.int(rand.chance(0.5) ? 8 : 5000));
      got.push(...dec.push(all.subarray(off, off + n)));
      off += n;
    }
    assert.equal(dec.idle, true);
    assert.equal(dec.bytes, all.length);
    assert.deepEqual(got.map((m) => encodeMessage(m)), msgs.map((m) => encodeMessage(m)));
  }
});

Deno.test("frames: one batch is one buffer holding every frame", () => {
  const msgs = [msg(1n, 2n, 1), msg(1n, 2n, 2), bigApp(1n, 2n, 3, 100)];
  const buf = encodeFrames(msgs);
  const dec = new FrameDecoder();
  const got = dec.push(buf);
  assert.deepEqual(got.map((m) => m.commit), [1, 2, 3]);
  assert.equal(got[2].entries[0].data.length, 100);
});

Deno.test("frames: decoded byte fields do not alias the caller's chunk", () => {
  const buf = encodeFrames([bigApp(1n, 2n, 7, 16)]);
  const got = new FrameDecoder().push(buf);
  buf.fill(0);
  assert.deepEqual([...got[0].entries[0].data], new Array(16).fill(7));
});

Deno.test("frames: an oversized length is refused before it is buffered", () => {
  const dec = new FrameDecoder(1024);
  assert.throws(() => dec.push(framePrefix(1025)), FrameError);
  // the decoder stays failed
  assert.throws(() => dec.push(encodeFrames([msg(1n, 2n, 1)])), FrameError);
  // the maximum itself is fine (as a prefix: the frame is awaited)
  const ok = new FrameDecoder(1024);
  assert.deepEqual(ok.push(framePrefix(1024)), []);
  assert.equal(ok.idle, false);
});

Deno.test("frames: garbage that is not a message is refused", () => {
  const dec = new FrameDecoder();
  const junk = new Uint8Array([5, 0, 0, 0, 9, 9, 9, 9, 9]);
  assert.throws(() => dec.push(junk), /undecodable raft message/);
  // an encoded message with one byte flipped in its type is refused too
  const frame = encodeFrames([msg(1n, 2n, 1)]);
  frame[5] = 200;
  assert.throws(() => new FrameDecoder().push(frame), FrameError);
  // trailing bytes inside a frame (frame longer than its message)
  const body = encodeMessage(msg(1n, 2n, 1));
  const long = new Uint8Array(4 + body.length + 1);
  long.set(framePrefix(body.length + 1));
  long.set(body, 4);
  assert.throws(() => new FrameDecoder().push(long), /trailing/);
});

Deno.test("frames: a frame split mid-prefix across chunks", () => {
  const buf = encodeFrames([msg(1n, 2n, 42, MessageType.HeartbeatResp)]);
  const dec = new FrameDecoder();
  assert.deepEqual(dec.push(buf.subarray(0, 1)), []);
  assert.deepEqual(dec.push(buf.subarray(1, 3)), []);
  assert.equal(dec.idle, false);
  const got = dec.push(buf.subarray(3));
  assert.equal(got.length, 1);
  assert.equal(got[0].commit, 42);
  assert.equal(got[0].type, MessageType.HeartbeatResp);
});

Deno.test("peer queue: bounded, refuses when full, hands out everything in order", () => {
  const q = new PeerQueue(3);
  assert.equal(q.push(msg(1n, 2n, 1)), true);
  assert.equal(q.push(msg(1n, 2n, 2)), true);
  assert.equal(q.push(msg(1n, 2n, 3)), true);
  assert.equal(q.push(msg(1n, 2n, 4)), false);
  assert.equal(q.length, 3);
  assert.deepEqual(q.takeAll().map((m) => m.commit), [1, 2, 3]);
  assert.equal(q.length, 0);
  assert.equal(q.push(msg(1n, 2n, 5)), true);
  assert.equal(q.clear(), 1);
  assert.throws(() => new PeerQueue(0), RangeError);
});
