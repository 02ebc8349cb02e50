/**
 * Segment file names, as etcd spells them: `<seq>-<index>.wal` with both fields 16 lower-case
 * hex digits, where `seq` counts segments from 0 and `index` is the first raft index the
 * segment may hold. Sorting the names sorts the segments.
 */
import type { Index } from "../base/types.ts";

/** A parsed segment file name. */
export interface SegmentName {
  name: string;
  seq: number;
  index: Index;
}

const PATTERN = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

function hex16(v: number): string {
  return v.toString(16).padStart(16, "0");
}

/** The file name of segment `seq` whose first index is `index`. */
export function segmentName(seq: number, index: Index): string {
  return `${hex16(seq)}-${hex16(index)}.wal`;
}

/** Parses a segment file name, or returns null for any other name. */
export function parseSegmentName(name: string): SegmentName | null {
  const m = PATTERN.exec(name);
  if (!m) return null;
  const seq = Number.parseInt(m[1], 16);
  const index = Number.parseInt(m[2], 16);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(index)) return null;
  return { name, seq, index };
}

/** The segment names among `names`, in order. */
export function segmentNames(names: readonly string[]): SegmentName[] {
  const out: SegmentName[] = [];
  for (const n of names) {
    const s = parseSegmentName(n);
    if (s) out.push(s);
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/**
 * The position of the last segment whose first index is at most `index`: where reading for a
 * snapshot at `index` must start. -1 when every segment starts after it.
 */
export function searchIndex(segments: readonly SegmentName[], index: Index): number {
  for (let i = segments.length - 1; i >= 0; i--) {
    if (segments[i].index <= index) return i;
  }
  return -1;
}

/** A message naming the first gap in the sequence numbers, or null when they are consecutive. */
export function sequenceGap(segments: readonly SegmentName[]): string | null {
  for (let i = 1; i < segments.length; i++) {
    if (segments[i].seq !== segments[i - 1].seq + 1) {
      return `segment ${segments[i].name} does not follow ${segments[i - 1].name}`;
    }
  }
  return null;
}
