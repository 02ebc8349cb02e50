import assert from "node:assert/strict";
import { type Entry, EntryType, type Snapshot } from "../../lib/base/raftpb.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { Snapshotter } from "../../lib/snap/snapshotter.ts";
import { Wal } from "../../lib/wal/wal.ts";
import { validSnapshots } from "../../lib/wal/inspect.ts";
import { WalCorruptError } from "../../lib/wal/errors.ts";
import { newestValidSnapshot } from "../../lib/server/bootstrap.ts";

const WAL_DIR = "/m/wal";
const SNAP_DIR = "/m/snap";
const CONF = { voters: [1n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

function entry(index: number): Entry {
  return { index, term: 1, type: EntryType.Normal, data: new Uint8Array(200).fill(index & 0xff) };
}

function snapAt(index: number): Snapshot {
  return { data: new Uint8Array([index & 0xff]), metadata: { index, term: 1, confState: CONF } };
}

/**
 * A WAL of 60 entries over many small segments, a marker and a file for snapshots at 10, 20,
 * 30 and 40 (commit 55), and with `fileOnly` a newest snapshot file at 50 whose marker was never
 * written (a crash between the two).
 */
async function member(fileOnly: boolean): Promise<{ disk: SimDisk; snapper: Snapshotter }> {
  const disk = new SimDisk();
  const snapper = new Snapshotter(disk, SNAP_DIR, { maxSnapFiles: 10 });
  const wal = await Wal.create({
    disk,
    dir: WAL_DIR,
    metadata: { nodeId: 1n, clusterId: 1n },
    segmentSize: 2048,
  });
  for (let i = 1; i <= 60; i++) {
    await wal.save({ term: 1, vote: 0n, commit: Math.max(0, i - 5) }, [entry(i)]);
    if (i % 10 === 0 && i <= 40) {
      await snapper.save(snapAt(i));
      await wal.saveSnapshot({ index: i, term: 1, confState: CONF });
    }
  }
  if (fileOnly) await snapper.save(snapAt(50));
  assert.ok(wal.segments.length >= 6, `${wal.segments.length} segments`);
  await wal.close();
  return { disk, snapper };
}

Deno.test("the newest snapshot the WAL records is found reading only its segments", async () => {
  const { disk, snapper } = await member(false);
  const snap = await newestValidSnapshot(disk, WAL_DIR, snapper);
  assert.equal(snap?.metadata.index, 40);
  // the older segments are not read: their damage does not stop this start (they hold only
  // entries the snapshot covers; Wal.open reads from the snapshot's segment on)
  const first = (await disk.readDir(WAL_DIR)).filter((n) => n.endsWith(".wal")).sort()[0];
  disk.flipBits(`${WAL_DIR}/${first}`, 300);
  await assert.rejects(validSnapshots(disk, WAL_DIR), WalCorruptError);
  assert.equal((await newestValidSnapshot(disk, WAL_DIR, snapper))?.metadata.index, 40);
});

Deno.test("a newest snapshot file without its marker falls back to every segment", async () => {
  const { disk, snapper } = await member(true);
  // the file at 50 has no marker: the listing from its segment finds none usable (the marker
  // at 40 is in an earlier segment), so the whole WAL is listed and 40 is loaded
  assert.deepEqual((await validSnapshots(disk, WAL_DIR, 50)).map((s) => s.index), []);
  const snap = await newestValidSnapshot(disk, WAL_DIR, snapper);
  assert.equal(snap?.metadata.index, 40);
});

Deno.test("a damaged newest snapshot file falls back to an older one", async () => {
  const { disk, snapper } = await member(false);
  const names = await snapper.snapNames();
  disk.flipBits(`${SNAP_DIR}/${names.at(-1)}`, 20);
  const snap = await newestValidSnapshot(disk, WAL_DIR, snapper);
  assert.equal(snap?.metadata.index, 30);
  assert.ok((await disk.readDir(SNAP_DIR)).some((n) => n.endsWith(".broken")));
});
