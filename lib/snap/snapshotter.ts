/**
 * The snapshot directory: raft snapshot files (`<term>-<index>.snap`, 16 hex digits each, as
 * etcd names them) and the backend database snapshots that travel with them
 * (`<index>.snap.db`). Saves are atomic (temp name, sync, rename, directory sync); loading
 * picks the newest file that verifies and sets damaged ones aside as `.broken`; old files are
 * purged beyond a configured count.
 */
import type { Snapshot } from "../base/raftpb.ts";
import type { Index, Term } from "../base/types.ts";
import { type ObserveSink, secondsSince } from "../base/metric_sink.ts";
import { type Disk, joinPath } from "../io/disk.ts";
import { TEMP_SUFFIX, writeAtomic } from "./atomic_write.ts";
import { decodeSnapshotFile, encodeSnapshotFile, SnapCorruptError } from "./snap_file.ts";

/** etcd's default number of snapshot files kept. */
export const DEFAULT_MAX_SNAP_FILES = 5;
/** The suffix a damaged snapshot file is renamed with. */
export const BROKEN_SUFFIX = ".broken";

const SNAP_PATTERN = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;
const DB_PATTERN = /^([0-9a-f]{16})\.snap\.db$/;

function hex16(v: number): string {
  return v.toString(16).padStart(16, "0");
}

/** The file name of the raft snapshot at (`term`, `index`). */
export function snapFileName(term: Term, index: Index): string {
  return `${hex16(term)}-${hex16(index)}.snap`;
}

/** The file name of the backend database snapshot for raft index `index`. */
export function dbFileName(index: Index): string {
  return `${hex16(index)}.snap.db`;
}

/** A snapshot file that failed to load and was renamed aside. */
export interface BrokenSnapshot {
  /** The name it had. */
  name: string;
  /** Where it is now. */
  movedTo: string;
  reason: string;
}

/** What `load` found. */
export interface LoadResult {
  /** The newest snapshot that verified, or null when there is none. */
  snapshot: Snapshot | null;
  /** The name it was loaded from. */
  name: string | null;
  /** Newer files that failed and were renamed aside, newest first. */
  broken: BrokenSnapshot[];
}

/** Options for a snapshot directory. */
export interface SnapshotterOptions {
  /** Snapshot files (and database snapshots) kept by `purge`; default 5, 0 keeps all. */
  maxSnapFiles?: number;
  /** Where save and fsync durations are reported (etcd's etcd_snap_* histograms). */
  metrics?: SnapMetrics;
}

/** The snapshotter's measurements, in seconds, as etcd's snap package exports them. */
export interface SnapMetrics {
  /** Encoding a raft snapshot file (etcd_debugging_snap_save_marshalling_duration_seconds). */
  marshallingSeconds?: ObserveSink;
  /** A whole raft snapshot save (etcd_debugging_snap_save_total_duration_seconds). */
  saveSeconds?: ObserveSink;
  /** The fsync of a raft snapshot file (etcd_snap_fsync_duration_seconds). */
  fsyncSeconds?: ObserveSink;
  /** Receiving a database snapshot from the leader (etcd_snap_db_save_total_duration_seconds). */
  dbSaveSeconds?: ObserveSink;
  /** The fsync of a received database snapshot (etcd_snap_db_fsync_duration_seconds). */
  dbFsyncSeconds?: ObserveSink;
}

/** Reads and writes the files of one snapshot directory. */
export class Snapshotter {
  readonly #disk: Disk;
  readonly #dir: string;
  readonly #max: number;
  readonly #metrics: SnapMetrics;

  constructor(disk: Disk, dir: string, options: SnapshotterOptions = {}) {
    this.#disk = disk;
    this.#dir = dir;
    this.#max = options.maxSnapFiles ?? DEFAULT_MAX_SNAP_FILES;
    this.#metrics = options.metrics ?? {};
  }

  /** The directory. */
  get dir(): string {
    return this.#dir;
  }

  async #names(pattern: RegExp): Promise<string[]> {
    if (!(await this.#disk.exists(this.#dir))) return [];
    return (await this.#disk.readDir(this.#dir)).filter((n) => pattern.test(n)).sort();
  }

  /** The raft snapshot file names, oldest first. */
  snapNames(): Promise<string[]> {
    return this.#names(SNAP_PATTERN);
  }

  /**
   * The highest index among the raft snapshot files (0 when there are none), damaged or not:
   * where a restart starts listing the WAL's snapshot markers.
   */
  async newestIndex(): Promise<Index> {
    let newest = 0;
    for (const name of await this.snapNames()) {
      newest = Math.max(newest, Number.parseInt(SNAP_PATTERN.exec(name)![2], 16));
    }
    return newest;
  }

  /** The database snapshot file names, oldest first. */
  dbNames(): Promise<string[]> {
    return this.#names(DB_PATTERN);
  }

  /**
   * Saves `snapshot` as `<term>-<index>.snap`, durable when this resolves. Returns the path.
   * The caller then records the snapshot in the WAL (`Wal.saveSnapshot`).
   */
  async save(snapshot: Snapshot): Promise<string> {
    const m = this.#metrics;
    const t0 = performance.now();
    const { term, index } = snapshot.metadata;
    const bytes = encodeSnapshotFile(snapshot);
    m.marshallingSeconds?.observe(secondsSince(t0));
    await this.#disk.mkdirAll(this.#dir);
    const path = joinPath(this.#dir, snapFileName(term, index));
    await writeAtomic(this.#disk, path, [bytes], undefined, m.fsyncSeconds);
    m.saveSeconds?.observe(secondsSince(t0));
    return path;
  }

  /** Reads and verifies one snapshot file by name. Throws `SnapCorruptError` if damaged. */
  async read(name: string): Promise<Snapshot> {
    const path = joinPath(this.#dir, name);
    const file = await this.#disk.open(path, { readOnly: true });
    let buf: Uint8Array;
    try {
      buf = new Uint8Array(await file.size());
      const n = await file.readAt(buf, 0);
      if (n !== buf.length) buf = buf.subarray(0, n);
    } finally {
      await file.close();
    }
    const snap = decodeSnapshotFile(buf, path);
    const m = SNAP_PATTERN.exec(name);
    if (
      m && (Number.parseInt(m[1], 16) !== snap.metadata.term ||
        Number.parseInt(m[2], 16) !== snap.metadata.index)
    ) {
      throw new SnapCorruptError(path, "name does not match the term and index inside");
    }
    return snap;
  }

  /**
   * Loads the newest snapshot that verifies, renaming damaged newer files to `.broken` and
   * reporting them. With `accept`, only snapshots it accepts are considered (pass the WAL's
   * snapshot markers, as etcd's LoadNewestAvailable does, so the snapshot and the log agree);
   * files it rejects are skipped, not set aside. Stale temporary files are removed.
   */
  async load(accept?: (index: Index, term: Term) => boolean): Promise<LoadResult> {
    await this.#removeTemps();
    const broken: BrokenSnapshot[] = [];
    const names = (await this.snapNames()).reverse();
    for (const name of names) {
      const m = SNAP_PATTERN.exec(name)!;
      const term = Number.parseInt(m[1], 16);
      const index = Number.parseInt(m[2], 16);
      if (accept && !accept(index, term)) continue;
      try {
        const snapshot = await this.read(name);
        // A kill -9 between a save's rename and its directory sync leaves the name only in
        // the page cache; make it durable before the caller restores from it.
        await this.#disk.syncDir(this.#dir);
        return { snapshot, name, broken };
      } catch (err) {
        if (!(err instanceof SnapCorruptError)) throw err;
        const from = joinPath(this.#dir, name);
        const movedTo = from + BROKEN_SUFFIX;
        await this.#disk.rename(from, movedTo);
        await this.#disk.syncDir(this.#dir);
        broken.push({ name, movedTo, reason: err.message });
      }
    }
    return { snapshot: null, name: null, broken };
  }

  async #removeTemps(): Promise<void> {
    if (!(await this.#disk.exists(this.#dir))) return;
    let removed = false;
    for (const name of await this.#disk.readDir(this.#dir)) {
      if (name.endsWith(TEMP_SUFFIX)) {
        await this.#disk.remove(joinPath(this.#dir, name));
        removed = true;
      }
    }
    if (removed) await this.#disk.syncDir(this.#dir);
  }

  /** The path the database snapshot for `index` is (or will be) at. */
  dbPath(index: Index): string {
    return joinPath(this.#dir, dbFileName(index));
  }

  /**
   * Receives the backend database snapshot for raft index `index` from a stream of chunks
   * (the transport's snapshot body) into `<index>.snap.db`: written under a temporary name,
   * synced, renamed and the directory synced, so a crash mid-transfer leaves no partial file
   * under the final name. `onProgress` gets the bytes received so far. Returns the path and
   * size.
   */
  async saveDbFrom(
    index: Index,
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    onProgress?: (bytes: number) => void,
  ): Promise<{ path: string; size: number }> {
    const t0 = performance.now();
    await this.#disk.mkdirAll(this.#dir);
    const path = this.dbPath(index);
    const m = this.#metrics;
    const size = await writeAtomic(this.#disk, path, chunks, onProgress, m.dbFsyncSeconds);
    m.dbSaveSeconds?.observe(secondsSince(t0));
    return { path, size };
  }

  /**
   * Removes database snapshots for indexes before `index`: once the backend has been
   * restored from a newer one they are never needed again (etcd's ReleaseSnapDBs).
   */
  async releaseDbsBefore(index: Index): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await this.dbNames()) {
      if (Number.parseInt(name.slice(0, 16), 16) < index) {
        await this.#disk.remove(joinPath(this.#dir, name));
        removed.push(name);
      }
    }
    if (removed.length > 0) await this.#disk.syncDir(this.#dir);
    return removed;
  }

  /**
   * Removes the oldest snapshot files beyond `maxSnapFiles`, and likewise for database
   * snapshots. Returns the names removed.
   */
  async purge(): Promise<string[]> {
    if (this.#max <= 0) return [];
    const removed: string[] = [];
    for (const names of [await this.snapNames(), await this.dbNames()]) {
      for (const name of names.slice(0, Math.max(0, names.length - this.#max))) {
        await this.#disk.remove(joinPath(this.#dir, name));
        removed.push(name);
      }
    }
    if (removed.length > 0) await this.#disk.syncDir(this.#dir);
    return removed;
  }
}
