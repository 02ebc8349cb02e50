/**
 * Which WAL saves fdatasync, and where: a small save on the calling thread (INLINE_SYNC_BYTES),
 * a large one not, nor the small ones just after it (INLINE_SYNC_AFTER_SMALL_SAVES), `inlineSync: false` (a member with peers) keeps every save's sync off the
 * thread; and `sync: false` with only the commit index moved (raft's mustSync false) writes
 * nothing until the next save, snapshot marker or close carries it.
 */
import assert from "node:assert/strict";
import { EntryType } from "../../lib/base/raftpb.ts";
import type { DiskFile, OpenOptions, SyncOptions } from "../../lib/io/disk.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { INLINE_SYNC_AFTER_SMALL_SAVES, INLINE_SYNC_BYTES, Wal } from "../../lib/wal/wal.ts";

/**
 * A SimDisk that records, for every sync of a segment file (not the preallocated next one),
 * whether it was asked to run inline.
 */
class InlineRecordingDisk extends SimDisk {
  readonly inline: boolean[] = [];

  override async open(path: string, options?: OpenOptions): Promise<DiskFile> {
    const f = await super.open(path, options);
    const sync = f.sync.bind(f);
    f.sync = (o?: SyncOptions) => {
      if (path.includes(".wal")) this.inline.push(o?.inline === true);
      return sync(o);
    };
    return f;
  }
}

Deno.test("WAL: small saves sync inline unless the caller says not to or a large one was recent", async () => {
  const disk = new InlineRecordingDisk();
  await disk.mkdirAll("/data");
  const wal = await Wal.create({
    disk,
    dir: "/data/wal",
    metadata: { nodeId: 1n, clusterId: 2n },
    segmentSize: 1 << 20,
  });
  const entry = (index: number, size: number) => ({
    index,
    term: 1,
    type: EntryType.Normal,
    data: new Uint8Array(size),
  });
  const syncOf = async (save: () => Promise<void>): Promise<boolean[]> => {
    const before = disk.inline.length;
    await save();
    return disk.inline.slice(before);
  };
  assert.deepEqual(await syncOf(() => wal.save(null, [entry(1, 100)])), [true]);
  assert.deepEqual(
    await syncOf(() => wal.save(null, [entry(2, 100)], { inlineSync: false })),
    [false],
  );
  assert.deepEqual(await syncOf(() => wal.save(null, [entry(3, INLINE_SYNC_BYTES)])), [false]);
  // after a large save, small ones sync off the thread until enough of them came in a row
  let index = 4;
  for (let i = 1; i <= INLINE_SYNC_AFTER_SMALL_SAVES; i++) {
    assert.deepEqual(
      await syncOf(() => wal.save(null, [entry(index++, 100)], { inlineSync: true })),
      [i === INLINE_SYNC_AFTER_SMALL_SAVES],
      `small save ${i} after a large one`,
    );
  }
  assert.deepEqual(await syncOf(() => wal.save(null, [entry(index++, 100)])), [true]);
  await wal.close();
  const reopened = await Wal.open({ disk, dir: "/data/wal", segmentSize: 1 << 20 });
  assert.deepEqual(
    reopened.contents.entries.map((e) => e.index),
    Array.from({ length: index - 1 }, (_, i) => i + 1),
  );
  await reopened.wal.close();
});

Deno.test("WAL: a commit-only HardState waits for the next save, snapshot marker or close", async () => {
  const disk = new InlineRecordingDisk();
  await disk.mkdirAll("/data");
  const open = () => Wal.open({ disk, dir: "/data/wal", segmentSize: 1 << 20 });
  const wal = await Wal.create({
    disk,
    dir: "/data/wal",
    metadata: { nodeId: 1n, clusterId: 2n },
    segmentSize: 1 << 20,
  });
  const entry = (index: number) => ({
    index,
    term: 2,
    type: EntryType.Normal,
    data: new Uint8Array(10),
  });
  const writes = () => disk.inline.length;
  await wal.save({ term: 2, vote: 1n, commit: 0 }, [entry(1), entry(2)]);
  let before = writes();
  await wal.save({ term: 2, vote: 1n, commit: 1 }, [], { sync: false });
  await wal.save({ term: 2, vote: 1n, commit: 2 }, [], { sync: false });
  assert.equal(writes(), before, "no sync for a commit-only HardState");
  await wal.close();
  let r = await open();
  assert.equal(r.contents.hardState.commit, 2, "close wrote the held-back commit index");
  const w2 = r.wal;
  await w2.save({ term: 2, vote: 1n, commit: 2 }, [], { sync: false }); // unchanged
  await w2.save({ term: 2, vote: 1n, commit: 2 }, [entry(3)]);
  await w2.save({ term: 2, vote: 1n, commit: 3 }, [], { sync: false });
  before = writes();
  await w2.save(null, [entry(4)]); // raft's next batch: entries, HardState unchanged since
  assert.equal(writes(), before + 1);
  await w2.save({ term: 2, vote: 1n, commit: 4 }, [], { sync: false });
  const confState = {
    voters: [1n],
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };
  await w2.saveSnapshot({ index: 4, term: 2, confState });
  disk.powerLoss(); // only what was synced survives
  r = await open();
  assert.equal(r.contents.hardState.commit, 4, "the snapshot marker carried commit 4");
  // a HardState with a new term is written and synced whatever the caller says
  await r.wal.save({ term: 3, vote: 0n, commit: 4 }, [], { sync: false });
  disk.powerLoss();
  r = await open();
  assert.deepEqual(r.contents.hardState, { term: 3, vote: 0n, commit: 4 });
  await r.wal.close();
});
