/**
 * The storage seam. Every byte Concord persists (page file, WAL, snapshots) goes through a
 * `Disk`, so the same code runs on the real filesystem (`RealDisk`) and on a simulated one
 * (`SimDisk`) that loses unsynced writes, tears writes and flips bits on demand, which is how
 * crash safety is tested deterministically from a seed.
 *
 * Durability contract, as on Linux: bytes written with `writeAt` are durable only after the
 * file's `sync()` (fdatasync) returns; a created, renamed or removed name is durable only after
 * `syncDir()` of its parent directory returns.
 */

/** An open file. Positional I/O only: there is no shared cursor to race on. */
export interface DiskFile {
  /** The path the file was opened with. */
  readonly path: string;
  /**
   * Reads up to `buf.length` bytes at `offset` into `buf`. Returns the number of bytes read,
   * which is less than `buf.length` only at end of file.
   */
  readAt(buf: Uint8Array, offset: number): Promise<number>;
  /**
   * Synchronous `readAt`, for engines that must not await on a read (the page file reads a
   * page inside a synchronous B+tree lookup). Safe to mix with pending async operations.
   */
  readAtSync(buf: Uint8Array, offset: number): number;
  /** Writes all of `data` at `offset`, extending the file if needed. */
  writeAt(data: Uint8Array, offset: number): Promise<void>;
  /**
   * Optional: writes each chunk at its offset, in order, as one operation (a vectored pwrite).
   * Same durability as `writeAt`; on failure, a prefix of the chunks may have been written.
   * Engines that write many scattered pages per commit (the page file) use it when present,
   * because one async operation per page costs far more than the write itself.
   */
  writeBatchAt?(writes: ReadonlyArray<{ data: Uint8Array; offset: number }>): Promise<void>;
  /** fdatasync: makes every completed write durable. */
  sync(options?: SyncOptions): Promise<void>;
  /** Sets the file's length, cutting or zero-extending it. Durable after `sync()`. */
  truncate(size: number): Promise<void>;
  /** The file's current length in bytes. */
  size(): Promise<number>;
  /**
   * Takes an exclusive advisory lock without waiting. Returns false when another open file
   * (in this or another process) holds it. Released by `close()`.
   */
  tryLock(): Promise<boolean>;
  /** Closes the file, releasing its lock. */
  close(): Promise<void>;
}

/** How to run one `sync`. */
export interface SyncOptions {
  /**
   * Run the fdatasync on the calling thread rather than the I/O thread pool. It blocks the
   * event loop for the sync's duration (about 100 µs on an SSD) but saves the two thread
   * hand-offs of an asynchronous call (about 50 µs): worth it for a small, latency-bound
   * write such as a lone WAL append, not for a large one the loop could overlap with work.
   */
  inline?: boolean;
}

/** How to open a file. */
export interface OpenOptions {
  /** Create the file if it does not exist (default false). */
  create?: boolean;
  /** Fail if the file exists (implies create). */
  createNew?: boolean;
  /** Open for reading only. */
  readOnly?: boolean;
}

/** A filesystem. Paths are plain strings joined with "/". */
export interface Disk {
  /** Opens a file; throws `NotFoundError` when it does not exist and `create` is not set. */
  open(path: string, options?: OpenOptions): Promise<DiskFile>;
  /** True when a file or directory exists at `path`. */
  exists(path: string): Promise<boolean>;
  /** Removes a file. Durable after `syncDir()` of its parent. */
  remove(path: string): Promise<void>;
  /** Atomically renames `from` to `to`, replacing `to`. Durable after `syncDir()`. */
  rename(from: string, to: string): Promise<void>;
  /** The names (not paths) of the entries in a directory, sorted. */
  readDir(path: string): Promise<string[]>;
  /** Creates a directory and its missing parents. */
  mkdirAll(path: string): Promise<void>;
  /** fsyncs a directory, making the names created, renamed or removed in it durable. */
  syncDir(path: string): Promise<void>;
}

/** Thrown when a path does not exist, on every Disk implementation. */
export class NotFoundError extends Error {
  constructor(path: string) {
    super(`no such file or directory: ${path}`);
    this.name = "NotFoundError";
  }
}

/** Thrown when a write cannot complete because the disk is full (ENOSPC). */
export class DiskFullError extends Error {
  constructor(path: string) {
    super(`no space left on device: ${path}`);
    this.name = "DiskFullError";
  }
}

/** Thrown when `createNew` is set and the file exists. */
export class AlreadyExistsError extends Error {
  constructor(path: string) {
    super(`file exists: ${path}`);
    this.name = "AlreadyExistsError";
  }
}

/** The directory part of a path ("." for a bare name). */
export function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  if (i < 0) return ".";
  if (i === 0) return "/";
  return path.slice(0, i);
}

/** The last component of a path. */
export function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Joins path components with "/". */
export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== "").join("/").replace(/\/+/g, "/");
}
