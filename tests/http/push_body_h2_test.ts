/**
 * A pushed response body (lib/http/push_body.ts) over an HTTP/2 connection: chunks pushed
 * while the server waits for them go into the frames in the pusher's turn, and the chunks of
 * several streams pushed in one turn leave in one socket write, without waiting for the end
 * of the event-loop turn (a watch commit's events reach the socket with no timer between).
 */
import assert from "node:assert/strict";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { ByteBuffer } from "../../lib/http/byte_buffer.ts";
import { FRAME_HEADER_LEN, FrameType, PREFACE, writeFrameHeader } from "../../lib/http/frame.ts";
import { Flag } from "../../lib/http/frame.ts";
import { H2Connection } from "../../lib/http/h2_connection.ts";
import { HpackEncoder } from "../../lib/http/hpack.ts";
import { resolveLimits } from "../../lib/http/limits.ts";
import { PushBody } from "../../lib/http/push_body.ts";
import { req } from "./h2_raw_client.ts";
import { MemConn } from "./mem_conn.ts";
import { waitFor } from "./test_server.ts";

/** The DATA payload bytes per stream id in `writes[from..]`. */
function dataOf(writes: Uint8Array[], from = 0): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const w of writes.slice(from)) {
    for (let p = 0; p + FRAME_HEADER_LEN <= w.length;) {
      const len = (w[p] << 16) | (w[p + 1] << 8) | w[p + 2];
      const id = ((w[p + 5] & 0x7f) << 24) | (w[p + 6] << 16) | (w[p + 7] << 8) | w[p + 8];
      if (w[p + 3] === FrameType.DATA && len > 0) {
        const got = out.get(id) ?? [];
        got.push(...w.subarray(p + FRAME_HEADER_LEN, p + FRAME_HEADER_LEN + len));
        out.set(id, got);
      }
      p += FRAME_HEADER_LEN + len;
    }
  }
  return out;
}

Deno.test("pushed bodies: chunks pushed in one turn to idle streams leave in one write within microtasks", async () => {
  const conn = new MemConn();
  const bodies: PushBody[] = [];
  const c = new H2Connection(conn, {
    handler: () => {
      const b = new PushBody();
      bodies.push(b);
      b.push(new Uint8Array([bodies.length])); // the first chunk: HEADERS go with it
      const res: UniversalServerResponse = { status: 200, header: new Headers(), body: b };
      return Promise.resolve(res);
    },
    limits: resolveLimits({}),
    scheme: "http",
    localAuthority: "127.0.0.1:1",
    onClose: () => {},
  });
  const running = c.run();
  const enc = new HpackEncoder();
  const b = new ByteBuffer();
  b.bytes(PREFACE);
  writeFrameHeader(b, 0, FrameType.SETTINGS, 0, 0);
  for (const id of [1, 3]) {
    const block = new ByteBuffer();
    enc.begin(block);
    for (const [n, v] of req("/push")) enc.field(block, n, v);
    writeFrameHeader(b, block.len, FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id);
    b.bytes(block.view());
  }
  conn.feed(b.view().slice());
  await waitFor(() => dataOf(conn.writes).size === 2, "both first chunks");
  // let both pumps settle into waiting for their next chunk
  await new Promise((r) => setTimeout(r, 0));
  const before = conn.writes.length;
  bodies[0].push(new Uint8Array([10, 11]));
  bodies[1].push(new Uint8Array([30]));
  bodies[0].push(new Uint8Array([12]));
  // out within a few microtask rounds: not held for the rest of the turn (a timer or an
  // immediate), as a pulled stream's frames are
  for (let i = 0; i < 4; i++) await Promise.resolve();
  const written = conn.writes.length;
  assert.equal(written - before, 1, `pushed chunks spread over ${written - before} writes`);
  const got = dataOf(conn.writes, before);
  assert.deepEqual(got.get(1), [10, 11, 12]);
  assert.deepEqual(got.get(3), [30]);
  // the end of a pushed body ends its stream
  bodies[0].end();
  bodies[1].end();
  await waitFor(() => {
    let ends = 0;
    for (const w of conn.writes.slice(written)) {
      for (let p = 0; p + FRAME_HEADER_LEN <= w.length;) {
        const len = (w[p] << 16) | (w[p + 1] << 8) | w[p + 2];
        if (w[p + 4] & Flag.END_STREAM) ends++;
        p += FRAME_HEADER_LEN + len;
      }
    }
    return ends === 2;
  }, "both streams ended");
  c.destroy();
  await running;
});
