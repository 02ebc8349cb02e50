/**
 * The batching backend: the `Backend` contract over the page file, as etcd's backend is over
 * boltdb. All writes go into one open write transaction (the batch), which is committed every
 * `batchInterval` ms or `batchLimit` operations (at the end of the synchronous step that
 * reached the limit, never inside it), or on `commit()`. Because JavaScript runs one
 * thing at a time, the live read view simply reads through that same write transaction, so it
 * sees every buffered write without a separate read buffer.
 *
 * A commit swaps in the next batch synchronously (the page file prepares a commit in memory
 * before writing it), so writes never wait for the disk. A failed background commit puts the
 * backend in a failed state: every later call throws a FailedError naming the cause, and the
 * file keeps its last durable commit.
 */
import type { Backend, BackendStats, BatchTx, PinnedReadTx, ReadTx } from "./backend.ts";
import type { Bucket } from "./bucket.ts";
import { type Clock, RealClock, type Timer } from "../io/clock.ts";
import { dirname, type Disk } from "../io/disk.ts";
import { DB } from "./db.ts";
import { ClosedError, FailedError, UsageError } from "./errors.ts";
import type { Tx } from "./tx.ts";
import { type ObserveSink, secondsSince } from "../base/metric_sink.ts";
import type { FaultPoints } from "../base/fault_points.ts";
import {
  applyOps,
  catchUp,
  copySnapshotSliced,
  type OnlineDefragOptions,
  type Op,
} from "./online_defrag.ts";

/** How the backend batches and where its time comes from. */
export interface BackendOptions {
  /** Commit the batch this often, in ms (default 100, as etcd). */
  batchInterval?: number;
  /** Commit once the batch holds this many operations (default 10,000, as etcd). */
  batchLimit?: number;
  /** The clock driving the batch interval (default: the real clock). */
  clock?: Clock;
  /** Page size for a new file (default 4096). */
  pageSize?: number;
  /** Bound on page bytes kept in memory (default 1 GiB). */
  cacheBytes?: number;
  /** Where commit, snapshot and defragmentation durations are reported. */
  metrics?: BackendMetrics;
  /** How an online defragmentation shares the event loop (online_defrag.ts). */
  defrag?: OnlineDefragOptions;
  /** Fault points for tests (lib/base/fault_points.ts); none in production. */
  faults?: FaultPoints;
}

/** The backend's measurements, as etcd exports them (etcd_disk_backend_*). */
export interface BackendMetrics {
  /** Seconds from a batch's commit to its being durable. */
  commitSeconds?: ObserveSink;
  /** Seconds a whole copy of the file took (`writeTo`: a snapshot streamed out). */
  snapshotSeconds?: ObserveSink;
  /** Seconds a defragmentation took. */
  defragSeconds?: ObserveSink;
}

const encoder = new TextEncoder();

/** Reads from a transaction by bucket name. */
function makeReader(
  bucketOf: (name: string) => Bucket | undefined,
  check: () => void,
): ReadTx {
  return {
    get(bucket: string, key: Uint8Array): Uint8Array | undefined {
      check();
      return bucketOf(bucket)?.get(key);
    },
    range(
      bucket: string,
      start: Uint8Array,
      end: Uint8Array | undefined,
      fn: (key: Uint8Array, value: Uint8Array) => boolean | void,
      limit = 0,
    ): void {
      check();
      bucketOf(bucket)?.range(start, end, fn, limit);
    },
    scan(bucket: string, fn: (key: Uint8Array, value: Uint8Array) => void): void {
      check();
      bucketOf(bucket)?.scan(fn);
    },
  };
}

/** The `Backend` over one page file. */
export class BatchBackend implements Backend {
  readonly read: ReadTx;
  readonly write: BatchTx;
  readonly #disk: Disk;
  readonly #path: string;
  readonly #limit: number;
  readonly #timer: Timer;
  #db: DB;
  #tx: Tx;
  #ops = 0;
  #commits = 0;
  #buckets = new Map<string, Bucket | undefined>();
  #names = new Map<string, Uint8Array>();
  #failure: FailedError | null = null;
  #closed = false;
  /** Pinned views and streaming copies still reading each database (kept open for them). */
  #users = new Map<DB, number>();
  /** Databases replaced by a defragmentation, closed once their last user is done. */
  #retired = new Set<DB>();
  #defragging = false;
  /** While a defragmented copy is being renamed over the file: commits wait for it. */
  #renaming: Promise<void> | null = null;
  /** Operations recorded while a defragmentation copies the file, replayed into the copy. */
  #log: Op[] | null = null;
  readonly #metrics: BackendMetrics | undefined;
  readonly #defragOptions: OnlineDefragOptions;
  /**
   * The fault points this backend hits (its commits and defrags); the store over it hits its
   * compaction's, and a snapshot install hands them to the backend that replaces it.
   */
  readonly faults: FaultPoints | undefined;

  private constructor(disk: Disk, path: string, db: DB, options: BackendOptions) {
    this.#disk = disk;
    this.#path = path;
    this.#db = db;
    this.#tx = db.begin(true);
    this.#limit = options.batchLimit ?? 10_000;
    this.#metrics = options.metrics;
    this.#defragOptions = options.defrag ?? {};
    this.faults = options.faults;
    const clock = options.clock ?? new RealClock();
    this.#timer = clock.every(options.batchInterval ?? 100, () => {
      if (this.#ops > 0 && !this.#failure && !this.#closed) this.#commitInBackground();
    });
    const check = () => this.#check();
    this.read = makeReader((name) => this.#bucket(name), check);
    this.write = {
      ...makeReader((name) => this.#bucket(name), check),
      createBucket: (bucket: string): void => {
        check();
        if (this.#bucket(bucket)) return;
        this.#tx.createBucket(this.#name(bucket));
        this.#buckets.delete(bucket);
        this.#record({ kind: "create", bucket });
      },
      deleteBucket: (bucket: string): void => {
        check();
        if (!this.#bucket(bucket)) return;
        this.#tx.deleteBucket(this.#name(bucket));
        this.#buckets.delete(bucket);
        this.#record({ kind: "drop", bucket });
      },
      put: (bucket: string, key: Uint8Array, value: Uint8Array): void => {
        check();
        const b = this.#bucket(bucket);
        if (!b) throw new UsageError(`bucket ${bucket} not found`);
        b.put(key, value);
        this.#record({ kind: "put", bucket, key, value });
      },
      delete: (bucket: string, key: Uint8Array): void => {
        check();
        const b = this.#bucket(bucket);
        if (!b) return;
        if (b.delete(key)) this.#record({ kind: "delete", bucket, key });
      },
    };
  }

  /** Opens the backend over the page file at `path`. */
  static async open(disk: Disk, path: string, options: BackendOptions = {}): Promise<BatchBackend> {
    const db = await DB.open(disk, path, {
      pageSize: options.pageSize,
      cacheBytes: options.cacheBytes,
    });
    return new BatchBackend(disk, path, db, options);
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
    if (this.#closed) throw new ClosedError("backend is closed");
    const failed = this.#db.failure;
    if (failed) throw this.#fail(failed);
  }

  /**
   * Calls `listener` once with the error that failed the backend (a commit that could not be
   * made durable: a full disk, an I/O error), at once if it already failed. A background
   * commit's failure has no caller to tell, so the owner learns of it here and stops serving,
   * as etcd exits on a failed bbolt commit.
   */
  onFailure(listener: (err: FailedError) => void): void {
    if (this.#failure) {
      const failure = this.#failure;
      queueMicrotask(() => listener(failure));
    } else this.#failureListeners.push(listener);
  }

  /** The error that failed the backend, or null. */
  get failure(): FailedError | null {
    return this.#failure;
  }

  #name(bucket: string): Uint8Array {
    let n = this.#names.get(bucket);
    if (!n) this.#names.set(bucket, n = encoder.encode(bucket));
    return n;
  }

  #bucket(name: string): Bucket | undefined {
    let b = this.#buckets.get(name);
    if (b === undefined) {
      b = this.#tx.bucket(this.#name(name));
      if (b) this.#buckets.set(name, b);
    }
    return b;
  }

  #record(op: Op): void {
    this.#log?.push(op);
    if (++this.#ops >= this.#limit && !this.#limitQueued) {
      // Not here, in the middle of the caller's synchronous step: at its end. The server
      // applies an entry's writes and its consistent index in one synchronous step; a commit
      // between the two would make the writes durable without the index, and a crash then
      // would apply the entry again on replay (found by tests/server/member_sim_test.ts).
      this.#limitQueued = true;
      queueMicrotask(() => {
        this.#limitQueued = false;
        if (this.#ops >= this.#limit && !this.#failure && !this.#closed) {
          this.#commitInBackground();
        }
      });
    }
  }

  /** A limit-triggered commit is waiting for the end of the current synchronous step. */
  #limitQueued = false;

  #fail(err: unknown): FailedError {
    if (this.#failure) return this.#failure;
    const failure = err instanceof FailedError
      ? err
      : new FailedError("backend commit failed", err);
    this.#failure = failure;
    const listeners = this.#failureListeners;
    this.#failureListeners = [];
    if (listeners.length > 0) queueMicrotask(() => listeners.forEach((l) => l(failure)));
    return failure;
  }

  #failureListeners: ((err: FailedError) => void)[] = [];

  /** Commits the batch (prepared at once, durable when the promise resolves). */
  #commitBatch(): Promise<void> {
    this.#check();
    this.faults?.hit("beforeCommit");
    const tx = this.#tx;
    this.#ops = 0;
    this.#buckets.clear();
    this.#commits++;
    const sink = this.#metrics?.commitSeconds;
    const t0 = sink === undefined ? 0 : performance.now();
    let written = tx.commit();
    if (sink !== undefined) written = written.then(() => sink.observe(secondsSince(t0)));
    const faults = this.faults;
    if (faults !== undefined) written = written.then(() => faults.hit("afterCommit"));
    try {
      this.#tx = this.#db.begin(true);
    } catch (err) {
      written.catch(() => {});
      return Promise.reject(this.#fail(err));
    }
    // right after a defrag's swap, a commit is durable only once the file is durably renamed
    const renaming = this.#renaming;
    const done = renaming ? written.then(() => renaming) : written;
    return done.catch((err) => {
      throw this.#fail(err);
    });
  }

  #commitInBackground(): void {
    this.#commitBatch().catch(() => {
      // Recorded in #failure; the next call on the backend throws it.
    });
  }

  async commit(): Promise<void> {
    this.#check();
    if (this.#ops > 0) await this.#commitBatch();
    else {
      try {
        await this.#db.flush();
        await this.#renaming;
      } catch (err) {
        throw this.#fail(err);
      }
    }
  }

  #retain(db: DB): void {
    this.#users.set(db, (this.#users.get(db) ?? 0) + 1);
  }

  #releaseDb(db: DB): void {
    const n = (this.#users.get(db) ?? 1) - 1;
    if (n > 0) {
      this.#users.set(db, n);
      return;
    }
    this.#users.delete(db);
    if (this.#retired.delete(db)) {
      db.close().catch(() => {
        // The replaced file's handle only served reads; nothing is lost if closing fails.
      });
    }
  }

  async pin(): Promise<PinnedReadTx> {
    this.#check();
    const durable = this.#ops > 0 ? this.#commitBatch() : this.#db.flush();
    const db = this.#db;
    const rtx = db.begin(false);
    this.#retain(db);
    try {
      await durable;
    } catch (err) {
      rtx.rollback();
      this.#releaseDb(db);
      throw this.#fail(err);
    }
    let released = false;
    const buckets = new Map<string, Bucket | undefined>();
    const reader = makeReader(
      (name) => {
        if (!buckets.has(name)) buckets.set(name, rtx.bucket(this.#name(name)));
        return buckets.get(name);
      },
      () => {
        if (released) throw new ClosedError("pinned read view was released");
      },
    );
    return {
      get: reader.get,
      range: reader.range,
      scan: reader.scan,
      release: () => {
        if (released) return;
        released = true;
        rtx.rollback();
        this.#releaseDb(db);
      },
    };
  }

  async writeTo(
    sink: (chunk: Uint8Array) => Promise<void>,
    onSize?: (bytes: number) => void,
  ): Promise<number> {
    const t0 = performance.now();
    await this.commit();
    const db = this.#db;
    this.#retain(db);
    try {
      const n = await db.writeTo(sink, onSize);
      this.#metrics?.snapshotSeconds?.observe(secondsSince(t0));
      return n;
    } finally {
      this.#releaseDb(db);
    }
  }

  async defrag(): Promise<void> {
    this.#check();
    if (this.#defragging) throw new UsageError("a defragmentation is already running");
    this.#defragging = true;
    const t0 = performance.now();
    try {
      await this.#defrag();
      this.#metrics?.defragSeconds?.observe(secondsSince(t0));
    } finally {
      this.#defragging = false;
    }
  }

  async #defrag(): Promise<void> {
    const disk = this.#disk;
    const tmp = `${this.#path}.defrag.tmp`;
    if (await disk.exists(tmp)) await disk.remove(tmp);
    // In one synchronous step: commit the batch, start the log, and take the snapshot the
    // copy is made from. The copy then equals the snapshot, and replaying the log (every write
    // after it, in order) brings the copy exactly up to date. See online_defrag.ts.
    this.#check();
    const durable = this.#ops > 0 ? this.#commitBatch() : this.#db.flush();
    const log: Op[] = this.#log = [];
    const src = this.#db.begin(false);
    const name = (bucket: string) => this.#name(bucket);
    let copy: DB | undefined;
    try {
      await durable;
      // etcd's bolt.Open of the copy; an error here fails this defrag and nothing else
      this.faults?.hit("defragOpenFileError");
      copy = await DB.open(disk, tmp, { pageSize: this.#db.pageSize });
      this.faults?.hit("defragBeforeCopy");
      const copied = await copySnapshotSliced(src, copy, log, this.#defragOptions);
      src.rollback();
      await catchUp(copy, log, name, copied, this.#defragOptions);
      this.#defragOptions.progress?.({
        phase: "swap",
        copiedBytes: copied,
        pendingOps: log.length,
      });
    } catch (err) {
      this.#log = null;
      if (!src.done) src.rollback();
      await copy?.close().catch(() => {});
      await disk.remove(tmp).catch(() => {});
      // closed under the copy (a member installing a leader's snapshot replaces its backend):
      // the copy read a closed file; say what happened, not which read noticed it
      if (this.#closed && !(err instanceof ClosedError)) {
        throw new ClosedError("backend is closed", { cause: err });
      }
      throw err;
    }
    // The one pause: replay the short rest of the log and switch to the copy, synchronously.
    this.#log = null;
    if (this.#failure || this.#closed) {
      // failed or closed meanwhile: the copy is not wanted (nor its lock held)
      await copy.close().catch(() => {});
      await disk.remove(tmp).catch(() => {});
      this.#check();
    }
    const old = this.#db;
    const oldTx = this.#tx;
    const tail = copy.begin(true);
    applyOps(tail, log, 0, log.length, name);
    // The replayed writes are committed to the copy at once (prepared now, durable later) and
    // the copy is renamed over the old file only once they are durable: some of them were
    // committed to the old file, whose commit said they were durable (a raft snapshot may name
    // their index). Renaming first lost them to a power loss between the rename and the next
    // commit (docs/testing.md, finding 10; tests/backend/defrag_crash_test.ts).
    const tailDurable = tail.commit();
    this.#db = copy;
    this.#tx = copy.begin(true);
    this.#buckets.clear();
    this.#ops = 0;
    oldTx.rollback();
    const renamed = (async () => {
      await tailDurable;
      // Pinned views and copies of the old file keep it open until they finish.
      if (this.#users.has(old)) this.#retired.add(old);
      else await old.close();
      this.faults?.hit("defragBeforeRename");
      // The copy's handle stays valid across the rename (it already read the file), and its
      // lock moves with the file.
      await disk.rename(tmp, this.#path);
      await disk.syncDir(dirname(this.#path));
    })();
    // A commit to the copy before its name is durable would be lost by a crash that leaves
    // the old file under the name: commits made meanwhile resolve after the rename.
    this.#renaming = renamed;
    try {
      await renamed;
      this.#renaming = null;
      await this.commit();
    } catch (err) {
      throw this.#fail(err);
    }
  }

  stats(): BackendStats {
    this.#check();
    const s = this.#db.usage();
    return {
      fileBytes: s.fileBytes,
      inUseBytes: s.inUsePages * s.pageSize,
      commits: this.#commits,
      openReads: this.openReads,
    };
  }

  /** Pinned read views and streaming copies open now (etcd_mvcc_db_open_read_transactions). */
  get openReads(): number {
    let n = 0;
    for (const users of this.#users.values()) n += users;
    return n;
  }

  /** True while a defragmentation runs (etcd_disk_defrag_inflight). */
  get defragmenting(): boolean {
    return this.#defragging;
  }

  /** The page file's own statistics (depth, free pages, cache size). */
  dbStats(): ReturnType<DB["stats"]> {
    this.#check();
    return this.#db.stats();
  }

  /** Verifies the whole committed tree; returns the problems found (empty when sound). */
  check(): string[] {
    this.#check();
    return this.#db.check();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#timer.cancel();
    try {
      // Writes made while a commit is awaited go into the next batch: commit until none is
      // left, then close synchronously so no later write can slip in and be dropped.
      while (!this.#failure) {
        await this.commit();
        if (this.#ops === 0) break;
      }
      // A defrag that swapped to its copy while that commit was awaited still has the copy's
      // rename to make: the file under this name must be final before close returns (a member
      // installing a snapshot renames the leader's file over it next; a rename made after
      // that would put the old data back: sim seed 40500041 showed the copy racing a close).
      while (this.#renaming !== null && !this.#failure) await this.commit();
    } finally {
      this.#closed = true;
      this.#tx.rollback();
      await this.#db.close();
      for (const db of this.#retired) await db.close();
      this.#retired.clear();
    }
    if (this.#failure) throw this.#failure;
  }
}
