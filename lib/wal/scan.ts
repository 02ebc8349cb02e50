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
 * Visits every valid record of `segments[from..]`, in order. `visit` may throw a
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
  for (let i = from; i < segments.length; i++) {
    const segment = segments[i];
    const path = joinPath(dir, segment.name);
    const buf = await readWhole(disk, path);
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
