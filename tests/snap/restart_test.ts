import assert from "node:assert/strict";
import { type Entry, EntryType, type Snapshot } from "../../lib/base/raftpb.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { Snapshotter } from "../../lib/snap/snapshotter.ts";
import { validSnapshots } from "../../lib/wal/inspect.ts";
import { Wal } from "../../lib/wal/wal.ts";

const WAL_DIR = "/member/wal";
const SNAP_DIR = "/member/snap";
const SEG = 4096;
const CONF = { voters: [1n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

function entry(index: number): Entry {
  return { index, term: 1, type: EntryType.Normal, data: new Uint8Array(120).fill(index & 0xff) };
}

function snapAt(index: number): Snapshot {
  return { data: new Uint8Array([index & 0xff]), metadata: { index, term: 1, confState: CONF } };
}

/** The boot sequence a member runs: newest snapshot the WAL knows, then the WAL after it. */
async function boot(disk: SimDisk) {
  const markers = await validSnapshots(disk, WAL_DIR);
  const known = new Set(markers.map((m) => `${m.term}/${m.index}`));
  const snapper = new Snapshotter(disk, SNAP_DIR, { maxSnapFiles: 2 });
  const loaded = await snapper.load((index, term) => known.has(`${term}/${index}`));
  const at = loaded.snapshot?.metadata ?? { index: 0, term: 0 };
  const { wal, contents } = await Wal.open({
    disk,
    dir: WAL_DIR,
    segmentSize: SEG,
    snapshot: { index: at.index, term: at.term },
  });
  return { wal, contents, snapper, snapIndex: at.index };
}

Deno.test("snapshot, release and purge with power loss at random moments; the member always boots", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const disk = new SimDisk({ rand: new Rand(seed + 1) });
  const wal0 = await Wal.create({
    disk,
    dir: WAL_DIR,
    metadata: { nodeId: 1n, clusterId: 1n },
    segmentSize: SEG,
  });
  await wal0.close();
  let acked = 0; // highest index whose save resolved
  let fromSnapshot = 0;
  for (let round = 0; round < 25; round++) {
    const { wal, contents, snapper, snapIndex } = await boot(disk);
    // Every acknowledged entry is either covered by the snapshot or read back.
    const last = snapIndex + contents.entries.length;
    assert.ok(last >= acked, `seed=${seed} round=${round}: last ${last} < acked ${acked}`);
    contents.entries.forEach((e, i) => assert.deepEqual(e, entry(snapIndex + i + 1)));
    acked = last;
    if (snapIndex > 0) fromSnapshot++;
    let index = last;
    const crashAt = rand.int(30);
    let step = 0;
    const maybeCrash = () => {
      if (step++ === crashAt) {
        disk.powerLoss("random");
        throw new Error("power lost");
      }
    };
    try {
      for (let n = 0; n < 10; n++) {
        await wal.save({ term: 1, vote: 1n, commit: index + 1 }, [entry(index + 1)]);
        acked = ++index;
        maybeCrash();
        if (index % 7 === 0) {
          // The server's snapshot sequence: file, WAL marker, release, purge.
          await snapper.save(snapAt(index));
          maybeCrash();
          await wal.saveSnapshot({ index, term: 1, confState: CONF });
          maybeCrash();
          const kept = await snapper.snapNames();
          const oldest = Number.parseInt(kept[0].split("-")[1].slice(0, 16), 16);
          await wal.releaseBefore(oldest);
          maybeCrash();
          await snapper.purge();
          maybeCrash();
        }
      }
      await wal.close();
    } catch (err) {
      if (!(err instanceof Error) || !/power lost|crash/.test(err.message)) throw err;
      await wal.settled();
    }
  }
  assert.ok(fromSnapshot > 0, "no boot started from a snapshot");
  const segments = (await disk.readDir(WAL_DIR)).filter((n) => n.endsWith(".wal"));
  assert.notEqual(segments[0], "0000000000000000-0000000000000000.wal", "nothing was released");
  // A power loss between a snapshot and its purge (or before a purge's directory sync) can
  // leave extra files, several after consecutive crashes; the next purge removes them all.
  const last = new Snapshotter(disk, SNAP_DIR, { maxSnapFiles: 2 });
  await last.purge();
  const left = await last.snapNames();
  assert.ok(left.length <= 2, `seed=${seed}: ${left.length} snapshot files after a purge`);
});
