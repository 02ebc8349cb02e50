import assert from "node:assert/strict";
import { type Entry, EntryType, type HardState } from "../../lib/base/raftpb.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { DiskFullError } from "../../lib/io/disk.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { WalCorruptError } from "../../lib/wal/errors.ts";
import { lastNonZero } from "../../lib/wal/record.ts";
import { Wal } from "../../lib/wal/wal.ts";

const META = { nodeId: 7n, clusterId: 9n };
const SEG = 4096;
const DIR = "/w";

function entry(index: number, term: number, size: number, salt = 0): Entry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = 1 + ((index * 131 + i * 7 + term + salt) % 255);
  return { index, term, type: EntryType.Normal, data };
}

async function walWith(batches: number, rand: Rand): Promise<{ disk: SimDisk; acked: Entry[] }> {
  const disk = new SimDisk({ rand });
  const wal = await Wal.create({ disk, dir: DIR, metadata: META, segmentSize: SEG });
  const acked: Entry[] = [];
  for (let b = 0; b < batches; b++) {
    const ents = Array.from(
      { length: rand.range(1, 4) },
      (_, i) => entry(acked.length + i + 1, 1, rand.range(1, 200)),
    );
    await wal.save({ term: 1, vote: 1n, commit: acked.length }, ents);
    acked.push(...ents);
  }
  await wal.close();
  return { disk, acked };
}

async function segmentsOf(disk: SimDisk): Promise<string[]> {
  return (await disk.readDir(DIR)).filter((n) => n.endsWith(".wal")).map((n) => `${DIR}/${n}`);
}

Deno.test("a torn last batch is truncated and reported; every acknowledged record survives", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  for (let round = 0; round < 40; round++) {
    const { disk, acked } = await walWith(rand.range(1, 12), rand);
    const tail = (await segmentsOf(disk)).at(-1)!;
    const { wal, contents: c0 } = await Wal.open({ disk, dir: DIR, segmentSize: SEG });
    sameEntries(c0.entries, acked, "");
    const before = lastNonZero(disk.contents(tail), 0, disk.contents(tail).length);
    const batch = Array.from(
      { length: rand.range(1, 6) },
      (_, i) => entry(acked.length + i + 1, 1, rand.range(1, 300)),
    );
    await wal.save({ term: 1, vote: 1n, commit: acked.length }, batch);
    await wal.close();
    const segs = await segmentsOf(disk);
    if (segs.at(-1) !== tail) continue; // the batch cut a segment: covered by the power-loss test
    const after = lastNonZero(disk.contents(tail), 0, disk.contents(tail).length);
    // Tear the last write: its bytes from a random point on never reached the disk.
    const tear = rand.range(before, after);
    disk.poke(tail, tear, new Uint8Array(after - tear));

    const { wal: w2, contents } = await Wal.open({ disk, dir: DIR, segmentSize: SEG });
    sameEntries(contents.entries.slice(0, acked.length), acked, `round ${round}`);
    const extra = contents.entries.slice(acked.length);
    assert.deepEqual(extra, batch.slice(0, extra.length), "only a prefix of the torn batch");
    if (contents.tornTail) {
      assert.equal(contents.tornTail.file, tail);
      assert.ok(contents.tornTail.discardedBytes > 0);
    }
    // After the repair the log opens cleanly and appends continue the chain.
    const next = entry(contents.entries.length + 1, 2, 50);
    await w2.save({ term: 2, vote: 1n, commit: 0 }, [next]);
    await w2.close();
    const { wal: w3, contents: c3 } = await Wal.open({ disk, dir: DIR, segmentSize: SEG });
    assert.equal(c3.tornTail, null);
    sameEntries(c3.entries, [...contents.entries, next], "");
    await w3.close();
  }
});

Deno.test("a zero-filled tail, inside or beyond the preallocation, is a clean end", async () => {
  const rand = new Rand(1);
  const { disk, acked } = await walWith(3, rand);
  const tail = (await segmentsOf(disk)).at(-1)!;
  const f = await disk.open(tail);
  await f.truncate(SEG * 3);
  await f.sync();
  await f.close();
  const { wal, contents } = await Wal.open({ disk, dir: DIR, segmentSize: SEG });
  sameEntries(contents.entries, acked, "");
  assert.equal(contents.tornTail, null);
  await wal.close();
});

Deno.test("a torn write that extended the file past its preallocation", async () => {
  const disk = new SimDisk();
  const wal = await Wal.create({ disk, dir: DIR, metadata: META, segmentSize: 1 << 16 });
  await wal.save({ term: 1, vote: 0n, commit: 0 }, [entry(1, 1, 10)]);
  await wal.save({ term: 1, vote: 0n, commit: 1 }, [entry(2, 1, (1 << 16) + 100)]);
  await wal.close();
  // The crash came before the cut: the next segment never got its name, and the big write
  // reached the disk only in part.
  const [first, second] = await segmentsOf(disk);
  await disk.remove(second);
  const f = await disk.open(first);
  await f.truncate((1 << 16) + 50);
  await f.sync();
  await f.close();
  const { wal: w2, contents } = await Wal.open({ disk, dir: DIR, segmentSize: 1 << 16 });
  assert.deepEqual(contents.entries.map((e) => e.index), [1]);
  sameEntries(contents.entries, [entry(1, 1, 10)], "");
  assert.match(contents.tornTail?.reason ?? "", /past the end of the file/);
  await w2.close();
});

Deno.test("a flipped bit in any acknowledged record is corruption naming file and offset", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const { disk } = await walWith(60, rand);
  const segs = await segmentsOf(disk);
  assert.ok(segs.length >= 3);
  const trials: Array<[string, number]> = [];
  for (const seg of segs) {
    const end = lastNonZero(disk.contents(seg), 0, disk.contents(seg).length);
    trials.push([seg, 0], [seg, end - 1]); // first header byte, last footer byte
    for (let i = 0; i < 25; i++) trials.push([seg, rand.int(end)]);
  }
  for (const [seg, offset] of trials) {
    const before = disk.contents(seg);
    const mask = 1 << rand.int(8);
    disk.flipBits(seg, offset, mask);
    await assert.rejects(
      () => Wal.open({ disk, dir: DIR, segmentSize: SEG }),
      (err: unknown) => {
        assert.ok(err instanceof WalCorruptError, `${seg}@${offset}: ${err}`);
        assert.equal(err.file, seg);
        assert.ok(err.offset <= offset, `reported ${err.offset}, flipped ${offset}`);
        assert.match(err.message, new RegExp(`${seg} at offset ${err.offset}`));
        return true;
      },
    );
    // Nothing was truncated or rewritten.
    const damaged = disk.contents(seg);
    disk.flipBits(seg, offset, mask);
    assert.equal(damaged.length, before.length);
    assert.deepEqual(disk.contents(seg), before);
  }
  const { wal } = await Wal.open({ disk, dir: DIR, segmentSize: SEG });
  await wal.close();
});

/** Lets a pending save run a few steps before the power goes. */
async function steps(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

Deno.test("power loss or kill at random moments: every acknowledged save is read back exactly", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const disk = new SimDisk({ rand: new Rand(seed ^ 0x5eed) });
  const segmentSize = 2048;
  let wal = await Wal.create({ disk, dir: DIR, metadata: META, segmentSize });
  let model: Entry[] = [];
  let state: HardState = { term: 1, vote: 0n, commit: 0 };
  await wal.save(state, []);
  for (let round = 0; round < 100; round++) {
    // Acknowledged saves.
    for (let s = rand.int(8); s > 0; s--) {
      const { batch, hs, start } = nextBatch(rand, model, state);
      await wal.save(hs, batch);
      model = [...model.slice(0, start - 1), ...batch];
      state = hs;
    }
    // One save in flight when the power goes.
    const { batch, hs, start } = nextBatch(rand, model, state);
    const pending = wal.save(hs, batch).then(() => true, () => false);
    await steps(rand.int(12));
    // Mostly power loss (unsynced writes kept, dropped or torn); sometimes kill -9 (all kept).
    if (rand.chance(0.25)) disk.processCrash();
    else disk.powerLoss("random");
    const completed = await pending;
    await wal.settled(); // the crashed WAL's background preallocation must not outlive it
    const ctx = `seed=${seed} round=${round}`;
    const opened = await Wal.open({ disk, dir: DIR, segmentSize });
    wal = opened.wal;
    const got = opened.contents;
    if (completed) {
      model = [...model.slice(0, start - 1), ...batch];
      state = hs;
      sameEntries(got.entries, model, ctx);
      assert.deepEqual(got.hardState, state, ctx);
    } else {
      // The in-flight save may have landed wholly, partly (a prefix) or not at all.
      const kept = got.entries.slice(0, start - 1);
      assert.deepEqual(kept, model.slice(0, start - 1), ctx);
      const tail = got.entries.slice(start - 1);
      const landed = batch.slice(0, tail.length);
      if (tail.length <= batch.length && deepEq(tail, landed) && tail.length > 0) {
        model = [...kept, ...tail];
      } else {
        sameEntries(got.entries, model, ctx);
      }
      assert.ok(deepEq(got.hardState, state) || deepEq(got.hardState, hs), ctx);
      state = got.hardState;
    }
  }
  await wal.close();
});

/** index/term/size of each entry: compared before the full entries so failures stay readable. */
function sum(entries: Entry[]): string[] {
  return entries.map((e) => `${e.index}/${e.term}/${e.data.length}`);
}

function sameEntries(got: Entry[], want: Entry[], ctx: string): void {
  assert.deepEqual(sum(got), sum(want), ctx);
  assert.deepEqual(got, want, ctx);
}

function deepEq(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

function nextBatch(
  rand: Rand,
  model: Entry[],
  state: HardState,
): { batch: Entry[]; hs: HardState; start: number } {
  const last = model.length;
  // Usually append; sometimes overwrite an uncommitted suffix with a higher term, as raft does.
  const length = rand.range(0, 5);
  const overwrite = length > 0 && last > state.commit && rand.chance(0.2);
  const start = overwrite ? rand.range(state.commit + 1, last + 1) : last + 1;
  const term = overwrite ? state.term + 1 : state.term;
  const batch = Array.from(
    { length },
    (_, i) => entry(start + i, term, rand.int(400), rand.int(1000)),
  );
  const end = start - 1 + batch.length;
  const commit = Math.max(state.commit, Math.min(end, state.commit + rand.int(3)));
  const hs = { term, vote: BigInt(term % 3), commit: overwrite ? state.commit : commit };
  return { batch, hs, start };
}

Deno.test("disk full while preparing a segment: the save fails, the WAL stops, nothing acknowledged is lost", async () => {
  const disk = new SimDisk();
  const wal = await Wal.create({ disk, dir: DIR, metadata: META, segmentSize: SEG });
  await wal.settled();
  const acked: Entry[] = [];
  for (let i = 1; i <= 5; i++) {
    const e = entry(i, 1, 100);
    await wal.save({ term: 1, vote: 0n, commit: i - 1 }, [e]);
    acked.push(e);
  }
  // Room for the current segment and the prepared one, not for the one after.
  disk.capacity = 3 * SEG + 100;
  let failed: unknown = null;
  let index = 6;
  while (failed === null && index < 200) {
    const e = entry(index, 1, 300);
    try {
      await wal.save({ term: 1, vote: 0n, commit: index - 1 }, [e]);
      acked.push(e);
      index++;
    } catch (err) {
      failed = err;
    }
  }
  assert.ok(failed instanceof DiskFullError, `expected DiskFullError, got ${failed}`);
  await assert.rejects(
    () => wal.save({ term: 1, vote: 0n, commit: 0 }, [entry(index + 1, 1, 1)]),
    /unusable after an earlier write failed/,
  );
  await wal.close();
  disk.capacity = Infinity;
  const { wal: w2, contents } = await Wal.open({ disk, dir: DIR, segmentSize: SEG });
  sameEntries(contents.entries.slice(0, acked.length), acked, "");
  assert.ok(contents.entries.length <= acked.length + 1);
  await w2.save({ term: 1, vote: 0n, commit: 1 }, [entry(contents.entries.length + 1, 1, 10)]);
  await w2.close();
});
