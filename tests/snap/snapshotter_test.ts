import assert from "node:assert/strict";
import type { Snapshot } from "../../lib/base/raftpb.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { SnapCorruptError } from "../../lib/snap/snap_file.ts";
import { dbFileName, snapFileName, Snapshotter } from "../../lib/snap/snapshotter.ts";

function snap(term: number, index: number, size = 100): Snapshot {
  const data = new Uint8Array(size).map((_, i) => (i * 7 + index) & 0xff);
  return {
    data,
    metadata: {
      term,
      index,
      confState: {
        voters: [1n, 2n, 0xffffffffffffffffn],
        learners: [9n],
        votersOutgoing: [],
        learnersNext: [3n],
        autoLeave: index % 2 === 0,
      },
    },
  };
}

Deno.test("names are etcd's 16-hex-digit fields", () => {
  assert.equal(snapFileName(2, 0x1f), "0000000000000002-000000000000001f.snap");
  assert.equal(dbFileName(0x1f), "000000000000001f.snap.db");
});

Deno.test("save then load the newest; survives a power loss once saved", async () => {
  const disk = new SimDisk({ rand: new Rand(3) });
  const snapper = new Snapshotter(disk, "/data/snap");
  assert.deepEqual(await snapper.load(), { snapshot: null, name: null, broken: [] });
  await snapper.save(snap(1, 10));
  await snapper.save(snap(2, 20, 0));
  await snapper.save(snap(2, 30, 5000));
  disk.powerLoss("drop-all");
  const got = await snapper.load();
  assert.deepEqual(got.snapshot, snap(2, 30, 5000));
  assert.equal(got.name, snapFileName(2, 30));
  assert.deepEqual(got.broken, []);
  // Only snapshots the WAL knows about.
  const older = await snapper.load((index) => index <= 20);
  assert.deepEqual(older.snapshot, snap(2, 20, 0));
});

Deno.test("a damaged newest file is renamed .broken and the next newest loads", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const disk = new SimDisk();
  const snapper = new Snapshotter(disk, "/s");
  await snapper.save(snap(1, 10));
  const newest = await snapper.save(snap(1, 20, 300));
  const size = disk.contents(newest).length;
  disk.flipBits(newest, rand.int(size), 1 << rand.int(8));
  const got = await snapper.load();
  assert.deepEqual(got.snapshot, snap(1, 10));
  assert.equal(got.broken.length, 1);
  assert.equal(got.broken[0].movedTo, `${newest}.broken`);
  assert.match(got.broken[0].reason, /damaged/);
  assert.ok(await disk.exists(`${newest}.broken`));
  assert.equal(await disk.exists(newest), false);
  assert.deepEqual(await snapper.snapNames(), [snapFileName(1, 10)]);
});

Deno.test("truncated, empty and foreign files are broken, never loaded", async () => {
  const disk = new SimDisk();
  const snapper = new Snapshotter(disk, "/s");
  const path = await snapper.save(snap(3, 40));
  const whole = disk.contents(path);
  for (
    const bytes of [whole.subarray(0, whole.length - 1), new Uint8Array(0), whole.slice(0, 24)]
  ) {
    const f = await disk.open(path);
    await f.truncate(0);
    await f.writeAt(bytes, 0);
    await f.close();
    await assert.rejects(() => snapper.read(snapFileName(3, 40)), SnapCorruptError);
  }
  // A valid file under the wrong name.
  const f = await disk.open("/s/0000000000000003-0000000000000041.snap", { create: true });
  await f.writeAt(whole, 0);
  await f.close();
  await assert.rejects(
    () => snapper.read("0000000000000003-0000000000000041.snap"),
    /name does not match/,
  );
  const got = await snapper.load();
  assert.equal(got.snapshot, null);
  assert.equal(got.broken.length, 2);
});

Deno.test("a crash mid-save leaves no file under the final name; debris is removed", async () => {
  const disk = new SimDisk();
  const snapper = new Snapshotter(disk, "/s");
  await snapper.save(snap(1, 1));
  // A save that never finished: its temporary file survived.
  await disk.mkdirAll("/s");
  const tmp = await disk.open(`/s/${snapFileName(1, 2)}.tmp`, { create: true });
  await tmp.writeAt(new Uint8Array([1, 2, 3]), 0);
  await tmp.sync();
  await tmp.close();
  await disk.syncDir("/s");
  const got = await snapper.load();
  assert.deepEqual(got.snapshot, snap(1, 1));
  assert.equal(await disk.exists(`/s/${snapFileName(1, 2)}.tmp`), false);
});

Deno.test("purge keeps the newest maxSnapFiles of each kind", async () => {
  const disk = new SimDisk();
  const snapper = new Snapshotter(disk, "/s", { maxSnapFiles: 3 });
  for (let i = 1; i <= 7; i++) {
    await snapper.save(snap(1 + (i >> 2), i * 100));
    await snapper.saveDbFrom(i * 100, [new Uint8Array([i])]);
  }
  const removed = await snapper.purge();
  assert.equal(removed.length, 8);
  assert.deepEqual(await snapper.snapNames(), [
    snapFileName(2, 500),
    snapFileName(2, 600),
    snapFileName(2, 700),
  ]);
  assert.deepEqual(await snapper.dbNames(), [dbFileName(500), dbFileName(600), dbFileName(700)]);
  assert.deepEqual(await snapper.releaseDbsBefore(700), [dbFileName(500), dbFileName(600)]);
  assert.deepEqual(await snapper.dbNames(), [dbFileName(700)]);
});

Deno.test(".snap.db is received from a stream of chunks atomically, with progress", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const dir = await Deno.makeTempDir();
  try {
    const snapper = new Snapshotter(new RealDisk(), `${dir}/snap`);
    const chunks = Array.from({ length: 20 }, () => rand.bytes(rand.range(1, 70_000)));
    const progress: number[] = [];
    const stream = ReadableStream.from(chunks);
    const { path, size } = await snapper.saveDbFrom(0x2a, stream, (n) => progress.push(n));
    assert.equal(path, `${dir}/snap/${dbFileName(0x2a)}`);
    const want = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      want.set(c, at);
      at += c.length;
    }
    assert.equal(size, want.length);
    assert.equal(progress.at(-1), want.length);
    assert.equal(progress.length, chunks.length);
    assert.deepEqual(await Deno.readFile(path), want);
    assert.deepEqual(await snapper.dbNames(), [dbFileName(0x2a)]);

    // A stream that fails mid-way leaves neither the final name nor the temporary.
    const failing = async function* () {
      yield new Uint8Array([1, 2, 3]);
      throw new Error("peer went away");
    };
    await assert.rejects(() => snapper.saveDbFrom(0x2b, failing()), /peer went away/);
    assert.deepEqual(await snapper.dbNames(), [dbFileName(0x2a)]);
    assert.deepEqual([...Deno.readDirSync(`${dir}/snap`)].map((e) => e.name), [dbFileName(0x2a)]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a .snap.db interrupted by power loss is absent, not partial", async () => {
  const disk = new SimDisk({ rand: new Rand(5) });
  const snapper = new Snapshotter(disk, "/s");
  await disk.mkdirAll("/s");
  let cut = false;
  async function* chunks() {
    yield new Uint8Array(1000).fill(1);
    disk.powerLoss("random");
    cut = true;
    yield new Uint8Array(1000).fill(2);
  }
  await assert.rejects(() => snapper.saveDbFrom(7, chunks()));
  assert.ok(cut);
  assert.equal(await disk.exists(snapper.dbPath(7)), false);
});
