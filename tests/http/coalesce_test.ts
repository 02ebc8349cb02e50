/**
 * Write coalescing, observed directly: an HTTP/2 connection over an in-memory ByteConn that
 * records every write. Ten requests arriving in one read must be answered in one write.
 */
import assert from "node:assert/strict";
import { ByteBuffer } from "../../lib/http/byte_buffer.ts";
import {
  Flag,
  FRAME_HEADER_LEN,
  FrameType,
  PREFACE,
  writeFrameHeader,
} from "../../lib/http/frame.ts";
import { H2Connection } from "../../lib/http/h2_connection.ts";
import { HpackEncoder } from "../../lib/http/hpack.ts";
import { resolveLimits } from "../../lib/http/limits.ts";
import { req } from "./h2_raw_client.ts";
import { MemConn } from "./mem_conn.ts";
import { testHandler, waitFor } from "./test_server.ts";

/** Count frames of `type` with END_STREAM across the recorded writes. */
function endStreams(writes: Uint8Array[]): number {
  let n = 0;
  for (const w of writes) {
    for (let p = 0; p + FRAME_HEADER_LEN <= w.length;) {
      const len = (w[p] << 16) | (w[p + 1] << 8) | w[p + 2];
      const type = w[p + 3];
      if ((type === FrameType.HEADERS || type === FrameType.DATA) && w[p + 4] & Flag.END_STREAM) {
        n++;
      }
      p += FRAME_HEADER_LEN + len;
    }
  }
  return n;
}

Deno.test("coalescing: ten requests in one read are answered in one socket write", async () => {
  const conn = new MemConn();
  const obs = { aborted: 0, bodyErrors: [], requests: 0 };
  const c = new H2Connection(conn, {
    handler: testHandler(obs),
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
  for (let i = 0; i < 10; i++) {
    const block = new ByteBuffer();
    enc.begin(block);
    for (const [n, v] of req("/url")) enc.field(block, n, v);
    writeFrameHeader(
      b,
      block.len,
      FrameType.HEADERS,
      Flag.END_HEADERS | Flag.END_STREAM,
      1 + 2 * i,
    );
    b.bytes(block.view());
  }
  conn.feed(b.view().slice());
  await waitFor(() => endStreams(conn.writes) === 10, "ten responses");
  // Writes: our SETTINGS (sent at start, before any input), then everything else at once.
  const withResponses = conn.writes.filter((w) => endStreams([w]) > 0);
  assert.equal(withResponses.length, 1, `responses spread over ${withResponses.length} writes`);
  c.destroy();
  await running;
});
