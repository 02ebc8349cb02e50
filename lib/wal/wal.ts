/**
 * The write-ahead log: raft's entries and HardState are saved here, with one fdatasync per
 * `save`, before the node acknowledges or forwards them; on restart the log after the newest
 * snapshot is read back. It sits below raft and knows only raft's persisted types.
 *
 * Layout: a directory of segment files (`segment_name.ts`), each starting with a CRC record
 * (carrying the chain), the metadata and the current HardState; a lock file held while the
 * WAL is open for writing; at most two preallocated `N.tmp` files being prepared.
 */
import { EMPTY_HARD_STATE, emptyConfState, type Entry, type HardState } from "../base/raftpb.ts";
import type { Index } from "../base/types.ts";
import { type CountSink, type ObserveSink, secondsSince } from "../base/metric_sink.ts";
import type { FaultPoints } from "../base/fault_points.ts";
import { dirname, type Disk, type DiskFile, joinPath } from "../io/disk.ts";
import { RecordEncoder, type WalMetadata, type WalSnapshot } from "./encoder.ts";
import {
  WalError,
  WalExistsError,
  WalLockedError,
  WalNotFoundError,
  WalSnapshotError,
} from "./errors.ts";
import { FilePipeline, preallocate, TMP_SUFFIX, zeroFill } from "./file_pipeline.ts";
import {
  decodeCrc,
  decodeEntry,
  decodeMetadata,
  decodeSnapshot,
  decodeState,
  entryIndex,
  PayloadError,
} from "./payload.ts";
import { RecordType, WAL_FORMAT_VERSION } from "./record.ts";
import { listSegments, scanSegments, type TornTail } from "./scan.ts";
import { searchIndex, type SegmentName, segmentName, segmentNames } from "./segment_name.ts";

export type { WalMetadata, WalSnapshot } from "./encoder.ts";
export type { TornTail } from "./scan.ts";

/** The default segment size, as etcd's. */
export const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;

/**
 * A save of at most this many bytes syncs on the calling thread (`SyncOptions.inline`). A
 * small save is what a lightly loaded server writes per request, where the thread hand-off
 * of an asynchronous fdatasync is a third of a put's latency; a larger one means requests
 * are queueing, and the event loop is better spent parsing them while the disk syncs. A
 * member with peers syncs every save off its thread (`save`'s `inlineSync: false`): there a
 * thread blocked in fdatasync also holds up the peers' messages and the requests it forwards,
 * for the length of the fsync (the leader's and the followers' profiles under put-1000 had 35
 * and 49 % of their busy samples in the inline fdatasync).
 */
export const INLINE_SYNC_BYTES = 8 * 1024;
/**
 * A small save syncs inline only after this many small saves in a row. Under put-1000 on a
 * lone member a small save is the first connection's few requests, read just after a large
 * save's answers went out, while the other 990 are still on their way: an inline fdatasync
 * there held the event loop (and them) for a whole fsync, 11.5-21.4 ms on average at load
 * 16-18 (docs/perf.md, "put-1000 tail, sixth session"). One large save in the last few says
 * requests are queueing, so the sync goes off the thread until the saves stay small.
 */
export const INLINE_SYNC_AFTER_SMALL_SAVES = 8;
/** The lock file held by the process that has the WAL open for writing. */
export const LOCK_FILE = "wal.lock";

/** Where a WAL lives and how it cuts segments. */
export interface WalOptions {
  disk: Disk;
  dir: string;
  /** Bytes after which a segment is cut (default 64 MiB; small in tests). */
  segmentSize?: number;
  /** Where fsync durations and bytes written are reported (etcd's etcd_disk_wal_*). */
  metrics?: WalMetrics;
  /**
   * Fault points for tests (lib/base/fault_points.ts): walBeforeSync and walAfterSync around a
   * save's fdatasync, as etcd's gofail points in `WAL.Save`.
   */
  faults?: FaultPoints;
}

/** The WAL's measurements, as etcd exports them. */
export interface WalMetrics {
  /** Seconds each fdatasync of the tail took (etcd_disk_wal_fsync_duration_seconds). */
  fsyncSeconds?: ObserveSink;
  /** Bytes of records written (etcd_disk_wal_write_bytes_total). */
  writeBytes?: CountSink;
  /** Seconds each write of records took (etcd 3.5's etcd_disk_wal_write_duration_seconds). */
  writeSeconds?: ObserveSink;
}

/** What `Wal.open` read back. */
export interface WalContents {
  metadata: WalMetadata;
  /** The last HardState saved (empty if none). */
  hardState: HardState;
  /** The entries after the snapshot, with entries overwritten by later saves resolved. */
  entries: Entry[];
  /** A torn tail that was found and zeroed, for the caller to log; null if the end was clean. */
  tornTail: TornTail | null;
}

/** Where reading starts: the snapshot the state machine was restored from. */
export interface SnapshotPosition {
  index: Index;
  term: number;
}

function sameState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

async function takeLock(disk: Disk, dir: string): Promise<DiskFile> {
  const path = joinPath(dir, LOCK_FILE);
  const file = await disk.open(path, { create: true });
  if (!(await file.tryLock())) {
    await file.close();
    throw new WalLockedError(dir, path);
  }
  return file;
}

async function removeTemps(disk: Disk, dir: string): Promise<void> {
  let removed = false;
  for (const name of await disk.readDir(dir)) {
    if (name.endsWith(TMP_SUFFIX)) {
      await disk.remove(joinPath(dir, name));
      removed = true;
    }
  }
  if (removed) await disk.syncDir(dir);
}

/** An open write-ahead log. Calls are serialized; a failed write makes the WAL unusable. */
export class Wal {
  readonly #disk: Disk;
  readonly #dir: string;
  readonly #segmentSize: number;
  readonly #lock: DiskFile;
  readonly #metadata: WalMetadata;
  readonly #encoder: RecordEncoder;
  readonly #pipeline: FilePipeline;
  #segments: SegmentName[];
  #tail: DiskFile;
  #offset: number;
  #state: HardState;
  /**
   * A HardState that only moved the commit index, not written yet (`save`'s `sync: false`): it
   * goes out with the next write, a snapshot marker or `close`.
   */
  #deferred: HardState | null = null;
  /** Saves of at most INLINE_SYNC_BYTES since the last larger one (capped). */
  #smallSaves = INLINE_SYNC_AFTER_SMALL_SAVES;
  #lastIndex: Index;
  #queue: Promise<unknown> = Promise.resolve();
  #failed: unknown = null;
  #closed = false;
  readonly #metrics: WalMetrics | undefined;
  readonly #faults: FaultPoints | undefined;

  private constructor(
    opts: WalOptions,
    lock: DiskFile,
    metadata: WalMetadata,
    segments: SegmentName[],
    tail: DiskFile,
    offset: number,
    crc: number,
    state: HardState,
    lastIndex: Index,
  ) {
    this.#disk = opts.disk;
    this.#dir = opts.dir;
    this.#segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    this.#lock = lock;
    this.#metadata = metadata;
    this.#segments = segments;
    this.#tail = tail;
    this.#offset = offset;
    this.#encoder = new RecordEncoder(crc);
    this.#state = { ...state };
    this.#lastIndex = lastIndex;
    this.#pipeline = new FilePipeline(opts.disk, opts.dir, this.#segmentSize);
    this.#metrics = opts.metrics;
    this.#faults = opts.faults;
  }

  /** True when `dir` holds at least one WAL segment. */
  static async exists(disk: Disk, dir: string): Promise<boolean> {
    if (!(await disk.exists(dir))) return false;
    return segmentNames(await disk.readDir(dir)).length > 0;
  }

  /**
   * Creates a new WAL in `dir` (made if missing) for `metadata`. The first segment holds the
   * CRC record, the metadata and an empty snapshot marker (index 0, term 0); it gets its
   * final name only once complete and synced, so a crash leaves either no WAL or a whole one.
   */
  static async create(opts: WalOptions & { metadata: WalMetadata }): Promise<Wal> {
    const { disk, dir } = opts;
    const segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    await disk.mkdirAll(dir);
    await disk.syncDir(dirname(dir));
    if (await Wal.exists(disk, dir)) throw new WalExistsError(dir);
    const lock = await takeLock(disk, dir);
    try {
      await removeTemps(disk, dir);
      const name = segmentName(0, 0);
      const tmp = joinPath(dir, name + TMP_SUFFIX);
      const file = await preallocate(disk, tmp, segmentSize);
      const enc = new RecordEncoder(0);
      enc.crcRecord(0);
      enc.metadata(opts.metadata);
      enc.snapshot({ index: 0, term: 0, confState: emptyConfState() });
      enc.endWrite();
      try {
        await file.writeAt(enc.bytes(), 0);
        await file.sync();
        await disk.rename(tmp, joinPath(dir, name));
        await disk.syncDir(dir);
      } catch (err) {
        await file.close();
        throw err;
      }
      return new Wal(
        opts,
        lock,
        opts.metadata,
        [{ name, seq: 0, index: 0 }],
        file,
        enc.length,
        enc.crc,
        { ...EMPTY_HARD_STATE },
        0,
      );
    } catch (err) {
      await lock.close();
      throw err;
    }
  }

  /**
   * Opens the WAL in `dir` for writing and reads everything after `snapshot` (default index
   * 0, term 0): metadata, the last HardState and the entries. The snapshot must be recorded in
   * the WAL (`saveSnapshot`), or `WalSnapshotError` is thrown. A torn tail of the last
   * segment is zeroed and reported in `tornTail`; corruption anywhere throws
   * `WalCorruptError` naming the file and offset, and nothing is changed.
   */
  static async open(
    opts: WalOptions & { snapshot?: SnapshotPosition },
  ): Promise<{ wal: Wal; contents: WalContents }> {
    const { disk, dir } = opts;
    const snap = opts.snapshot ?? { index: 0, term: 0 };
    if (!(await disk.exists(dir))) throw new WalNotFoundError(dir, "no WAL directory");
    const lock = await takeLock(disk, dir);
    let tail: DiskFile | null = null;
    try {
      await removeTemps(disk, dir);
      const segments = await listSegments(disk, dir);
      if (segments.length === 0) throw new WalNotFoundError(dir);
      const read = await readFrom(disk, dir, segments, snap);
      const end = read.end;
      const last = segments[segments.length - 1];
      tail = await disk.open(joinPath(dir, last.name));
      if (end.torn) {
        // Zero what the torn write left, so later appends never sit before stale bytes.
        await zeroFill(tail, end.offset, end.offset + end.torn.discardedBytes);
      }
      // After a kill -9 the records just read may still be only in the page cache, and the
      // newest segment's name only in the directory's: make both durable before the caller
      // treats what it read as persisted (raft may acknowledge those entries).
      await tail.sync();
      await disk.syncDir(dir);
      const wal = new Wal(
        opts,
        lock,
        read.metadata,
        segments,
        tail,
        end.offset,
        end.crc,
        read.hardState,
        read.lastIndex,
      );
      return {
        wal,
        contents: {
          metadata: read.metadata,
          hardState: read.hardState,
          entries: read.entries,
          tornTail: end.torn,
        },
      };
    } catch (err) {
      await tail?.close();
      await lock.close();
      throw err;
    }
  }

  /** The directory this WAL lives in. */
  get dir(): string {
    return this.#dir;
  }

  /** The index of the last entry saved (or read back), or of the last snapshot marker. */
  get lastIndex(): Index {
    return this.#lastIndex;
  }

  /** The names of the segment files, oldest first. */
  get segments(): string[] {
    return this.#segments.map((s) => s.name);
  }

  /** The metadata this WAL was created with. */
  get metadata(): WalMetadata {
    return { ...this.#metadata };
  }

  #exclusive<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      if (this.#closed) throw new WalError("wal: closed");
      if (this.#failed !== null) {
        throw new WalError(`wal: unusable after an earlier write failed: ${this.#failed}`);
      }
      return op().catch((err) => {
        if (err instanceof BadInput) throw err.cause;
        this.#failed = err;
        throw err;
      });
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Appends `entries` and, if it changed, `hardState` (null: unchanged, as in a raft Ready
   * without one), then makes them durable with one fdatasync. When it resolves, everything
   * passed is on disk; raft may then send or acknowledge it. The caller batches: one call per
   * raft Ready. A call with no entries and no HardState change writes nothing.
   * `inlineSync: false` keeps even a small save's fdatasync off the calling thread (a member
   * with peers: see INLINE_SYNC_BYTES); so does a large save among the last few
   * (INLINE_SYNC_AFTER_SMALL_SAVES).
   *
   * `sync: false` (raft's mustSync false) with no entries and a HardState that differs only in
   * its commit index writes nothing: the HardState waits for the next save, snapshot marker
   * or `close`, and is written (and synced) with it. raft needs no durable commit index (it
   * learns it again; a member restarts at its snapshot and the backend skips what it already
   * applied, as etcd's), so a member need not fsync every time its commit index moves: etcd
   * writes that HardState unsynced, but this WAL's reader relies on every write being synced
   * before the next one (lib/wal/decoder.ts: damage to a write that a later one follows is
   * corruption, not a torn tail), so the record is held back rather than written unsynced.
   */
  save(
    hardState: HardState | null,
    entries: readonly Entry[],
    options?: { inlineSync?: boolean; sync?: boolean },
  ): Promise<void> {
    return this.#exclusive(async () => {
      if (
        options?.sync === false && entries.length === 0 && hardState !== null &&
        hardState.term === this.#state.term && hardState.vote === this.#state.vote
      ) {
        if (!sameState(hardState, this.#state)) this.#deferred = { ...hardState };
        return;
      }
      const want = hardState ?? this.#deferred;
      this.#deferred = null;
      const next = want !== null && !sameState(want, this.#state) ? want : null;
      if (entries.length === 0 && next === null) return;
      const enc = this.#encoder;
      const crcBefore = enc.crc;
      enc.reset();
      try {
        enc.entries(entries);
        if (next) enc.state(next);
        enc.endWrite();
      } catch (err) {
        // Bad input (a non-integer index, say): nothing was written, so the WAL stays usable.
        enc.crc = crcBefore;
        enc.reset();
        throw new BadInput(err);
      }
      const written = await this.#append();
      if (entries.length > 0) this.#lastIndex = entries[entries.length - 1].index;
      if (next) this.#state = { ...next };
      const small = written <= INLINE_SYNC_BYTES;
      this.#smallSaves = small ? Math.min(this.#smallSaves + 1, INLINE_SYNC_AFTER_SMALL_SAVES) : 0;
      if (this.#offset >= this.#segmentSize) return await this.#cut();
      // etcd's points sit around the fdatasync of a save that does not cut the segment
      this.#faults?.hit("walBeforeSync");
      await this.#syncTail(
        options?.inlineSync !== false && small &&
          this.#smallSaves >= INLINE_SYNC_AFTER_SMALL_SAVES,
      );
      this.#faults?.hit("walAfterSync");
    });
  }

  /**
   * Records a snapshot marker (durable when this resolves). Write it after the snapshot file
   * is saved; only then may `releaseBefore` drop the log before it.
   */
  saveSnapshot(snapshot: WalSnapshot): Promise<void> {
    return this.#exclusive(async () => {
      const enc = this.#encoder;
      const crcBefore = enc.crc;
      enc.reset();
      const deferred = this.#deferred;
      try {
        enc.snapshot(snapshot);
        // a commit index held back goes with the marker (a restart at this snapshot must not
        // find a durable commit index below it)
        if (deferred !== null) enc.state(deferred);
        enc.endWrite();
      } catch (err) {
        enc.crc = crcBefore;
        enc.reset();
        throw new BadInput(err);
      }
      await this.#append();
      if (this.#lastIndex < snapshot.index) this.#lastIndex = snapshot.index;
      if (deferred !== null) {
        this.#state = deferred;
        this.#deferred = null;
      }
      await this.#syncOrCut();
    });
  }

  /** Writes the encoded records at the tail; returns how many bytes. */
  async #append(): Promise<number> {
    const bytes = this.#encoder.bytes();
    const timed = this.#metrics?.writeSeconds;
    const t0 = timed === undefined ? 0 : performance.now();
    await this.#tail.writeAt(bytes, this.#offset);
    timed?.observe(secondsSince(t0));
    this.#offset += bytes.length;
    this.#metrics?.writeBytes?.add(bytes.length);
    return bytes.length;
  }

  /** Syncs the tail, or cuts it once it is full. */
  async #syncOrCut(): Promise<void> {
    if (this.#offset < this.#segmentSize) {
      await this.#syncTail();
      return;
    }
    await this.#cut();
  }

  /** One fdatasync of the tail, timed when a sink is given. */
  async #syncTail(inline = false): Promise<void> {
    const sink = this.#metrics?.fsyncSeconds;
    if (sink === undefined) return await this.#tail.sync({ inline });
    const t0 = performance.now();
    await this.#tail.sync({ inline });
    sink.observe(secondsSince(t0));
  }

  /**
   * Finishes the tail segment (cut to its written length and synced) and starts the next one
   * from the preallocated file: CRC record, metadata, HardState, synced, then renamed to its
   * segment name and the directory synced.
   */
  async #cut(): Promise<void> {
    await this.#tail.truncate(this.#offset);
    await this.#syncTail();
    const { file, path } = await this.#pipeline.take();
    const prev = this.#segments[this.#segments.length - 1];
    const name = segmentName(prev.seq + 1, this.#lastIndex + 1);
    const enc = this.#encoder;
    enc.reset();
    enc.crcRecord(enc.crc);
    enc.metadata(this.#metadata);
    enc.state(this.#state);
    enc.endWrite();
    try {
      await file.writeAt(enc.bytes(), 0);
      await file.sync();
      await this.#disk.rename(path, joinPath(this.#dir, name));
      await this.#disk.syncDir(this.#dir);
    } catch (err) {
      await file.close();
      throw err;
    }
    await this.#tail.close();
    this.#tail = file;
    this.#offset = enc.length;
    this.#segments.push({ name, seq: prev.seq + 1, index: this.#lastIndex + 1 });
  }

  /**
   * Deletes the segments wholly before `index` (a snapshot's index, already recorded with
   * `saveSnapshot`): every segment except the last one whose first index is at most `index`,
   * which may still hold entries or the snapshot marker needed to open at `index`.
   */
  releaseBefore(index: Index): Promise<void> {
    return this.#exclusive(async () => {
      const keepFrom = searchIndex(this.#segments, index);
      if (keepFrom <= 0) return;
      for (const s of this.#segments.slice(0, keepFrom)) {
        await this.#disk.remove(joinPath(this.#dir, s.name));
      }
      this.#segments = this.#segments.slice(keepFrom);
      await this.#disk.syncDir(this.#dir);
    });
  }

  /** Resolves once the next segment's preallocation has finished (benchmarks and tests). */
  async settled(): Promise<void> {
    await this.#pipeline.settled();
  }

  /** Closes the WAL: stops preallocating, closes the tail and releases the directory lock. */
  async close(): Promise<void> {
    await this.#queue;
    if (this.#closed) return;
    try {
      // a commit index held back by `save` (sync: false) is written before the WAL closes
      if (this.#deferred !== null && this.#failed === null) await this.save(null, []);
    } finally {
      this.#closed = true;
      await this.#pipeline.close();
      await this.#tail.close();
      await this.#lock.close();
    }
  }
}

/** Carries a bad-input error out of the serialized section without poisoning the WAL. */
class BadInput extends Error {
  constructor(override readonly cause: unknown) {
    super(String(cause));
  }
}

/** What reading the records after a snapshot produced. */
interface ReadResult {
  metadata: WalMetadata;
  hardState: HardState;
  entries: Entry[];
  lastIndex: Index;
  end: Awaited<ReturnType<typeof scanSegments>>;
}

/** Reads every record after `snap`, as etcd's ReadAll does. Changes nothing on disk. */
async function readFrom(
  disk: Disk,
  dir: string,
  segments: SegmentName[],
  snap: SnapshotPosition,
): Promise<ReadResult> {
  const from = searchIndex(segments, snap.index);
  if (from < 0) {
    throw new WalNotFoundError(dir, `no segment holds snapshot index ${snap.index}`);
  }
  let metadata: WalMetadata | null = null;
  let hardState: HardState = { ...EMPTY_HARD_STATE };
  let entries: Entry[] = [];
  let lastIndex = 0;
  let matched = false;
  const end = await scanSegments(disk, dir, segments, from, (rec) => {
    switch (rec.type) {
      case RecordType.Entry: {
        // entries the snapshot covers are only counted: their data is not copied out
        const index = entryIndex(rec.data);
        if (index <= snap.index) {
          lastIndex = index;
          break;
        }
        const e = decodeEntry(rec.data);
        const up = e.index - snap.index - 1;
        if (up > entries.length) {
          throw new PayloadError(
            `entry ${e.index} leaves a gap after entry ${snap.index + entries.length}`,
          );
        }
        if (up < entries.length) entries = entries.slice(0, up);
        entries.push(e);
        lastIndex = e.index;
        break;
      }
      case RecordType.State:
        hardState = decodeState(rec.data);
        break;
      case RecordType.Metadata: {
        const m = decodeMetadata(rec.data);
        if (metadata && (metadata.nodeId !== m.nodeId || metadata.clusterId !== m.clusterId)) {
          throw new PayloadError("metadata differs from the earlier segments' metadata");
        }
        metadata = m;
        break;
      }
      case RecordType.Crc: {
        const { version } = decodeCrc(rec.data);
        if (version !== WAL_FORMAT_VERSION) {
          throw new PayloadError(`unsupported WAL format version ${version}`);
        }
        break;
      }
      case RecordType.Snapshot: {
        const s = decodeSnapshot(rec.data);
        if (s.index === snap.index) {
          if (s.term !== snap.term) {
            throw new WalSnapshotError(
              `snapshot at index ${snap.index} has term ${s.term} in the WAL, not ${snap.term}`,
            );
          }
          matched = true;
        }
        if (lastIndex < s.index) lastIndex = s.index;
        break;
      }
    }
  });
  if (!matched) {
    throw new WalSnapshotError(
      `snapshot (index ${snap.index}, term ${snap.term}) is not recorded in ${dir}`,
    );
  }
  if (!metadata) throw new WalNotFoundError(dir, "no metadata record");
  return { metadata, hardState, entries, lastIndex, end };
}
