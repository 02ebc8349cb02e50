/**
 * Slowloris after the preface: a HEADERS frame (or a header block awaiting CONTINUATION)
 * trickled a byte at a time keeps the connection busy and never reaches a handler; the header
 * timeout must end it (GOAWAY ENHANCE_YOUR_CALM) as it ends a slow preface.
 */
import assert from "node:assert/strict";
import { ErrorCode, Flag, FrameType } from "../../lib/http/frame.ts";
import { describe, type Frame, goawayCode, RawH2, req } from "./h2_raw_client.ts";
import { withServer } from "./test_server.ts";

const TIMEOUT_MS = 300;
/** Long enough that trickling its request takes several times TIMEOUT_MS. */
const PATH = `/url?${"x".repeat(60)}`;

/** Sends `bytes` one at a time every 20 ms until the server closes; returns its frames. */
async function trickle(c: RawH2, bytes: Uint8Array): Promise<Frame[]> {
  const frames: Frame[] = [];
  const reading = (async () => {
    for (;;) {
      const f = await c.read(4 * TIMEOUT_MS + 2000).catch(() => null);
      if (f === null) return;
      frames.push(f);
    }
  })();
  for (let i = 0; i < bytes.length && !c.closed; i++) {
    await c.send(bytes.subarray(i, i + 1)).catch(() => {});
    await new Promise((r) => setTimeout(r, 20));
  }
  await reading;
  return frames;
}

for (
  const [name, frames] of [
    [
      "a HEADERS frame",
      (c: RawH2) => [RawH2.frame(FrameType.HEADERS, Flag.END_HEADERS, 1, c.block(req(PATH)))],
    ],
    ["a header block awaiting CONTINUATION", (c: RawH2) => {
      const block = c.block(req(PATH));
      return [
        RawH2.frame(FrameType.HEADERS, 0, 1, block.subarray(0, 4)),
        // one-byte CONTINUATION frames, each complete: the block is what trickles
        ...Array.from(
          block.subarray(4),
          (b) => RawH2.frame(FrameType.CONTINUATION, 0, 1, Uint8Array.of(b)),
        ),
      ];
    }],
  ] as const
) {
  Deno.test(`h2: ${name} trickled after the preface is timed out`, async () => {
    await withServer(
      { headerTimeoutMs: TIMEOUT_MS, maxContinuationFrames: 10_000 },
      async (server) => {
        const c = await RawH2.connect(server.port);
        try {
          const parts = frames(c);
          const total = parts.reduce((n, p) => n + p.length, 0);
          const bytes = new Uint8Array(total);
          let off = 0;
          for (const p of parts) {
            bytes.set(p, off);
            off += p.length;
          }
          const start = Date.now();
          const seen = await trickle(c, bytes);
          const g = seen.find((f) => f.type === FrameType.GOAWAY);
          assert.ok(g !== undefined, `GOAWAY expected, got ${describe(seen)}`);
          assert.equal(goawayCode(g), ErrorCode.ENHANCE_YOUR_CALM);
          assert.ok(!seen.some((f) => f.type === FrameType.HEADERS), "no response");
          assert.ok(Date.now() - start < 10 * TIMEOUT_MS, `closed after ${Date.now() - start} ms`);
        } finally {
          c.close();
        }
      },
    );
  });
}
