/**
 * A peer that advertises a zero flow-control window (or never reads) must not make the server
 * hold every response in memory: what a connection, and the server, holds unsent is bounded
 * (the streams beyond get RST_STREAM ENHANCE_YOUR_CALM), a stream that cannot send for
 * stallTimeoutMs is reset (CANCEL), and what was held is given back when the connection closes.
 */
import assert from "node:assert/strict";
import { ErrorCode, Flag, FrameType, readU32, Setting } from "../../lib/http/frame.ts";
import { type Frame, RawH2, req } from "./h2_raw_client.ts";
import { waitFor, withServer } from "./test_server.ts";

const MIB = 1024 * 1024;

/** Connects with a zero initial stream window and asks for `n` responses of `size` octets. */
async function zeroWindowClient(port: number, n: number, size: number): Promise<RawH2> {
  const c = await RawH2.connect(port, { settings: [[Setting.INITIAL_WINDOW_SIZE, 0]] });
  await c.frame(FrameType.SETTINGS, Flag.ACK, 0);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    frames.push(
      RawH2.frame(
        FrameType.HEADERS,
        Flag.END_HEADERS | Flag.END_STREAM,
        2 * i + 1,
        c.block(req(`/big/${size}`)),
      ),
    );
  }
  for (const f of frames) await c.send(f);
  return c;
}

/** RST_STREAM codes by stream, read until `until` holds (5 s at most). */
async function resets(
  c: RawH2,
  until: (codes: Map<number, number>) => boolean,
  got = new Map<number, number>(),
): Promise<Map<number, number>> {
  while (!until(got)) {
    const f: Frame | null = await c.read();
    if (f === null) throw new Error("connection closed");
    if (f.type === FrameType.RST_STREAM) got.set(f.sid, readU32(f.payload, 0));
  }
  return got;
}

const count = (m: Map<number, number>, code: number) =>
  [...m.values()].filter((v) => v === code).length;

Deno.test("h2: a zero-window peer: unsent responses bounded per connection, stalled streams reset", async () => {
  const limits = { maxUnsentBytes: 4 * MIB, stallTimeoutMs: 400 };
  await withServer(limits, async (server, obs) => {
    // A held stream's stall clock starts when the server finds no window for it, which is
    // after the requests were sent: until stallTimeoutMs past this, nothing is reset for a
    // stall. (Bounds taken from when the test read the resets failed under load: a test
    // descheduled for 400 ms read them after the stall resets came.)
    const sent = Date.now();
    const c = await zeroWindowClient(server.port, 40, MIB);
    try {
      // at most 4 of the 40 answers fit the bound: the others are reset at once
      const got = await resets(c, (m) => count(m, ErrorCode.ENHANCE_YOUR_CALM) >= 36);
      assert.equal(obs.requests, 40);
      const held = server.unsentBytes();
      assert.ok(held <= 4 * MIB, `held ${held}`);
      if (Date.now() - sent < limits.stallTimeoutMs) {
        assert.ok(held > 0, "held within the stall time");
      }
      // the ones held cannot send a byte: reset after stallTimeoutMs, and nothing stays held
      await resets(c, (m) => m.size === 40, got);
      const stalled = Date.now() - sent;
      assert.equal(count(got, ErrorCode.ENHANCE_YOUR_CALM) + count(got, ErrorCode.CANCEL), 40);
      assert.ok(count(got, ErrorCode.CANCEL) >= 1, "a held stream was reset for its stall");
      assert.ok(stalled >= limits.stallTimeoutMs, `stalled streams reset after ${stalled} ms`);
      await waitFor(() => server.unsentBytes() === 0, "nothing held");
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: zero-window peers on several connections: bounded over the server, returned on close", async () => {
  const limits = { maxUnsentBytes: 4 * MIB, maxUnsentBytesTotal: 6 * MIB };
  await withServer(limits, async (server) => {
    const a = await zeroWindowClient(server.port, 10, MIB);
    const b = await zeroWindowClient(server.port, 10, MIB);
    const got = [new Map<number, number>(), new Map<number, number>()];
    // each connection's resets, collected until it closes
    const readers = [a, b].map((c, i) => resets(c, () => false, got[i]).catch(() => {}));
    try {
      // each connection holds at most 4, both together at most 6 of the 20 answers
      await waitFor(() => got[0].size + got[1].size >= 14, "14 streams reset");
      assert.ok(server.unsentBytes() <= 6 * MIB, `held ${server.unsentBytes()}`);
      assert.ok(got[0].size >= 6 && got[1].size >= 6, `${got[0].size} + ${got[1].size} reset`);
      a.close();
      b.close();
      await waitFor(() => server.unsentBytes() === 0, "held octets returned after close");
    } finally {
      a.close();
      b.close();
      await Promise.all(readers);
    }
  });
});

Deno.test("h2: one response larger than the bound still goes out to a reading peer", async () => {
  await withServer({ maxUnsentBytes: MIB }, async (server) => {
    const c = await RawH2.connect(server.port);
    try {
      await c.frame(FrameType.SETTINGS, Flag.ACK, 0);
      await c.headers(1, req(`/big/${3 * MIB}`), Flag.END_HEADERS | Flag.END_STREAM);
      let got = 0;
      for (;;) {
        const f = await c.read();
        assert.ok(f !== null);
        if (f.sid !== 1) continue;
        assert.notEqual(f.type, FrameType.RST_STREAM, "stream reset");
        if (f.type === FrameType.DATA && f.payload.length > 0) {
          got += f.payload.length;
          await c.frame(FrameType.WINDOW_UPDATE, 0, 1, u32(f.payload.length));
          await c.frame(FrameType.WINDOW_UPDATE, 0, 0, u32(f.payload.length));
        }
        if (f.flags & Flag.END_STREAM) break;
      }
      assert.equal(got, 3 * MIB);
    } finally {
      c.close();
    }
  });
});

function u32(v: number): Uint8Array {
  return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}
