// The WAL's fault points sit where etcd's gofail points in `WAL.Save` do, around the save's
// fdatasync: a power loss at walBeforeSync loses the save's entries and HardState (written,
// not yet durable), one at walAfterSync keeps them; a save that cuts the segment passes
// neither (etcd's cut syncs on its own path, without the points).
import assert from "node:assert/strict";
import { type Entry, EntryType, type HardState } from "../../lib/base/raftpb.ts";
import type { FaultPoint } from "../../lib/base/fault_points.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { Wal } from "../../lib/wal/wal.ts";

const META = { nodeId: 7n, clusterId: 42n };
const DIR = "/data/wal";

function entry(index: number, size = 16): Entry {
  return { index, term: 1, type: EntryType.Normal, data: new Uint8Array(size).fill(index) };
}

function state(commit: number): HardState {
  return { term: 1, vote: 1n, commit };
}

/**
 * A WAL on a fresh disk with entries 1..2 saved; its disk loses power (unsynced writes
 * dropped) at the next hit of `at` (null: never). Returns it with the points hit since.
 */
async function setup(at: FaultPoint | null, segmentSize = 1 << 16) {
  const disk = new SimDisk();
  await disk.mkdirAll("/data");
  const hits: FaultPoint[] = [];
  let armed = false;
  const wal = await Wal.create({
    disk: disk.process(),
    dir: DIR,
    metadata: META,
    segmentSize,
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
  await wal.save(state(2), [entry(1), entry(2)]);
  assert.deepEqual(hits, ["walBeforeSync", "walAfterSync"], "a save passes both points");
  hits.length = 0;
  armed = true;
  return { disk, wal, hits };
}

/** The indexes and the commit a restart reads back. */
async function reopen(disk: SimDisk): Promise<{ indexes: number[]; commit: number }> {
  // (a small segment: the next one is preallocated, 64 MiB of zeros by default)
  const { wal, contents } = await Wal.open({
    disk: disk.process(),
    dir: DIR,
    segmentSize: 1 << 16,
  });
  try {
    return { indexes: contents.entries.map((e) => e.index), commit: contents.hardState.commit };
  } finally {
    await wal.close();
  }
}

Deno.test("WAL fault points: a power loss at walBeforeSync loses the save, at walAfterSync keeps it", async () => {
  {
    const { disk, wal, hits } = await setup("walBeforeSync");
    // the save fails: its fdatasync is on a disk that lost power (nothing was acknowledged)
    await assert.rejects(wal.save(state(4), [entry(3), entry(4)]));
    assert.deepEqual(hits, ["walBeforeSync"]);
    assert.deepEqual(await reopen(disk), { indexes: [1, 2], commit: 2 });
  }
  {
    const { disk, wal, hits } = await setup("walAfterSync");
    await wal.save(state(4), [entry(3), entry(4)]);
    assert.deepEqual(hits, ["walBeforeSync", "walAfterSync"]);
    assert.deepEqual(await reopen(disk), { indexes: [1, 2, 3, 4], commit: 4 });
  }
});

Deno.test("WAL fault points: a save that cuts the segment passes neither point", async () => {
  const { wal, hits } = await setup(null, 4096);
  await wal.save(state(3), [entry(3, 8192)]);
  assert.deepEqual(hits, []);
  await wal.save(state(4), [entry(4)]);
  assert.deepEqual(hits, ["walBeforeSync", "walAfterSync"], "the next save, in the new segment");
  await wal.close();
});
