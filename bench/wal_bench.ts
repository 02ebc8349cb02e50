/**
 * CPU cost of the WAL's encoding and save path (no disk wait): the part of a save that is
 * ours rather than the disk's. The disk-bound comparison with raw write+fdatasync is
 * bench/wal_compare.ts (a script, because it interleaves three writers in one loop).
 */
import { type Entry, EntryType } from "../lib/base/raftpb.ts";
import { SimDisk } from "../lib/io/sim_disk.ts";
import { RecordEncoder } from "../lib/wal/encoder.ts";
import { Wal } from "../lib/wal/wal.ts";

const payload = new Uint8Array(256).map((_, i) => i);
function batch(n: number): Entry[] {
  return Array.from({ length: n }, (_, i) => ({
    index: i + 1,
    term: 1,
    type: EntryType.Normal,
    data: payload,
  }));
}

for (const n of [1, 16, 256]) {
  const ents = batch(n);
  const enc = new RecordEncoder(0);
  Deno.bench(`encode a batch of ${n} x 256 B entries + HardState`, { group: `encode` }, () => {
    enc.reset();
    enc.entries(ents);
    enc.state({ term: 1, vote: 1n, commit: 1 });
  });
}

for (const n of [1, 16, 256]) {
  const disk = new SimDisk();
  const wal = await Wal.create({
    disk,
    dir: `/b${n}`,
    metadata: { nodeId: 1n, clusterId: 1n },
    segmentSize: 16 << 20,
  });
  const ents = batch(n);
  let index = 0;
  Deno.bench(
    `save a batch of ${n} x 256 B on SimDisk (no fsync wait)`,
    { group: "save" },
    async () => {
      for (const e of ents) e.index = ++index;
      await wal.save({ term: 1, vote: 1n, commit: index - 1 }, ents);
    },
  );
}
