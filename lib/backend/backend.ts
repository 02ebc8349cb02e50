/**
 * The backend contract: what the logic layer (MVCC, lease, auth, the server's meta data) sees
 * of storage. It mirrors etcd's backend over boltdb: flat named buckets of byte keys in byte
 * order, one buffered write batch committed in groups (every 100 ms or 10,000 operations by
 * default), and reads that see the writes of this process whether committed yet or not.
 *
 * Reads and buffered writes are synchronous, so an MVCC range or a txn never awaits per key;
 * only commit, pinned snapshots, defragmentation and streaming a copy touch the disk.
 * The implementation lives beside this file (the copy-on-write B+tree page file).
 */
import type { FaultPoints } from "../base/fault_points.ts";

/** A view of the buckets for reading. */
export interface ReadTx {
  /** The value stored under `key` in `bucket`, or undefined (also when the bucket is missing). */
  get(bucket: string, key: Uint8Array): Uint8Array | undefined;
  /**
   * Calls `fn` for every key in `[start, end)` of `bucket` in bytewise order, stopping early
   * when `fn` returns false or after `limit` keys (0 = no limit). `end` undefined means
   * "through the last key". Keys and values passed to `fn` must not be modified or kept
   * beyond the call unless copied.
   */
  range(
    bucket: string,
    start: Uint8Array,
    end: Uint8Array | undefined,
    fn: (key: Uint8Array, value: Uint8Array) => boolean | void,
    limit?: number,
  ): void;
  /**
   * Calls `fn` for every key of `bucket` in bytewise order: a whole bucket read once, as an
   * index is rebuilt from it at open. Committed pages are read in file order with large
   * reads and not kept in the page cache, so the pages a rebuild passes over cost neither a
   * read each nor memory afterwards. Keys and values are views valid during the call.
   */
  scan(bucket: string, fn: (key: Uint8Array, value: Uint8Array) => void): void;
}

/** The write batch. Every change is visible to `Backend.read` at once and durable after commit. */
export interface BatchTx extends ReadTx {
  /** Creates a top-level bucket if it does not exist. */
  createBucket(bucket: string): void;
  /** Deletes a bucket and everything in it. */
  deleteBucket(bucket: string): void;
  /** Stores `value` under `key`; the bucket must exist. The arrays are owned by the backend after. */
  put(bucket: string, key: Uint8Array, value: Uint8Array): void;
  /** Removes `key` if present. */
  delete(bucket: string, key: Uint8Array): void;
}

/** A read view pinned at one point in time, usable across awaits until released. */
export interface PinnedReadTx extends ReadTx {
  /** Lets the backend reuse the pages this view holds. */
  release(): void;
}

/** Sizes reported by `Backend.stats()` (etcd's dbSize and dbSizeInUse). */
export interface BackendStats {
  /** Bytes of the page file on disk. */
  fileBytes: number;
  /** Bytes of pages in use (file size minus free pages). */
  inUseBytes: number;
  /** Commits done since open. */
  commits: number;
  /** Read views pinned and copies being streamed now. */
  openReads: number;
}

/** The storage engine as the layers above see it. */
export interface Backend {
  /** A live view: sees every write made through `write`, committed or not. Do not hold across awaits. */
  readonly read: ReadTx;
  /** The single write batch. */
  readonly write: BatchTx;
  /** Fault points for tests, hit by the backend and the layers over it (none in production). */
  readonly faults?: FaultPoints;
  /** Commits the buffered writes now (one page-file transaction, fdatasync'd). */
  commit(): Promise<void>;
  /** Commits pending writes and pins a consistent view of the result. */
  pin(): Promise<PinnedReadTx>;
  /**
   * Streams a consistent copy of the whole page file to `sink`, while writes continue;
   * `onSize` learns the copy's size before its first chunk.
   */
  writeTo(
    sink: (chunk: Uint8Array) => Promise<void>,
    onSize?: (bytes: number) => void,
  ): Promise<number>;
  /** Rewrites the file compactly (etcd's defrag), without losing any committed or buffered write. */
  defrag(): Promise<void>;
  /** File and in-use sizes. */
  stats(): BackendStats;
  /** Commits and closes, releasing the file lock. */
  close(): Promise<void>;
}
