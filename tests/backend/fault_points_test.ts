// The backend's fault points sit where their names say: a power loss at beforeCommit loses the
// batch being committed, one at afterCommit keeps it (the commit was durable); a defrag passes
// defragBeforeCopy and then defragBeforeRename, and a power loss at either leaves the file
// with everything committed before the defrag; a defrag failed at defragOpenFileError fails
// alone, leaves no copy behind and loses nothing.
import assert from "node:assert/strict";
import { SimClock } from "../../lib/io/clock.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { openBackend } from "../../lib/backend/open.ts";
import { type FaultPoint, FaultPointError } from "../../lib/base/fault_points.ts";

const enc = new TextEncoder();
const PATH = "/data/db";

/**
 * Opens a backend on a fresh disk whose power fails at the first hit of `at`; returns it with
 * the points hit in order.
 */
async function setup(at: FaultPoint) {
  const disk = new SimDisk();
  await disk.mkdirAll("/data");
  const hits: FaultPoint[] = [];
  let armed = false;
  const b = await openBackend(disk.process(), PATH, {
    clock: new SimClock(),
    batchInterval: 1_000_000,
    defrag: { sliceMs: Infinity },
    faults: {
      hit: (p) => {
        hits.push(p);
        if (armed && p === at) {
          armed = false;
          disk.powerLoss("drop-all");
        }
      },
    },
  });
  b.write.createBucket("key");
  b.write.put("key", enc.encode("before"), enc.encode("1"));
  await b.commit();
  hits.length = 0;
  armed = true;
  return { disk, b, hits };
}

/** Whether `key` is in the page file after the crash. */
async function survived(disk: SimDisk, key: string): Promise<boolean> {
  const again = await openBackend(disk.process(), PATH, { clock: new SimClock() });
  try {
    assert.ok(again.read.get("key", enc.encode("before")), "the first commit survives");
    return again.read.get("key", enc.encode(key)) !== undefined;
  } finally {
    await again.close();
  }
}

Deno.test("backend fault points: a power loss at beforeCommit loses the batch, at afterCommit keeps it", async () => {
  for (const [at, kept] of [["beforeCommit", false], ["afterCommit", true]] as const) {
    const { disk, b, hits } = await setup(at);
    b.write.put("key", enc.encode("k"), enc.encode("v"));
    const commit = b.commit().then(() => "ok", (e: unknown) => String(e));
    const outcome = await commit;
    assert.deepEqual(hits, ["beforeCommit", "afterCommit"].slice(0, at === "beforeCommit" ? 1 : 2));
    // (a commit whose fsync the crash beat fails; one that was durable first succeeded)
    assert.equal(outcome === "ok", kept, `${at}: ${outcome}`);
    assert.equal(await survived(disk, "k"), kept, at);
    await b.close().catch(() => {});
  }
});

Deno.test("backend fault points: a defrag hits defragBeforeCopy then defragBeforeRename; a crash at either keeps the file whole", async () => {
  for (const at of ["defragBeforeCopy", "defragBeforeRename"] as const) {
    const { disk, b, hits } = await setup(at);
    for (let i = 0; i < 50; i++) b.write.put("key", enc.encode(`k${i}`), enc.encode("v"));
    await b.commit();
    hits.length = 0;
    await assert.rejects(b.defrag());
    assert.equal(hits.at(-1), at);
    assert.ok(hits.includes("defragBeforeCopy"));
    assert.equal(await survived(disk, "k49"), true, at);
    await b.close().catch(() => {});
  }
});

Deno.test("backend fault points: a defrag failed at defragOpenFileError fails alone; the backend serves on and loses nothing", async () => {
  const disk = new SimDisk();
  await disk.mkdirAll("/data");
  let fail = 1;
  const b = await openBackend(disk.process(), PATH, {
    clock: new SimClock(),
    batchInterval: 1_000_000,
    defrag: { sliceMs: Infinity },
    faults: {
      hit: (p) => {
        if (p === "defragOpenFileError" && fail-- > 0) {
          throw new FaultPointError(p, "open of the copy refused");
        }
      },
    },
  });
  b.write.createBucket("key");
  b.write.put("key", enc.encode("before"), enc.encode("1"));
  for (let i = 0; i < 50; i++) b.write.put("key", enc.encode(`k${i}`), enc.encode("v"));
  await b.commit();
  // uncommitted writes in the batch when the defrag starts: the defrag commits them first
  b.write.put("key", enc.encode("pending"), enc.encode("p"));
  await assert.rejects(b.defrag(), /open of the copy refused/);
  assert.equal(await disk.exists(`${PATH}.defrag.tmp`), false, "no copy left behind");
  // serving on: writes and commits, then a defrag that works
  b.write.put("key", enc.encode("after"), enc.encode("a"));
  await b.commit();
  await b.defrag();
  for (const k of ["k0", "k49", "pending", "after"]) {
    assert.ok(b.read.get("key", enc.encode(k)), k);
  }
  await b.close();
  assert.equal(await survived(disk, "pending"), true);
  assert.equal(await survived(disk, "after"), true);
});
