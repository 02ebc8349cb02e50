/**
 * Which WAL saves fdatasync on the calling thread: a small save does (INLINE_SYNC_BYTES), a
 * large one does not, and `inlineSync: false` (a member with peers) keeps every save's sync
 * off the thread.
 */
import assert from "node:assert/strict";
import { EntryType } from "../../lib/base/raftpb.ts";
import type { DiskFile, OpenOptions, SyncOptions } from "../../lib/io/disk.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { INLINE_SYNC_BYTES, Wal } from "../../lib/wal/wal.ts";

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

Deno.test("WAL: small saves sync inline unless the caller says not to; large ones never", async () => {
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
  assert.deepEqual(
    await syncOf(() => wal.save(null, [entry(4, 100)], { inlineSync: true })),
    [true],
  );
  await wal.close();
  const reopened = await Wal.open({ disk, dir: "/data/wal", segmentSize: 1 << 20 });
  assert.deepEqual(reopened.contents.entries.map((e) => e.index), [1, 2, 3, 4]);
  await reopened.wal.close();
});
