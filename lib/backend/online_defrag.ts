/**
 * The parts of an online defragmentation (etcd's defrag, without stopping traffic; etcd
 * #9222). The backend takes a snapshot of the page file (a read transaction: the file is
 * copy-on-write, so the snapshot stays consistent while writes go on) and, in the same
 * synchronous step, starts recording every write it takes after it. Then, in the background:
 *
 * 1. `copySnapshotSliced` rewrites the snapshot into a fresh file, bucket by bucket in key
 *    order (densely filled pages, no free ones), in slices of a few milliseconds with the
 *    event loop served between them, committing the copy every `batchBytes` (small: a
 *    commit's pages are prepared and written synchronously) without an fsync per commit
 *    (the copy is thrown away unless finished), fsyncing it every `syncBytes` instead;
 * 2. `catchUp` replays the recorded writes into the copy, in slices too, round after round,
 *    until what is left is short;
 * 3. the backend, in one synchronous step (the only pause traffic sees), replays the rest,
 *    makes the copy its live file and renames it over the old one (atomic; fsynced dir).
 *
 * A crash at any step leaves a usable file: before the rename the old file is whole (the
 * copy is a separate `.defrag.tmp`, removed by the next defrag), after it the new one is (the
 * copy is fsynced before it is renamed, and commits made to it before the rename is durable
 * resolve only after); the WAL replays whatever the page file had not committed, as after
 * any crash.
 */
import type { Bucket } from "./bucket.ts";
import { copyBucketTree } from "./bucket_copy.ts";
import type { DB } from "./db.ts";
import type { Tx } from "./tx.ts";

/** One write the backend took, recorded while a defragmentation copies the file. */
export type Op =
  | { kind: "put"; bucket: string; key: Uint8Array; value: Uint8Array }
  | { kind: "delete"; bucket: string; key: Uint8Array }
  | { kind: "create"; bucket: string }
  | { kind: "drop"; bucket: string };

/** How an online defragmentation shares the event loop. */
export interface OnlineDefragOptions {
  /** Longest run of copying between two turns of the event loop, in ms (default 4). */
  sliceMs?: number;
  /**
   * Bytes of keys and values per commit of the copy (default 256 KiB): a commit prepares its
   * pages and writes them synchronously, so its size bounds the longest pause (about 10 ms
   * here for 256 KiB, 20-100 ms for 1 MiB; docs/perf.md).
   */
  batchBytes?: number;
  /** Bytes of the copy written between two fsyncs of it (default 1 MiB). */
  syncBytes?: number;
  /** Recorded writes left for the final synchronous step (default 2,000). */
  tailOps?: number;
  /** Catch-up rounds before the final step runs whatever is left (default 50). */
  maxRounds?: number;
  /** Told how far the defragmentation is, at each commit of the copy and at the swap. */
  progress?: (p: DefragProgress) => void;
}

/** Where an online defragmentation is. */
export interface DefragProgress {
  phase: "copy" | "catch-up" | "swap";
  /** Bytes of keys and values copied from the snapshot so far. */
  copiedBytes: number;
  /** Writes recorded since the snapshot and not yet in the copy. */
  pendingOps: number;
}

/** Gives the event loop a turn once the current slice has run `ms`. */
class Slicer {
  readonly #ms: number;
  readonly #mask: number;
  #start = performance.now();
  #n = 0;
  /** `every` (a power of two): how many calls of `due` between two looks at the clock. */
  constructor(ms: number, every: number) {
    this.#ms = ms;
    this.#mask = every - 1;
  }
  /** True when the caller should `await turn()` now. */
  due(): boolean {
    if ((++this.#n & this.#mask) !== 0) return false;
    return performance.now() - this.#start >= this.#ms;
  }
  /**
   * A turn is a `setTimeout(0)`: the network's reads and writes are polled before the next
   * slice (Deno's `setImmediate` and `MessageChannel` came back with I/O still waiting: a
   * fetch during such a loop took 0.5 to 0.9 s; with timeouts 0.2 ms). Deno clamps nested
   * timeouts to 4 ms, so an idle member copies about half the time and a busy one less.
   */
  async turn(): Promise<void> {
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    this.#start = performance.now();
  }
  /** Starts a new slice (after an await that already let the event loop run). */
  restart(): void {
    this.#start = performance.now();
  }
}

/**
 * Commits of the copy, one written while the next is built: `next()` commits the open
 * transaction (its pages prepared at once and written in the background, unsynced) once the
 * previous commit is written, begins a new one, and fsyncs every `syncBytes`; `finish()`
 * commits the last and fsyncs the file.
 */
class Batches {
  readonly #dst: DB;
  readonly #syncBytes: number;
  #tx: Tx;
  #persisting: Promise<void> = Promise.resolve();
  #unsyncedBytes = 0;
  constructor(dst: DB, syncBytes: number) {
    this.#dst = dst;
    this.#syncBytes = syncBytes;
    // the copy is thrown away unless finished: its commits skip their fsyncs (one per
    // `syncBytes` bounds its dirty pages, which would otherwise slow every fsync on the disk,
    // the WAL's included, and stall the synchronous writes of the next commits)
    dst.unsynced = true;
    this.#tx = dst.begin(true);
  }
  get tx(): Tx {
    return this.#tx;
  }
  /** Commits the open transaction (`bytes` of keys and values) and begins the next. */
  async next(bytes: number): Promise<void> {
    await this.#persisting;
    const done = this.#tx.commit();
    done.catch(() => {}); // awaited by the next call or by finish()
    this.#persisting = done;
    this.#tx = this.#dst.begin(true);
    this.#unsyncedBytes += bytes;
    if (this.#unsyncedBytes >= this.#syncBytes) {
      this.#unsyncedBytes = 0;
      await this.#dst.sync();
    }
  }
  /** Commits the open transaction and makes every commit durable. */
  async finish(): Promise<void> {
    await this.#persisting;
    await this.#tx.commit();
    this.#dst.unsynced = false;
    await this.#dst.sync();
  }
  abort(): void {
    if (!this.#tx.done) this.#tx.rollback();
    this.#persisting.catch(() => {});
  }
}

/**
 * Copies every bucket and key of the snapshot `src` into the empty database `dst`, yielding
 * the event loop every `sliceMs`. Returns the bytes of keys and values copied, once the copy
 * is committed and durable. `log` (the writes recorded meanwhile) is read for progress only.
 */
export async function copySnapshotSliced(
  src: Tx,
  dst: DB,
  log: readonly Op[],
  opts: OnlineDefragOptions = {},
): Promise<number> {
  const slicer = new Slicer(opts.sliceMs ?? 4, 16);
  const batchBytes = opts.batchBytes ?? 256 << 10;
  const batches = new Batches(dst, opts.syncBytes ?? 1 << 20);
  let bytes = 0;
  let copied = 0;
  const nextBatch = async (): Promise<void> => {
    copied += bytes;
    opts.progress?.({ phase: "copy", copiedBytes: copied, pendingOps: log.length });
    await batches.next(bytes);
    bytes = 0;
    slicer.restart();
  };
  try {
    await copyBucketTree(src.root, () => batches.tx, (n) => {
      bytes += n;
      if (bytes >= batchBytes) return nextBatch();
      return slicer.due() ? slicer.turn() : undefined;
    });
    await batches.finish();
  } catch (err) {
    batches.abort();
    throw err;
  }
  return copied + bytes;
}

/** Applies recorded writes, in order, to an open write transaction. */
export function applyOps(tx: Tx, ops: Op[], from: number, to: number, name: NameOf): void {
  let bucket: Bucket | undefined;
  let bucketName = "";
  for (let i = from; i < to; i++) {
    const op = ops[i];
    if (op.kind === "create") {
      tx.createBucketIfNotExists(name(op.bucket));
      bucket = undefined;
    } else if (op.kind === "drop") {
      if (tx.bucket(name(op.bucket))) tx.deleteBucket(name(op.bucket));
      bucket = undefined;
    } else {
      if (bucket === undefined || bucketName !== op.bucket) {
        bucket = tx.bucket(name(op.bucket));
        bucketName = op.bucket;
        if (bucket === undefined) throw new Error(`defrag replay: bucket ${op.bucket} missing`);
      }
      if (op.kind === "put") bucket.put(op.key, op.value);
      else bucket.delete(op.key);
    }
  }
}

/** A bucket's name as the page file stores it. */
export type NameOf = (bucket: string) => Uint8Array;

/**
 * Replays the writes recorded in `log` (which the backend keeps appending to) into `dst`, in
 * slices, removing them from the log as they are committed, until at most `tailOps` remain or
 * `maxRounds` rounds have run. The rest is for the final synchronous step.
 */
export async function catchUp(
  dst: DB,
  log: Op[],
  name: NameOf,
  copiedBytes: number,
  opts: OnlineDefragOptions = {},
): Promise<void> {
  const slicer = new Slicer(opts.sliceMs ?? 4, 1);
  const batchBytes = opts.batchBytes ?? 256 << 10;
  const tailOps = opts.tailOps ?? 2000;
  const maxRounds = opts.maxRounds ?? 50;
  const step = 64;
  for (let round = 0; round < maxRounds && log.length > tailOps; round++) {
    const end = log.length;
    opts.progress?.({ phase: "catch-up", copiedBytes, pendingOps: end });
    const batches = new Batches(dst, opts.syncBytes ?? 1 << 20);
    let bytes = 0;
    try {
      for (let i = 0; i < end; i += step) {
        const to = Math.min(end, i + step);
        applyOps(batches.tx, log, i, to, name);
        for (let j = i; j < to; j++) {
          const op = log[j];
          if (op.kind === "put") bytes += op.key.length + op.value.length;
        }
        if (bytes >= batchBytes) {
          await batches.next(bytes);
          bytes = 0;
          slicer.restart();
        } else if (slicer.due()) await slicer.turn();
      }
      await batches.finish();
    } catch (err) {
      batches.abort();
      throw err;
    }
    log.splice(0, end);
  }
}
