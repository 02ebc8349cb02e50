import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { DiskFullError, NotFoundError } from "../../lib/io/disk.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { SimClock } from "../../lib/io/clock.ts";

const bytes = (...v: number[]) => Uint8Array.from(v);

async function read(disk: SimDisk, path: string): Promise<number[]> {
  const f = await disk.open(path);
  const buf = new Uint8Array(await f.size());
  await f.readAt(buf, 0);
  await f.close();
  return [...buf];
}

Deno.test("power loss keeps synced data and drops unsynced writes", async () => {
  const disk = new SimDisk();
  await disk.mkdirAll("/d");
  const f = await disk.open("/d/a", { create: true });
  await f.writeAt(bytes(1, 2, 3), 0);
  await f.sync();
  await disk.syncDir("/d");
  await f.writeAt(bytes(9, 9), 1);
  assert.deepEqual(await read(disk, "/d/a"), [1, 9, 9]);
  disk.powerLoss("drop-all");
  assert.deepEqual(await read(disk, "/d/a"), [1, 2, 3]);
  await assert.rejects(() => f.writeAt(bytes(0), 0), /crash/);
});

Deno.test("a name is durable only after syncDir", async () => {
  const disk = new SimDisk();
  await disk.mkdirAll("/d");
  const f = await disk.open("/d/tmp", { create: true });
  await f.writeAt(bytes(7), 0);
  await f.sync();
  await disk.rename("/d/tmp", "/d/final");
  disk.powerLoss("keep-all");
  assert.deepEqual(await disk.exists("/d/final"), false);
  await assert.rejects(() => disk.open("/d/final"), NotFoundError);
});

Deno.test("random power loss tears writes but never invents bytes", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const disk = new SimDisk({ rand: new Rand(seed) });
  await disk.mkdirAll("/d");
  const f = await disk.open("/d/a", { create: true });
  await disk.syncDir("/d");
  await f.writeAt(new Uint8Array(64).fill(1), 0);
  await f.sync();
  await f.writeAt(new Uint8Array(64).fill(2), 0);
  disk.powerLoss("random");
  const after = await read(disk, "/d/a");
  assert.deepEqual(after.length, 64);
  // Whatever survived is a prefix of 2s followed by the synced 1s.
  const twos = after.indexOf(1) === -1 ? 64 : after.indexOf(1);
  assert.deepEqual(after, [...new Array(twos).fill(2), ...new Array(64 - twos).fill(1)]);
});

Deno.test("disk full fails the write and a process crash keeps page-cache data", async () => {
  const disk = new SimDisk({ capacity: 10 });
  await disk.mkdirAll("/d");
  const f = await disk.open("/d/a", { create: true });
  await disk.syncDir("/d");
  await f.writeAt(new Uint8Array(8), 0);
  await assert.rejects(() => f.writeAt(new Uint8Array(8), 8), DiskFullError);
  disk.processCrash();
  assert.deepEqual((await read(disk, "/d/a")).length, 10);
});

Deno.test("locks exclude a second holder until close", async () => {
  const disk = new SimDisk();
  await disk.mkdirAll("/d");
  const a = await disk.open("/d/lock", { create: true });
  const b = await disk.open("/d/lock");
  assert.deepEqual(await a.tryLock(), true);
  assert.deepEqual(await b.tryLock(), false);
  await a.close();
  assert.deepEqual(await b.tryLock(), true);
});

Deno.test("a slow disk's fsync takes its latency on the clock; a power loss before it ends loses the write", async () => {
  const clock = new SimClock(0);
  const disk = new SimDisk();
  const f = await disk.open("/a", { create: true });
  const g = await disk.open("/b", { create: true });
  await disk.syncDir("/");
  disk.slowSync = { clock, ms: 20 };
  await g.writeAt(new Uint8Array([4]), 0);
  const synced = g.sync();
  clock.advance(20);
  await synced;
  await f.writeAt(new Uint8Array([1, 2, 3]), 0);
  let done = false;
  const cut = f.sync().then(() => (done = true), (e: unknown) => e);
  clock.advance(19);
  await Promise.resolve();
  assert.equal(done, false, "fsync returned before its latency");
  disk.powerLoss("drop-all");
  clock.advance(1);
  assert.ok((await cut) instanceof Error, "an fsync cut by a power loss must fail");
  assert.deepEqual(disk.contents("/a"), new Uint8Array(0));
  assert.deepEqual(disk.contents("/b"), new Uint8Array([4]));
});
