/**
 * Walks the records of a run of segments in order, carrying the CRC chain from one segment
 * to the next. Shared by `Wal.open` (recovery), the snapshot listing and `concord util wal`,
 * so that all three agree on what is valid, torn and corrupt.
 */
import { type Disk, joinPath } from "../io/disk.ts";
import { type DecodedRecord, SegmentDecoder } from "./decoder.ts";
import { WalCorruptError, WalNotFoundError } from "./errors.ts";
import { PayloadError } from "./payload.ts";
import { type SegmentName, segmentNames, sequenceGap } from "./segment_name.ts";

/** A torn tail found (and, in write mode, zeroed) at the end of the last segment. */
export interface TornTail {
  /** Path of the last segment. */
  file: string;
  /** Offset where the valid records end. */
  offset: number;
  /** Non-zero bytes after `offset` that were discarded. */
  discardedBytes: number;
  reason: string;
}

/** What a scan ends with. */
export interface ScanEnd {
  /** The last segment read. */
  segment: SegmentName;
  /** Offset just past its last valid record. */
  offset: number;
  /** The CRC chain value after the last valid record. */
  crc: number;
  /** The torn tail of the last segment, if there was one. */
  torn: TornTail | null;
  /** The last segment's size in bytes. */
  size: number;
}

/** Lists the segments in `dir`, checking that their sequence numbers are consecutive. */
export async function listSegments(disk: Disk, dir: string): Promise<SegmentName[]> {
  if (!(await disk.exists(dir))) throw new WalNotFoundError(dir, "no WAL directory");
  const segments = segmentNames(await disk.readDir(dir));
  const gap = sequenceGap(segments);
  if (gap) throw new WalCorruptError(joinPath(dir, segments[0].name), 0, gap);
  return segments;
}

/** Reads a whole file. */
export async function readWhole(disk: Disk, path: string): Promise<Uint8Array> {
  const file = await disk.open(path, { readOnly: true });
  try {
    const buf = new Uint8Array(await file.size());
    const n = await file.readAt(buf, 0);
    return n === buf.length ? buf : buf.subarray(0, n);
  } finally {
    await file.close();
  }
}

/**
 * The last scan's buffer, while the collector has not taken it: a restart scans the WAL twice
 * back to back (the snapshot markers, then the records from the snapshot on), and reusing the
 * buffer spares the second scan faulting in 64 MiB of fresh memory per segment (a quarter of
 * a second of system time on a loaded 2-core machine). Nothing else holds it, so it costs no
 * memory once the member runs.
 */
let lastScratch: WeakRef<ArrayBuffer> | undefined;

/**
 * Reads a whole file into `scratch` when it is big enough (a view of its first bytes), else
 * into a new buffer: a scan of several 64 MiB segments then faults its memory in once, not
 * once per segment (a restart reads them all).
 */
async function readReusing(
  disk: Disk,
  path: string,
  scratch: Uint8Array | undefined,
): Promise<Uint8Array> {
  const file = await disk.open(path, { readOnly: true });
  try {
    const size = await file.size();
    const buf = scratch !== undefined && scratch.length >= size
      ? scratch.subarray(0, size)
      : new Uint8Array(size);
    const n = await file.readAt(buf, 0);
    return n === buf.length ? buf : buf.subarray(0, n);
  } finally {
    await file.close();
  }
}

/**
 * Visits every valid record of `segments[from..]`, in order. A record's `data` is a view of a
 * buffer reused for the next segment: `visit` copies what it keeps. `visit` may throw a
 * `PayloadError`, which becomes a `WalCorruptError` naming the record's file and offset.
 * Throws `WalCorruptError` for corruption anywhere, and for a torn tail anywhere but the end
 * of the last segment.
 */
export async function scanSegments(
  disk: Disk,
  dir: string,
  segments: readonly SegmentName[],
  from: number,
  visit: (record: DecodedRecord, segment: SegmentName) => void,
): Promise<ScanEnd> {
  let crc: number | null = null;
  const kept = lastScratch?.deref();
  let scratch: Uint8Array | undefined = kept ? new Uint8Array(kept) : undefined;
  lastScratch = undefined; // one scan at a time owns it (scans may overlap across awaits)
  for (let i = from; i < segments.length; i++) {
    const segment = segments[i];
    const path = joinPath(dir, segment.name);
    const buf = await readReusing(disk, path, scratch);
    if (scratch === undefined || buf.buffer !== scratch.buffer) {
      scratch = new Uint8Array(buf.buffer, 0, buf.buffer.byteLength);
    }
    const isLast = i === segments.length - 1;
    const decoder: SegmentDecoder = new SegmentDecoder(buf, isLast, crc);
    for (let rec = decoder.next(); rec !== null; rec = decoder.next()) {
      try {
        visit(rec, segment);
      } catch (err) {
        if (err instanceof PayloadError) throw new WalCorruptError(path, rec.offset, err.message);
        throw err;
      }
    }
    // read and decoded: the next scan may have the buffer
    if (isLast) lastScratch = new WeakRef(scratch.buffer as ArrayBuffer);
    const end = decoder.end!;
    if (end.kind === "corrupt") throw new WalCorruptError(path, end.offset, end.reason);
    if (decoder.crc === null) {
      throw new WalCorruptError(path, 0, "segment holds no records");
    }
    const chain: number = decoder.crc;
    crc = chain;
    if (isLast) {
      const torn = end.kind === "torn"
        ? { file: path, offset: end.offset, discardedBytes: end.discardedBytes, reason: end.reason }
        : null;
      return { segment, offset: end.offset, crc: chain, torn, size: buf.length };
    }
  }
  throw new WalNotFoundError(dir, "no WAL segment to read");
}
