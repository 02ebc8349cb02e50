import assert from "node:assert/strict";
import { type Entry, EntryType, type HardState } from "../../lib/base/raftpb.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";
import {
  WalExistsError,
  WalLockedError,
  WalNotFoundError,
  WalSnapshotError,
} from "../../lib/wal/errors.ts";
import { validSnapshots } from "../../lib/wal/inspect.ts";
import { Wal } from "../../lib/wal/wal.ts";

const META = { nodeId: 0xfedcba9876543210n, clusterId: 42n };
const SEG = 1 << 16;

function entry(index: number, term: number, size = 16, type = EntryType.Normal): Entry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + i * 7 + term) & 0xff;
  return { index, term, type, data };
}

async function newDisk(): Promise<SimDisk> {
  const disk = new SimDisk();
  await disk.mkdirAll("/data");
  return disk;
}

Deno.test("every record type round-trips", async () => {
  const disk = await newDisk();
  const wal = await Wal.create({ disk, dir: "/data/wal", metadata: META, segmentSize: 1 << 16 });
  const ents: Entry[] = [
    entry(1, 1, 0),
    entry(2, 1, 100, EntryType.ConfChange),
    entry(3, 2, 7, EntryType.ConfChangeV2),
    { index: 4, term: 2 ** 40, type: EntryType.Normal, data: new Uint8Array([0, 255, 1]) },
  ];
  const hs: HardState = { term: 2 ** 40, vote: 0xffffffffffffffffn, commit: 3 };
  await wal.save(hs, ents);
  await wal.saveSnapshot({
    index: 3,
    term: 2,
    confState: {
      voters: [1n, 2n, 0xffffffffffffffffn],
      learners: [4n],
      votersOutgoing: [1n],
      learnersNext: [],
      autoLeave: true,
    },
  });
  await wal.close();

  const { wal: w2, contents } = await Wal.open({ disk, dir: "/data/wal", segmentSize: 1 << 16 });
  assert.deepEqual(contents.metadata, META);
  assert.deepEqual(contents.hardState, hs);
  assert.deepEqual(contents.entries, ents);
  assert.equal(contents.tornTail, null);
  await w2.close();

  const { wal: w3, contents: fromSnap } = await Wal.open({
    disk,
    dir: "/data/wal",
    segmentSize: SEG,
    snapshot: { index: 3, term: 2 },
  });
  assert.deepEqual(fromSnap.entries, [ents[3]]);
  await w3.close();
  await assert.rejects(
    () => Wal.open({ disk, dir: "/data/wal", segmentSize: SEG, snapshot: { index: 3, term: 1 } }),
    WalSnapshotError,
  );
  await assert.rejects(
    () => Wal.open({ disk, dir: "/data/wal", segmentSize: SEG, snapshot: { index: 2, term: 1 } }),
    WalSnapshotError,
  );
});

Deno.test("entries overwritten by a later term are resolved on read", async () => {
  const disk = await newDisk();
  const wal = await Wal.create({ disk, dir: "/w", metadata: META, segmentSize: SEG });
  await wal.save({ term: 1, vote: 1n, commit: 0 }, [entry(1, 1), entry(2, 1), entry(3, 1)]);
  await wal.save({ term: 2, vote: 2n, commit: 1 }, [entry(2, 2), entry(3, 2)]);
  await wal.save({ term: 3, vote: 2n, commit: 2 }, [entry(3, 3), entry(4, 3)]);
  await wal.close();
  const { wal: w2, contents } = await Wal.open({ disk, dir: "/w", segmentSize: SEG });
  assert.deepEqual(contents.entries, [entry(1, 1), entry(2, 2), entry(3, 3), entry(4, 3)]);
  assert.deepEqual(contents.hardState, { term: 3, vote: 2n, commit: 2 });
  assert.equal(w2.lastIndex, 4);
  await w2.close();
});

Deno.test("many segments: cut, read across them, open at a snapshot, release", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const disk = await newDisk();
  const segmentSize = 4096;
  const wal = await Wal.create({ disk, dir: "/w", metadata: META, segmentSize });
  const all: Entry[] = [];
  let index = 0;
  for (let batch = 0; batch < 120; batch++) {
    const n = rand.range(1, 6);
    const ents: Entry[] = [];
    for (let i = 0; i < n; i++) ents.push(entry(++index, 1, rand.int(300)));
    all.push(...ents);
    await wal.save({ term: 1, vote: 1n, commit: index - 1 }, ents);
  }
  const segments = wal.segments;
  assert.ok(segments.length > 10, `only ${segments.length} segments`);
  assert.equal(segments[0], "0000000000000000-0000000000000000.wal");
  await wal.saveSnapshot({
    index: 200,
    term: 1,
    confState: {
      voters: [1n],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    },
  });
  await wal.close();

  const { wal: w2, contents } = await Wal.open({ disk, dir: "/w", segmentSize });
  assert.deepEqual(contents.entries, all);
  assert.deepEqual(contents.hardState, { term: 1, vote: 1n, commit: index - 1 });
  await w2.releaseBefore(200);
  const kept = w2.segments;
  assert.ok(kept.length < segments.length);
  const firstKept = Number.parseInt(kept[0].split("-")[1], 16);
  assert.ok(firstKept <= 200, `first kept segment starts at ${firstKept}`);
  await w2.close();

  await assert.rejects(() => Wal.open({ disk, dir: "/w", segmentSize }), WalNotFoundError);
  const { wal: w3, contents: after } = await Wal.open({
    disk,
    dir: "/w",
    segmentSize,
    snapshot: { index: 200, term: 1 },
  });
  assert.deepEqual(after.entries, all.slice(200));
  assert.deepEqual(after.hardState, { term: 1, vote: 1n, commit: index - 1 });
  // Appending continues the chain after a release.
  await w3.save({ term: 2, vote: 1n, commit: index }, [entry(index + 1, 2)]);
  await w3.close();
  const { wal: w4, contents: again } = await Wal.open({
    disk,
    dir: "/w",
    segmentSize,
    snapshot: { index: 200, term: 1 },
  });
  assert.deepEqual(again.entries, [...all.slice(200), entry(index + 1, 2)]);
  await w4.close();
});

Deno.test("a big batch larger than a segment", async () => {
  const disk = await newDisk();
  const wal = await Wal.create({ disk, dir: "/w", metadata: META, segmentSize: 4096 });
  const ents = Array.from({ length: 50 }, (_, i) => entry(i + 1, 1, 500));
  await wal.save({ term: 1, vote: 0n, commit: 0 }, ents);
  await wal.save({ term: 1, vote: 0n, commit: 50 }, [entry(51, 1)]);
  assert.equal(wal.segments.length, 2);
  await wal.close();
  const { wal: w2, contents } = await Wal.open({ disk, dir: "/w", segmentSize: 4096 });
  assert.deepEqual(contents.entries, [...ents, entry(51, 1)]);
  await w2.close();
});

Deno.test("create refuses an existing WAL; open refuses a missing one", async () => {
  const disk = await newDisk();
  await assert.rejects(() => Wal.open({ disk, dir: "/nowhere" }), WalNotFoundError);
  const wal = await Wal.create({ disk, dir: "/w", metadata: META, segmentSize: SEG });
  await wal.close();
  await assert.rejects(
    () => Wal.create({ disk, dir: "/w", metadata: META, segmentSize: SEG }),
    WalExistsError,
  );
  assert.equal(await Wal.exists(disk, "/w"), true);
  assert.equal(await Wal.exists(disk, "/x"), false);
});

Deno.test("a second opener gets a clear lock error (real disk, real flock)", async () => {
  const dir = await Deno.makeTempDir();
  const disk = new RealDisk();
  try {
    const wal = await Wal.create({ disk, dir: `${dir}/wal`, metadata: META, segmentSize: 1 << 16 });
    await assert.rejects(
      () => Wal.open({ disk, dir: `${dir}/wal` }),
      (err: unknown) =>
        err instanceof WalLockedError && /in use by another process/.test(err.message),
    );
    await wal.save({ term: 1, vote: 0n, commit: 0 }, [entry(1, 1)]);
    await wal.close();
    const { wal: w2, contents } = await Wal.open({ disk, dir: `${dir}/wal` });
    assert.deepEqual(contents.entries, [entry(1, 1)]);
    await w2.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad input is rejected without writing and leaves the WAL usable", async () => {
  const disk = await newDisk();
  const wal = await Wal.create({ disk, dir: "/w", metadata: META, segmentSize: SEG });
  await wal.save({ term: 1, vote: 0n, commit: 0 }, [entry(1, 1)]);
  await assert.rejects(
    () => wal.save({ term: 1, vote: 0n, commit: 0 }, [entry(2.5, 1)]),
    /not a non-negative safe integer/,
  );
  await assert.rejects(
    () =>
      wal.save({ term: 1, vote: 0n, commit: 0 }, [entry(2, 1), {
        index: 3,
        term: 1,
        type: EntryType.Normal,
        data: new Uint8Array(512 * 1024 * 1024),
      }]),
    /exceeds the limit/,
  );
  await wal.save({ term: 1, vote: 0n, commit: 1 }, [entry(2, 1)]);
  await wal.close();
  const { wal: w2, contents } = await Wal.open({ disk, dir: "/w", segmentSize: SEG });
  assert.deepEqual(contents.entries, [entry(1, 1), entry(2, 1)]);
  await w2.close();
});

Deno.test("one fdatasync per save", async () => {
  const disk = await newDisk();
  const wal = await Wal.create({ disk, dir: "/w", metadata: META, segmentSize: SEG });
  await wal.settled();
  const before = disk.stats.syncs;
  await wal.save({ term: 1, vote: 0n, commit: 0 }, [entry(1, 1), entry(2, 1), entry(3, 1)]);
  assert.equal(disk.stats.syncs - before, 1);
  await wal.save({ term: 1, vote: 0n, commit: 0 }, []);
  await wal.save(null, []);
  assert.equal(disk.stats.syncs - before, 1, "an unchanged state and no entries write nothing");
  await wal.save(null, [entry(4, 1)]);
  assert.equal(disk.stats.syncs - before, 2);
  await wal.close();
});

Deno.test("validSnapshots lists the markers at or below the last commit", async () => {
  const disk = await newDisk();
  const wal = await Wal.create({ disk, dir: "/w", metadata: META, segmentSize: 2048 });
  const cs = { voters: [1n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  for (let i = 1; i <= 40; i++) {
    await wal.save({ term: 1, vote: 0n, commit: i - 5 > 0 ? i - 5 : 0 }, [entry(i, 1, 100)]);
    if (i % 10 === 0) await wal.saveSnapshot({ index: i, term: 1, confState: cs });
  }
  await wal.close();
  // Commit is 35: the marker at 40 is not yet safe to restart from.
  const got = await validSnapshots(disk, "/w");
  assert.deepEqual(got.map((s) => s.index), [0, 10, 20, 30]);
  assert.deepEqual(got[1].confState, cs);
  // from the segment a snapshot at 30 starts in: the markers from there on, the same commit
  const segments = (await disk.readDir("/w")).filter((n) => n.endsWith(".wal"));
  assert.ok(segments.length >= 3, `${segments.length} segments`);
  const from30 = await validSnapshots(disk, "/w", 30);
  assert.deepEqual(from30.map((s) => s.index), [30]);
  const from20 = await validSnapshots(disk, "/w", 20);
  assert.deepEqual(from20.map((s) => s.index).slice(-2), [20, 30]);
  assert.ok(!from20.some((s) => s.index === 0), "the first segment was listed");
  // an index before every segment's start lists them all
  assert.deepEqual((await validSnapshots(disk, "/w", 0)).map((s) => s.index), [0, 10, 20, 30]);
});
