/**
 * Randomized frame fuzzer: seeded sequences of valid, half-valid and garbage HTTP/2 frames (and
 * garbage HTTP/1.1) against one server. Every connection must end in an answer (the PING we
 * send last is acknowledged) or a close, within a bounded time; afterwards the server still
 * serves a normal request. Replay a failure with SEED=<seed>.
 */
import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { ByteBuffer } from "../../lib/http/byte_buffer.ts";
import { Flag, FrameType, PREFACE, writeFrameHeader } from "../../lib/http/frame.ts";
import { HpackEncoder } from "../../lib/http/hpack.ts";
import { RawH2, req } from "./h2_raw_client.ts";
import { withServer } from "./test_server.ts";

const PATHS = ["/echo", "/url", "/hang", "/big/70000", "/stream/2", "/headers", "/nope"];
const MARK = Uint8Array.of(9, 8, 7, 6, 5, 4, 3, 2);

/** Append a random frame; returns true if its length field lies about the payload. */
function randomFrame(rand: Rand, enc: HpackEncoder, out: ByteBuffer): boolean {
  const type = rand.chance(0.9) ? rand.int(10) : rand.range(10, 256);
  let flags = rand.chance(0.7) ? rand.pick([0, 1, 4, 5, 8, 0x20, 0x25]) : rand.int(256);
  const sid = rand.chance(0.8) ? rand.pick([0, 1, 3, 5, 7, 2, 9, 11, 13]) : rand.int(0x7fffffff);
  const payload = new ByteBuffer(64);
  if (rand.chance(0.75)) {
    switch (type) {
      case FrameType.HEADERS:
      case FrameType.CONTINUATION: {
        const fields = req(rand.pick(PATHS));
        if (rand.chance(0.3)) fields.push(["x-" + rand.int(5), "v".repeat(rand.int(200))]);
        if (rand.chance(0.1)) fields.push(["content-type", "application/grpc"]);
        if (rand.chance(0.1)) fields.splice(rand.int(fields.length), 1);
        enc.begin(payload);
        for (const [n, v] of fields) enc.field(payload, n, v);
        if (rand.chance(0.5)) flags |= Flag.END_HEADERS;
        flags &= ~Flag.PADDED & ~Flag.PRIORITY;
        break;
      }
      case FrameType.DATA:
        payload.bytes(rand.bytes(rand.chance(0.1) ? 20000 : rand.int(200)));
        flags &= ~Flag.PADDED;
        break;
      case FrameType.SETTINGS:
        for (let i = rand.int(4); i > 0; i--) {
          payload.u8(0);
          payload.u8(rand.int(8));
          const v = rand.pick([0, 1, 100, 16384, 65535, 0x7fffffff, rand.int(0x7fffffff)]);
          payload.u8(v >>> 24);
          payload.u8((v >>> 16) & 0xff);
          payload.u8((v >>> 8) & 0xff);
          payload.u8(v & 0xff);
        }
        if (rand.chance(0.8)) flags &= ~Flag.ACK;
        break;
      case FrameType.PING:
        payload.bytes(rand.bytes(8));
        break;
      case FrameType.WINDOW_UPDATE:
      case FrameType.RST_STREAM:
        payload.bytes(rand.bytes(4));
        break;
      case FrameType.PRIORITY:
        payload.bytes(rand.bytes(5));
        break;
      case FrameType.GOAWAY:
        payload.bytes(rand.bytes(8 + rand.int(10)));
        break;
      default:
        payload.bytes(rand.bytes(rand.int(50)));
    }
  } else {
    payload.bytes(rand.bytes(rand.int(100)));
  }
  let len = payload.len;
  if (rand.chance(0.02)) len = rand.int(1 << 24); // lies about its length
  writeFrameHeader(out, len, type, flags, sid);
  out.bytes(payload.view());
  return len !== payload.len;
}

async function fuzzOne(port: number, rand: Rand, i: number, seed: number): Promise<void> {
  const c = await RawH2.connect(port, { preface: false });
  try {
    const out = new ByteBuffer(1024);
    if (rand.chance(0.95)) {
      out.bytes(PREFACE);
      writeFrameHeader(out, 0, FrameType.SETTINGS, 0, 0);
    } else {
      out.bytes(rand.bytes(rand.int(40)));
    }
    const enc = new HpackEncoder();
    let lied = false;
    for (let n = rand.int(30); n > 0 && !lied; n--) lied = randomFrame(rand, enc, out);
    if (!lied) {
      writeFrameHeader(out, 8, FrameType.PING, 0, 0);
      out.bytes(MARK);
    }
    try {
      await c.send(out.view());
      // After a frame that lies about its length the server rightly waits for the rest of
      // it: end our side, and the server must close.
      if (lied) await c.conn.closeWrite();
    } catch {
      return; // the server closed while we were writing: an allowed outcome
    }
    // Answer (our PING acknowledged) or close; anything else is a hang.
    for (;;) {
      const f = await c.read(5000).catch((e) => {
        throw new Error(`seed=${seed} connection ${i}: ${(e as Error).message}`);
      });
      if (f === null) return;
      if (!lied && f.type === FrameType.PING && f.flags & Flag.ACK && f.payload[0] === 9) return;
    }
  } finally {
    c.close();
  }
}

Deno.test("fuzz: random HTTP/2 frames never crash or hang the server", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  await withServer({ headerTimeoutMs: 300, maxContinuationFrames: 16 }, async (server) => {
    for (let batch = 0; batch < 25; batch++) {
      const conns: Promise<void>[] = [];
      for (let j = 0; j < 8; j++) {
        conns.push(fuzzOne(server.port, new Rand(rand.int(0x7fffffff)), batch * 8 + j, seed));
      }
      await Promise.all(conns);
    }
    // Still serving.
    const c = await RawH2.connect(server.port);
    try {
      await c.headers(1, req("/url"), Flag.END_HEADERS | Flag.END_STREAM);
      const frames = await c.until((f) => f.type === FrameType.HEADERS && f.sid === 1);
      const h = c.decode(frames[frames.length - 1].payload);
      assert.deepEqual(h[0], [":status", "200"], `seed=${seed}`);
    } finally {
      c.close();
    }
  });
});

Deno.test("fuzz: random HTTP/1.1 heads and bodies never crash or hang the server", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const te = new TextEncoder();
  const pieces = [
    "GET / HTTP/1.1\r\n",
    "POST /echo HTTP/1.1\r\n",
    "Host: a\r\n",
    "Content-Length: 5\r\n",
    "Content-Length: 99999999\r\n",
    "Transfer-Encoding: chunked\r\n",
    "TE: trailers\r\n",
    "Connection: close\r\n",
    "\r\n",
    "5\r\nhello\r\n",
    "0\r\n\r\n",
    "ffffffff\r\n",
    ": no name\r\n",
    "x\u0000y: z\r\n",
    "Upgrade: h2c\r\n",
    "Connection: Upgrade, HTTP2-Settings\r\n",
    "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n",
    "HTTP2-Settings: AAQAAAAA\r\n",
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
  ];
  await withServer({ headerTimeoutMs: 300 }, async (server) => {
    for (let i = 0; i < 120; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      try {
        let text = "";
        for (let n = 1 + rand.int(10); n > 0; n--) text += rand.pick(pieces);
        const bytes = rand.chance(0.2) ? rand.bytes(rand.int(300)) : te.encode(text);
        await conn.write(bytes).catch(() => 0);
        // End our side: whatever the server made of the bytes, it must answer and close.
        await conn.closeWrite().catch(() => {});
        const buf = new Uint8Array(70000);
        const deadline = Date.now() + 5000;
        for (;;) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const r = await Promise.race([
            conn.read(buf).catch(() => null),
            new Promise<"late">((res) =>
              timer = setTimeout(() => res("late"), deadline - Date.now())
            ),
          ]);
          clearTimeout(timer);
          if (r === null) break;
          if (r === "late") assert.fail(`seed=${seed} connection ${i} still open after EOF`);
        }
      } finally {
        conn.close();
      }
    }
    const ok = await fetch(`http://127.0.0.1:${server.port}/url`);
    assert.equal(ok.status, 200, `seed=${seed}`);
    await ok.body?.cancel();
  });
});
