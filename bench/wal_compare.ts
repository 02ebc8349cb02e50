/**
 * WAL append throughput beside the disk's raw write+fdatasync rate for the same bytes, in one
 * run, so the ratio is what the targets are about (docs/perf.md):
 *   batch of 1 x 256 B: WAL save rate >= 90% of raw write+fdatasync of the same bytes
 *   batch of 256 x 256 B: >= 80% of raw write+fdatasync of the same size
 *
 * Run: ./node_modules/.bin/deno run -A bench/wal_compare.ts [--seconds 5] [--slice-ms 0] [--batches 1,16,256]
 *      [--dir D]
 *
 * For each batch size the three writers run round-robin (one WAL save, one raw append, one
 * raw write into a zero-filled file), each timed separately, so that drift in the disk and
 * the neighbours' load affect all three alike. Raw writes go
 * through the same `Disk` seam (RealDisk) at increasing offsets, one writeAt + one sync per
 * batch, with exactly as many bytes as the WAL wrote for that batch (records, CRC, padding).
 */
import { type Entry, EntryType } from "../lib/base/raftpb.ts";
import { Rand } from "../lib/base/rand.ts";
import type { DiskFile } from "../lib/io/disk.ts";
import { RealDisk } from "../lib/io/real_disk.ts";
import { RecordEncoder } from "../lib/wal/encoder.ts";
import { Wal } from "../lib/wal/wal.ts";
import { zeroFill } from "../lib/wal/file_pipeline.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

const SECONDS = Number(flag("seconds", "5"));
const BASE = flag("dir", "");
/** 0: alternate writers op by op; otherwise each writer runs alone for this many ms in turn. */
const SLICE_MS = Number(flag("slice-ms", "0"));
const ENTRY_SIZE = 256;
const BATCHES = flag("batches", "1,16,256").split(",").map(Number);

const disk = new RealDisk();
const rand = new Rand(1);
const payload = new Uint8Array(ENTRY_SIZE).map((_, i) => (i * 31 + 7) & 0xff);

/** Accumulated time and count of one kind of operation. */
class Meter {
  ops = 0;
  ms = 0;
  bytes = 0;
  async time(bytes: number, op: () => Promise<void>): Promise<void> {
    const t0 = performance.now();
    await op();
    this.ms += performance.now() - t0;
    this.ops++;
    this.bytes += bytes;
  }
  /** Operations per second. */
  get rate(): number {
    return this.ops / (this.ms / 1000);
  }
  /** MB (10^6 bytes) per second. */
  get mbps(): number {
    return this.bytes / 1e6 / (this.ms / 1000);
  }
}

function makeBatch(start: number, n: number): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ index: start + i, term: 1, type: EntryType.Normal, data: payload });
  }
  return out;
}

/** The bytes the WAL writes for one batch of `n` entries plus the HardState record. */
function walBatchBytes(n: number): number {
  const enc = new RecordEncoder(0);
  enc.entries(makeBatch(1, n));
  enc.state({ term: 1, vote: 1n, commit: 1 });
  return enc.length;
}

/** A raw file written at increasing offsets, one writeAt + one fdatasync per batch. */
class RawWriter {
  offset = 0;
  constructor(readonly file: DiskFile, readonly buf: Uint8Array) {}
  async step(): Promise<void> {
    await this.file.writeAt(this.buf, this.offset);
    await this.file.sync();
    this.offset += this.buf.length;
  }
}

/**
 * Runs WAL saves, raw appends and raw preallocated writes round-robin for SECONDS, timing
 * each kind separately, so disk drift and neighbours' load hit all three alike.
 */
async function compare(dir: string, n: number): Promise<[Meter, Meter, Meter]> {
  const bytes = walBatchBytes(n);
  const wal = await Wal.create({
    disk,
    dir: `${dir}/wal`,
    metadata: { nodeId: 1n, clusterId: 1n },
  });
  await wal.settled();
  const buf = new Uint8Array(bytes).fill(0x5a);
  const append = new RawWriter(await disk.open(`${dir}/raw-append`, { createNew: true }), buf);
  const preFile = await disk.open(`${dir}/raw-prealloc`, { createNew: true });
  await zeroFill(preFile, 0, Math.min(bytes * (SECONDS * 3000 + 100), 256 * 1024 * 1024));
  await preFile.sync();
  const pre = new RawWriter(preFile, buf);
  // Pre-built batches: the loop measures the WAL, not the benchmark's allocation.
  const pool = Array.from({ length: 64 }, () => makeBatch(1, n));
  let index = 0;
  let k = 0;
  const walStep = async () => {
    const batch = pool[k++ % pool.length];
    for (const e of batch) e.index = ++index;
    await wal.save({ term: 1, vote: 1n, commit: index - 1 }, batch);
  };
  for (let i = 0; i < 20; i++) {
    await walStep();
    await append.step();
    await pre.step();
  }
  const meters: [Meter, Meter, Meter] = [new Meter(), new Meter(), new Meter()];
  const deadline = performance.now() + SECONDS * 1000;
  const steps = [walStep, () => append.step(), () => pre.step()];
  const order = [0, 1, 2];
  while (performance.now() < deadline) {
    rand.shuffle(order); // no writer always follows the same one
    for (const i of order) {
      if (SLICE_MS === 0) {
        await meters[i].time(bytes, steps[i]);
        continue;
      }
      // Slices: one writer alone for SLICE_MS, so its syncs never sit between the others'.
      const end = performance.now() + SLICE_MS;
      while (performance.now() < end) await meters[i].time(bytes, steps[i]);
    }
  }
  await wal.close();
  await append.file.close();
  await preFile.close();
  return meters;
}

const root = BASE || await Deno.makeTempDir({ prefix: "concord-wal-bench-" });
console.log(
  `WAL vs raw write+fdatasync, ${ENTRY_SIZE}-byte entries, ${SECONDS}s per batch size, ` +
    (SLICE_MS ? `${SLICE_MS} ms slices` : "alternating op by op") + `, dir ${root}`,
);
console.log(
  "| batch | bytes/batch | WAL saves/s | WAL entries/s | WAL MB/s | raw append syncs/s | raw prealloc syncs/s | WAL/raw append | WAL/raw prealloc |",
);
console.log("|---|---|---|---|---|---|---|---|---|");
try {
  for (const n of BATCHES) {
    const d = `${root}/batch${n}`;
    await Deno.mkdir(d);
    const [w, a, p] = await compare(d, n);
    await Deno.remove(d, { recursive: true });
    console.log(
      `| ${n} | ${walBatchBytes(n)} | ${w.rate.toFixed(0)} | ${(w.rate * n).toFixed(0)} | ${
        w.mbps.toFixed(2)
      } | ${a.rate.toFixed(0)} | ${p.rate.toFixed(0)} | ${(w.rate / a.rate * 100).toFixed(0)}% | ${
        (w.rate / p.rate * 100).toFixed(0)
      }% |`,
    );
  }
} finally {
  if (!BASE) await Deno.remove(root, { recursive: true });
}
