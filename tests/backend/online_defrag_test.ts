// Online defragmentation (lib/backend/online_defrag.ts): writes keep landing while the copy
// and the catch-up run, the event loop keeps turning, only a short tail is left for the one
// synchronous step, and a kill -9 at any point leaves a file that opens with every committed
// write. Replay with SEED=<seed>.
import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import type { Disk } from "../../lib/io/disk.ts";
import { openBackend } from "../../lib/backend/open.ts";
import type { Backend, ReadTx } from "../../lib/backend/backend.ts";
import type { DefragProgress, OnlineDefragOptions } from "../../lib/backend/online_defrag.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const k = (s: string) => enc.encode(s);
const turn = () => new Promise<void>((r) => setTimeout(r, 0));

function all(r: ReadTx, bucket: string): Map<string, string> {
  const out = new Map<string, string>();
  r.range(bucket, new Uint8Array([0]), undefined, (key, value) => {
    out.set(dec.decode(key), dec.decode(value));
  });
  return out;
}

function sorted(m: Map<string, string>): [string, string][] {
  return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

const PATH = "/d/member/snap/db";

async function filled(
  disk: Disk,
  rand: Rand,
  defrag: OnlineDefragOptions,
): Promise<{ b: Backend; model: Map<string, string> }> {
  const b = await openBackend(disk, PATH, { clock: new SimClock(), batchLimit: 1e9, defrag });
  b.write.createBucket("key");
  const model = new Map<string, string>();
  for (let i = 0; i < 3000; i++) {
    const key = `k${String(i).padStart(5, "0")}`;
    const v = `v${i}-${"x".repeat(rand.int(300))}`;
    b.write.put("key", k(key), k(v));
    model.set(key, v);
  }
  await b.commit();
  for (let i = 0; i < 3000; i += 2) {
    const key = `k${String(i).padStart(5, "0")}`;
    b.write.delete("key", k(key));
    model.delete(key);
  }
  await b.commit();
  return { b, model };
}

/** A burst of random writes to the backend and the model. */
function writes(b: Backend, model: Map<string, string>, rand: Rand, round: number): void {
  for (let j = 0; j < 40; j++) {
    const key = `k${String(rand.int(4000)).padStart(5, "0")}`;
    if (rand.chance(0.3)) {
      b.write.delete("key", k(key));
      model.delete(key);
    } else {
      const v = `r${round}-${"y".repeat(rand.int(200))}`;
      b.write.put("key", k(key), k(v));
      model.set(key, v);
    }
  }
}

Deno.test("online defrag: writes during the copy and the catch-up all land; a short tail", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const disk = new SimDisk();
  await disk.mkdirAll("/d/member/snap");
  const seen: DefragProgress[] = [];
  const { b, model } = await filled(disk, rand, {
    batchBytes: 8192,
    sliceMs: 0,
    tailOps: 100,
    progress: (p) => seen.push(p),
  });
  const before = b.stats().fileBytes;
  let done = false;
  const defrag = b.defrag().finally(() => (done = true));
  let round = 0;
  for (; !done; round++) {
    writes(b, model, rand, round);
    if (round === 10) b.write.createBucket("side");
    if (round === 11) b.write.put("side", k("a"), k("1"));
    if (round === 30) b.write.deleteBucket("side");
    if (round % 7 === 0) await b.commit();
    else await turn();
  }
  await defrag;
  assert.ok(round > 30, `the defrag took ${round} turns of the event loop`);
  const phases = seen.map((p) => p.phase);
  assert.ok(phases.includes("copy") && phases.includes("catch-up"), phases.join(","));
  const swap = seen.find((p) => p.phase === "swap")!;
  assert.ok(swap.pendingOps <= 100, `${swap.pendingOps} writes left for the synchronous step`);
  const caught = seen.filter((p) => p.phase === "catch-up").map((p) => p.pendingOps);
  assert.ok(Math.max(...caught) > 100, `the catch-up replayed ${caught}`);
  assert.deepEqual(sorted(all(b.read, "key")), sorted(model));
  assert.equal(all(b.read, "side").size, 0);
  assert.ok(b.stats().fileBytes < before, `${b.stats().fileBytes} >= ${before}`);
  await b.close();
  const again = await openBackend(disk, PATH, { clock: new SimClock() });
  assert.deepEqual(sorted(all(again.read, "key")), sorted(model));
  assert.deepEqual(await disk.readDir("/d/member/snap"), ["db"]);
  await again.close();
});

Deno.test("online defrag: the event loop turns all through the copy", async () => {
  const disk = new SimDisk();
  await disk.mkdirAll("/d/member/snap");
  // slices of 0 ms: a turn at every look at the clock (every 16 keys), whatever this
  // machine's speed (the default 4 ms slices are measured by bench/defrag_online.ts)
  const b = await openBackend(disk, PATH, {
    clock: new SimClock(),
    batchLimit: 1e9,
    defrag: { sliceMs: 0 },
  });
  b.write.createBucket("key");
  for (let i = 0; i < 4096; i++) b.write.put("key", k(`k${i}`), new Uint8Array(1024).fill(i));
  await b.commit();
  let turns = 0;
  let done = false;
  const defrag = b.defrag().finally(() => (done = true));
  while (!done) {
    await turn();
    turns++;
  }
  await defrag;
  // 4,096 keys, a turn every 16: 256 turns; a copy in one piece gives a handful
  assert.ok(turns >= 250, `${turns} turns`);
  assert.equal(all(b.read, "key").size, 4096);
  await b.close();
});

Deno.test("online defrag: kill -9 or power loss at any step leaves every committed write", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const opts = { batchBytes: 8192, sliceMs: 0, tailOps: 50 };
  // how many turns a whole defrag takes here, so the kills are spread over all of it
  let span = 0;
  {
    const disk = new SimDisk();
    await disk.mkdirAll("/d/member/snap");
    const { b } = await filled(disk, new Rand(seed), opts);
    let done = false;
    const d = b.defrag().finally(() => (done = true));
    while (!done) {
      await turn();
      span++;
    }
    await d;
    await b.close();
  }
  for (let iter = 0; iter < 16; iter++) {
    // a power loss also drops, keeps or tears each unsynced write (the copy's commits are
    // not fsynced one by one)
    const power = iter % 2 === 1;
    const disk = new SimDisk({ rand: new Rand(seed + iter) });
    await disk.mkdirAll("/d/member/snap");
    const { b, model } = await filled(disk.process(), rand, opts);
    const killAt = rand.int(span + 4);
    // the states a commit may have left on disk: the last one known durable, and later ones
    const states: [string, string][][] = [sorted(model)];
    let durable = 0;
    let failed: unknown = null;
    const defrag = b.defrag().catch((err) => void (failed = err));
    for (let round = 0; round < killAt; round++) {
      writes(b, model, rand, round);
      if (round % 3 === 0) {
        states.push(sorted(model));
        const n = states.length - 1;
        await b.commit().then(() => (durable = Math.max(durable, n)), () => {});
      } else await turn();
    }
    if (power) disk.powerLoss();
    else disk.processCrash();
    await defrag;
    const again = await openBackend(disk.process(), PATH, { clock: new SimClock() });
    try {
      assert.deepEqual(again.check(), [], `seed=${seed} iter ${iter} power ${power}`);
      const got = JSON.stringify(sorted(all(again.read, "key")));
      const match = states.findIndex((s) => JSON.stringify(s) === got);
      assert.ok(
        match >= durable,
        `seed=${seed} iter ${iter} ${power ? "power loss" : "kill"} at ${killAt}/${span}: ` +
          `reopened at state ${match}, ` +
          `${durable} was durable (defrag ${failed ? "failed" : "done"})`,
      );
      // a left-over copy does not stop the next defrag
      await again.defrag();
      assert.equal(JSON.stringify(sorted(all(again.read, "key"))), got);
      assert.deepEqual(await disk.readDir("/d/member/snap"), ["db"]);
    } finally {
      await again.close();
    }
  }
});

Deno.test("online defrag: a close during a defrag leaves one usable file", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  for (let iter = 0; iter < 8; iter++) {
    const disk = new SimDisk();
    await disk.mkdirAll("/d/member/snap");
    const { b, model } = await filled(disk, rand, { batchBytes: 8192, sliceMs: 0 });
    const defrag = b.defrag().then(() => "done", (err) => `failed: ${err}`);
    const turns = rand.int(150);
    for (let round = 0; round < turns; round++) {
      writes(b, model, rand, round);
      await turn();
    }
    await b.close();
    const outcome = await defrag;
    console.log(`iter ${iter}: closed after ${turns} turns, defrag ${outcome}`);
    // a defrag the close cut short says so (not which read of the closed file noticed it)
    assert.match(outcome, /^(done|failed: ClosedError: backend is closed)$/, `seed=${seed}`);
    const again = await openBackend(disk, PATH, { clock: new SimClock() });
    try {
      assert.deepEqual(
        sorted(all(again.read, "key")),
        sorted(model),
        `seed=${seed} iter ${iter}: closed after ${turns} turns, defrag ${outcome}`,
      );
      assert.deepEqual(again.check(), []);
      assert.deepEqual(await disk.readDir("/d/member/snap"), ["db"], outcome);
    } finally {
      await again.close();
    }
  }
});

Deno.test("online defrag: a commit made between the swap and the rename waits for the rename", async () => {
  for (const crash of [false, true]) {
    const disk = new SimDisk();
    await disk.mkdirAll("/d/member/snap");
    const base = disk.process();
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let renameCalled = () => {};
    const called = new Promise<void>((r) => (renameCalled = r));
    const gated: Disk = {
      ...base,
      rename: async (from, to) => {
        renameCalled();
        await gate;
        return await base.rename(from, to);
      },
    };
    const { b, model } = await filled(gated, new Rand(7), { sliceMs: 0 });
    const defrag = b.defrag().then(() => "done", (err) => `failed: ${err}`);
    await called; // swapped to the copy, its rename not made yet
    b.write.put("key", k("after-swap"), k("1"));
    let durable = false;
    const commit = b.commit().then(() => (durable = true), () => {});
    for (let i = 0; i < 5; i++) await turn();
    assert.equal(durable, false, "a commit to the copy resolved before its rename");
    if (crash) disk.processCrash();
    release();
    const outcome = await defrag;
    await commit;
    if (!crash) await b.close();
    const again = await openBackend(disk.process(), PATH, { clock: new SimClock() });
    try {
      assert.deepEqual(again.check(), []);
      const got = all(again.read, "key");
      if (!crash) {
        assert.equal(outcome, "done");
        assert.equal(durable, true);
        assert.equal(got.get("after-swap"), "1");
      } else {
        assert.equal(durable, false);
        got.delete("after-swap");
        assert.deepEqual(sorted(got), sorted(model));
      }
    } finally {
      await again.close();
    }
  }
});

Deno.test("online defrag: a close whose commit spans the swap returns after the rename", async () => {
  // A member installing a leader's snapshot closes its backend, then renames the received file
  // over the same name: a defrag's rename made after that would put the old data back. Here
  // the close starts in the defrag's last step before the swap, so its commit is in flight
  // while the defrag swaps to the copy and starts the copy's rename.
  const disk = new SimDisk();
  await disk.mkdirAll("/d/member/snap");
  const base = disk.process();
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  let gateOnce = true;
  const gated: Disk = {
    ...base,
    rename: async (from, to) => {
      if (gateOnce) {
        gateOnce = false;
        await gate;
      }
      return await base.rename(from, to);
    },
  };
  let closing: Promise<void> | null = null;
  let closed = false;
  let b: Backend | null = null;
  const progress = (p: DefragProgress) => {
    if (p.phase !== "swap" || b === null || closing !== null) return;
    b.write.put("key", k("before-close"), k("1"));
    closing = b.close().then(() => {
      closed = true;
    });
  };
  b = (await filled(gated, new Rand(11), { sliceMs: 0, progress })).b;
  const defrag = b.defrag().then(() => "done", (err) => `failed: ${err}`);
  for (let i = 0; i < 200 && closing === null; i++) await turn();
  assert.notEqual(closing, null, "the defrag never reached its swap");
  for (let i = 0; i < 10; i++) await turn();
  assert.equal(closed, false, "close returned while the defrag's rename was pending");
  release();
  await closing;
  const outcome = await defrag;
  // what the member does next: the leader's file renamed over the name
  const other = await openBackend(base, "/d/member/snap/received.db", { clock: new SimClock() });
  other.write.createBucket("key");
  other.write.put("key", k("from-leader"), k("1"));
  await other.close();
  await base.rename("/d/member/snap/received.db", PATH);
  for (let i = 0; i < 10; i++) await turn();
  const again = await openBackend(base, PATH, { clock: new SimClock() });
  try {
    assert.deepEqual([...all(again.read, "key").keys()], ["from-leader"], outcome);
    assert.deepEqual(await base.readDir("/d/member/snap"), ["db"]);
  } finally {
    await again.close();
  }
});

Deno.test("online defrag: the copy is durable before its name is (power loss right after the rename)", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  for (let iter = 0; iter < 4; iter++) {
    const disk = new SimDisk({ rand: new Rand(seed + iter) });
    await disk.mkdirAll("/d/member/snap");
    const base = disk.process();
    let renamed = false;
    const gated: Disk = {
      ...base,
      rename: async (from, to) => {
        await base.rename(from, to);
        renamed = true;
      },
      syncDir: async (path) => {
        await base.syncDir(path);
        // the power goes the moment the new name is durable
        if (renamed) disk.powerLoss();
      },
    };
    const { b, model } = await filled(gated, new Rand(seed + iter), { batchBytes: 8192 });
    const outcome = await b.defrag().then(() => "done", (err) => `failed: ${err}`);
    assert.ok(renamed, outcome);
    const again = await openBackend(disk.process(), PATH, { clock: new SimClock() });
    try {
      assert.deepEqual(again.check(), [], `seed=${seed} iter ${iter}`);
      assert.deepEqual(sorted(all(again.read, "key")), sorted(model), `seed=${seed} iter ${iter}`);
    } finally {
      await again.close();
    }
  }
});
