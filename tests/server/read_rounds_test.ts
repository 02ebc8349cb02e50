// Linearizable read rounds (lib/server/read_rounds.ts): each round is tagged with a fresh id
// from the member's request-id sequence, so an answer meant for another round (a previous
// incarnation's, or another member's) never releases it.
import assert from "node:assert/strict";
import { ReadRounds } from "../../lib/server/read_rounds.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { Errors } from "../../lib/base/errors.ts";
import type { ReadState } from "../../lib/raft/mod.ts";

const idOf = (ctx: Uint8Array) => new DataView(ctx.buffer, ctx.byteOffset, 8).getBigUint64(0);

/** A member's read rounds over a request-id sequence starting at `base`. */
function rounds(clock: SimClock, base: bigint, applied: { index: number }) {
  const asked: Uint8Array[] = [];
  let next = base;
  const waiting: { index: number; resolve: () => void }[] = [];
  const r = new ReadRounds({
    clock,
    timeoutMs: 5000,
    readIndex: (ctx) => asked.push(ctx.slice()),
    nextId: () => ++next,
    waitApplied: (index) =>
      index <= applied.index
        ? Promise.resolve()
        : new Promise((resolve) => waiting.push({ index, resolve })),
  });
  return { r, asked, waiting };
}

Deno.test("read rounds: a round's context is the member's next request id", async () => {
  const clock = new SimClock();
  const { r, asked } = rounds(clock, 0x1234_0000_0000_0100n, { index: 10 });
  const read = r.wait();
  assert.equal(asked.length, 1);
  assert.equal(idOf(asked[0]), 0x1234_0000_0000_0101n);
  r.confirmed([{ index: 10, context: asked[0] }]);
  await read;
  r.close(Errors.stopped());
});

Deno.test("read rounds: an answer to a previous incarnation's round does not release a new one", async () => {
  // seed 40000917: a follower restarted with its round counter back at 1 took the leader's
  // late answer to its previous incarnation's round 1 (index 60) for its new round's, and
  // served a "linearizable" range from its applied index 62 while the leader had committed 68
  const clock = new SimClock();
  const applied = { index: 62 };
  const before = rounds(clock, 0x1234_0000_0000_0100n, applied);
  void before.r.wait().catch(() => {});
  const oldCtx = before.asked[0];
  before.r.close(Errors.stopped()); // the crash
  clock.advance(400);
  const after = rounds(clock, 0x1234_0000_0190_0100n, applied); // restarted: a later start time
  let released = false;
  const read = after.r.wait().then(() => (released = true));
  assert.notDeepEqual(after.asked[0], oldCtx);
  const late: ReadState = { index: 60, context: oldCtx };
  after.r.confirmed([late]);
  await Promise.resolve();
  assert.equal(released, false, "released by another round's answer");
  assert.equal(after.waiting.length, 0);
  after.r.confirmed([{ index: 68, context: after.asked[0] }]);
  assert.deepEqual(after.waiting.map((w) => w.index), [68]);
  applied.index = 68;
  after.waiting[0].resolve();
  await read;
  assert.equal(released, true);
  after.r.close(Errors.stopped());
});
