/**
 * Reads a whole WAL directory without changing it (no lock, no repair), checking every record
 * and summarizing what the log holds. Behind `concord util wal verify|dump`, and usable by
 * the server to report on a data directory it will not open.
 */
import type { Entry, HardState } from "../base/raftpb.ts";
import type { Disk } from "../io/disk.ts";
import type { WalMetadata, WalSnapshot } from "./encoder.ts";
import { WalNotFoundError } from "./errors.ts";
import {
  decodeCrc,
  decodeEntry,
  decodeMetadata,
  decodeSnapshot,
  decodeState,
  PayloadError,
} from "./payload.ts";
import { frameSize, RecordType, WAL_FORMAT_VERSION } from "./record.ts";
import { listSegments, scanSegments, type TornTail } from "./scan.ts";
import { searchIndex, type SegmentName } from "./segment_name.ts";

/** One record as the inspector reports it to a visitor. */
export type InspectedRecord =
  | { type: RecordType.Entry; segment: string; offset: number; entry: Entry }
  | { type: RecordType.State; segment: string; offset: number; state: HardState }
  | { type: RecordType.Metadata; segment: string; offset: number; metadata: WalMetadata }
  | { type: RecordType.Crc; segment: string; offset: number; crc: number; version: number }
  | { type: RecordType.Snapshot; segment: string; offset: number; snapshot: WalSnapshot };

/** What a WAL directory holds. */
export interface WalReport {
  segments: SegmentName[];
  metadata: WalMetadata | null;
  /** Records of each type. */
  counts: Record<"metadata" | "entry" | "state" | "crc" | "snapshot", number>;
  /** Lowest and highest entry index seen (0 when none). */
  firstIndex: number;
  lastIndex: number;
  /** The last HardState recorded. */
  hardState: HardState | null;
  /** The last snapshot marker recorded. */
  lastSnapshot: WalSnapshot | null;
  /** Bytes of valid records in all segments. */
  bytes: number;
  /** A torn tail at the end of the last segment (recovery would discard it), or null. */
  tornTail: TornTail | null;
}

/**
 * Verifies every record of the WAL in `dir`. Throws `WalCorruptError` (naming file and
 * offset) on corruption and `WalNotFoundError` when there is no WAL. `visit` sees each record.
 */
export async function inspectWal(
  disk: Disk,
  dir: string,
  visit?: (record: InspectedRecord) => void,
): Promise<WalReport> {
  const segments = await listSegments(disk, dir);
  if (segments.length === 0) throw new WalNotFoundError(dir);
  const report: WalReport = {
    segments,
    metadata: null,
    counts: { metadata: 0, entry: 0, state: 0, crc: 0, snapshot: 0 },
    firstIndex: 0,
    lastIndex: 0,
    hardState: null,
    lastSnapshot: null,
    bytes: 0,
    tornTail: null,
  };
  let segBytes = 0;
  let lastSeg = "";
  const end = await scanSegments(disk, dir, segments, 0, (rec, seg) => {
    if (seg.name !== lastSeg) {
      report.bytes += segBytes;
      lastSeg = seg.name;
    }
    segBytes = rec.offset + frameSize(rec.data.length);
    const at = { segment: seg.name, offset: rec.offset };
    switch (rec.type) {
      case RecordType.Entry: {
        const entry = decodeEntry(rec.data);
        report.counts.entry++;
        if (report.firstIndex === 0 || entry.index < report.firstIndex) {
          report.firstIndex = entry.index;
        }
        report.lastIndex = entry.index;
        visit?.({ type: RecordType.Entry, ...at, entry });
        break;
      }
      case RecordType.State: {
        const state = decodeState(rec.data);
        report.counts.state++;
        report.hardState = state;
        visit?.({ type: RecordType.State, ...at, state });
        break;
      }
      case RecordType.Metadata: {
        const metadata = decodeMetadata(rec.data);
        const m = report.metadata;
        if (m && (m.nodeId !== metadata.nodeId || m.clusterId !== metadata.clusterId)) {
          throw new PayloadError("metadata differs from the earlier segments' metadata");
        }
        report.counts.metadata++;
        report.metadata = metadata;
        visit?.({ type: RecordType.Metadata, ...at, metadata });
        break;
      }
      case RecordType.Crc: {
        const { crc, version } = decodeCrc(rec.data);
        if (version !== WAL_FORMAT_VERSION) {
          throw new PayloadError(`unsupported WAL format version ${version}`);
        }
        report.counts.crc++;
        visit?.({ type: RecordType.Crc, ...at, crc, version });
        break;
      }
      case RecordType.Snapshot: {
        const snapshot = decodeSnapshot(rec.data);
        report.counts.snapshot++;
        report.lastSnapshot = snapshot;
        visit?.({ type: RecordType.Snapshot, ...at, snapshot });
        break;
      }
    }
  });
  report.bytes += segBytes;
  report.tornTail = end.torn;
  return report;
}

/**
 * The snapshot markers in the WAL whose index is at most the last recorded commit (etcd's
 * ValidSnapshotEntries): the snapshots a member may restart from. Pass them to
 * `Snapshotter.load(accept)` so the snapshot file chosen is one the log can continue from.
 * Reads without the lock and tolerates a torn tail.
 *
 * With `fromIndex`, only the segments from the one a snapshot at that index starts reading
 * in (as `Wal.open` reads) are scanned: the markers at or above `fromIndex` are all there
 * (markers are written in index order, and a segment cut after a marker starts past its
 * index), and so is the last commit (every segment starts with the HardState). A restart
 * passes its newest snapshot file's index, so that it reads the segment or two it will
 * replay rather than every segment the WAL keeps (docs/perf.md, "Restart time"); markers
 * below are then missing from the answer, so a caller that finds nothing usable in it lists
 * again without `fromIndex`.
 */
export async function validSnapshots(
  disk: Disk,
  dir: string,
  fromIndex = 0,
): Promise<WalSnapshot[]> {
  const segments = await listSegments(disk, dir);
  if (segments.length === 0) throw new WalNotFoundError(dir);
  const from = Math.max(0, searchIndex(segments, fromIndex));
  const markers: WalSnapshot[] = [];
  let commit = 0;
  // Every record's CRC is checked (scanSegments), but only the records this needs are decoded,
  // as etcd's ValidSnapshotEntries does: decoding each entry of a long log only to drop it was
  // most of this pass's time at a restart (docs/perf.md, "Restart time").
  await scanSegments(disk, dir, segments, from, (rec) => {
    if (rec.type === RecordType.Snapshot) markers.push(decodeSnapshot(rec.data));
    else if (rec.type === RecordType.State) commit = decodeState(rec.data).commit;
    else if (rec.type === RecordType.Crc) {
      const { version } = decodeCrc(rec.data);
      if (version !== WAL_FORMAT_VERSION) {
        throw new PayloadError(`unsupported WAL format version ${version}`);
      }
    }
  });
  return markers.filter((s) => s.index <= commit);
}
