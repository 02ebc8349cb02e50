// A power loss while an online defragmentation moves its copy into place must not lose a
// commit the old file had made durable (docs/testing.md, finding 10): the copy replays the
// writes taken while it was made, and must hold them durably before it is renamed over the
// old file. Before the fix the replayed tail was committed only after the rename, so a crash
// between the two lost writes that `commit()` had already reported durable (a raft snapshot
// then named an index the page file no longer reached).
import assert from "node:assert/strict";
import { SimClock } from "../../lib/io/clock.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { openBackend } from "../../lib/backend/open.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const PATH = "/data/db";
const FSYNC_MS = 5;

/** Steps the simulated clock 1 ms at a time, letting real turns run, until `done()`. */
async function stepUntil(clock: SimClock, done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (done()) return;
    clock.advance(1);
    await new Promise((r) => setTimeout(r, 0));
  }
  throw new Error(`${what} did not happen within 10 s of simulated time`);
}

/**
 * One run: a defrag starts, a write taken meanwhile is committed (durable in the old file),
 * and the power fails `k` ms of simulated time after the defrag swapped in its copy.
 * Returns the value of that write after a restart, or null when it was lost.
 */
async function crashAfterSwap(k: number): Promise<string | null> {
  const disk = new SimDisk();
  await disk.mkdirAll("/data");
  const clock = new SimClock();
  let copying = false;
  let swapped = false;
  const b = await openBackend(disk, PATH, {
    clock,
    batchInterval: 1_000_000,
    defrag: {
      batchBytes: 4096,
      syncBytes: 8192,
      sliceMs: 1,
      progress: (p) => {
        if (p.phase === "copy") copying = true;
        if (p.phase === "swap") swapped = true;
      },
    },
  });
  b.write.createBucket("key");
  for (let i = 0; i < 200; i++) {
    b.write.put("key", enc.encode(`k${i}`), enc.encode("v".repeat(100)));
  }
  await b.commit();
  disk.slowSync = { clock, ms: FSYNC_MS };
  let ended = false;
  b.defrag().then(() => (ended = true), () => (ended = true));
  await stepUntil(clock, () => copying, "the copy");
  // taken while the copy is made: recorded for replay into the copy, and committed to the
  // old file, whose commit answers once it is durable there
  b.write.put("key", enc.encode("late"), enc.encode("acknowledged"));
  let committed = false;
  b.commit().then(() => (committed = true), () => {});
  await stepUntil(clock, () => committed, "the commit of the late write");
  await stepUntil(clock, () => swapped, "the swap");
  assert.equal(ended, false);
  for (let i = 0; i < k; i++) {
    clock.advance(1);
    await new Promise((r) => setTimeout(r, 0));
  }
  disk.powerLoss("drop-all");
  disk.slowSync = null;
  await new Promise((r) => setTimeout(r, 0));
  const again = await openBackend(disk, PATH, { clock: new SimClock() });
  try {
    assert.equal(again.read.get("key", enc.encode("k199"))?.length, 100);
    const v = again.read.get("key", enc.encode("late"));
    return v === undefined ? null : dec.decode(v);
  } finally {
    await again.close();
  }
}

Deno.test("defrag: a power loss while the copy moves into place keeps every durable commit", async () => {
  const lost: number[] = [];
  for (let k = 0; k <= 4 * FSYNC_MS; k++) {
    if ((await crashAfterSwap(k)) !== "acknowledged") lost.push(k);
  }
  assert.deepEqual(lost, [], `the acknowledged write was lost by a crash k ms after the swap`);
});
