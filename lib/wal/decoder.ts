/**
 * Reads the records of one segment and decides how it ends: cleanly, with a torn tail (an
 * unsynced write cut short by a crash, which recovery may discard), or with corruption
 * (which must stop recovery, because discarding it could drop acknowledged records).
 *
 * The rules (also in docs/formats.md). A bad record in a segment that is not the last is
 * always corruption. In the last segment a bad record at offset p is a torn tail when
 * - its header is incomplete or fails its check and every byte after the header is zero;
 * - its frame runs past the end of the file;
 * - its CRC, padding or footer is wrong and either the frame's last byte (part of the non-zero
 *   magic) and everything after the frame are zero (a write cut short), or a 512-byte-aligned chunk of at least 64 bytes inside the
 *   frame is all zero (a sector that never reached the disk, etcd's rule).
 * Otherwise it is corruption. A single flipped bit can produce none of these patterns: every
 * complete frame ends with a non-zero magic, and the header check catches a damaged length.
 */
import { crc32c } from "../base/crc32c.ts";
import {
  allZero,
  FOOTER_MAGIC,
  FOOTER_SIZE,
  frameSize,
  HEADER_SIZE,
  headerCheck,
  lastNonZero,
  MAX_RECORD_DATA,
  padFor,
  readU32,
  RecordType,
  WRITE_END,
} from "./record.ts";

/** One record read from a segment; `data` is a view into the segment's buffer. */
export interface DecodedRecord {
  type: RecordType;
  /** Offset of the frame in the segment file. */
  offset: number;
  data: Uint8Array;
  /** The record's chained CRC. */
  crc: number;
}

/** How a segment's records end. */
export type SegmentEnd =
  | { kind: "clean"; offset: number }
  | { kind: "torn"; offset: number; discardedBytes: number; reason: string }
  | { kind: "corrupt"; offset: number; reason: string };

const SECTOR = 512;
const MIN_TORN_CHUNK = 64;

/** Walks the frames of one segment held in memory. */
export class SegmentDecoder {
  readonly #buf: Uint8Array;
  readonly #isLast: boolean;
  #offset = 0;
  #records = 0;
  /** The chain value: the CRC of the last record read, or null before the first record. */
  crc: number | null;
  /** Set once `next()` has returned null. */
  end: SegmentEnd | null = null;

  /**
   * `crc` is the chain value carried from the previous segment, or null when reading starts
   * at this segment (the CRC record at its start then seeds the chain).
   */
  constructor(buf: Uint8Array, isLast: boolean, crc: number | null) {
    this.#buf = buf;
    this.#isLast = isLast;
    this.crc = crc;
  }

  /** Offset just past the last valid record. */
  get offset(): number {
    return this.#offset;
  }

  #torn(reason: string): null {
    const p = this.#offset;
    const discarded = lastNonZero(this.#buf, p, this.#buf.length) - p;
    this.end = { kind: "torn", offset: p, discardedBytes: discarded, reason };
    return null;
  }

  #corrupt(reason: string): null {
    this.end = { kind: "corrupt", offset: this.#offset, reason };
    return null;
  }

  #hasZeroSector(from: number, to: number): boolean {
    let at = from;
    while (at < to) {
      const next = Math.min(to, (Math.floor(at / SECTOR) + 1) * SECTOR);
      if (next - at >= MIN_TORN_CHUNK && allZero(this.#buf, at, next)) return true;
      at = next;
    }
    return false;
  }

  /** True when the header at `p` passes its check and describes a possible frame. */
  #headerOk(p: number): boolean {
    const buf = this.#buf;
    const dataLen = readU32(buf, p);
    const type = buf[p + 4];
    const flags = buf[p + 5];
    return (buf[p + 6] | (buf[p + 7] << 8)) === headerCheck(buf, p) &&
      type >= RecordType.Metadata && type <= RecordType.Snapshot &&
      (flags & 7) === padFor(dataLen) && (flags & 0xf0) === 0 && dataLen <= MAX_RECORD_DATA;
  }

  /**
   * True when, walking frame headers forward from `p`, a frame marked WRITE_END is followed
   * by another frame: the frame at `p` then belongs to a write that completed before a later
   * one, so it was acknowledged, and damage to it cannot be a torn final write.
   */
  #laterWriteFollows(p: number): boolean {
    const buf = this.#buf;
    let q = p;
    let ended = false;
    while (q + HEADER_SIZE <= buf.length && !allZero(buf, q, q + HEADER_SIZE)) {
      if (!this.#headerOk(q)) break;
      const end = q + frameSize(readU32(buf, q));
      if (end > buf.length) break;
      if (ended) return true;
      ended = (buf[q + 5] & WRITE_END) !== 0;
      q = end;
    }
    return false;
  }

  /** The next valid record, or null at the end (then `end` says how the segment ends). */
  next(): DecodedRecord | null {
    if (this.end) return null;
    const buf = this.#buf;
    const size = buf.length;
    const p = this.#offset;
    const last = this.#isLast;
    if (p === size) {
      this.end = { kind: "clean", offset: p };
      return null;
    }
    if (size - p < HEADER_SIZE) {
      if (allZero(buf, p, size)) {
        if (last) {
          this.end = { kind: "clean", offset: p };
          return null;
        }
        return this.#corrupt("zero-filled space at the end of a segment that is not the last");
      }
      return last ? this.#torn("incomplete record header") : this.#corrupt("truncated header");
    }
    if (allZero(buf, p, p + HEADER_SIZE)) {
      if (!last) {
        return this.#corrupt("zero-filled space before the end of a segment that is not the last");
      }
      if (lastNonZero(buf, p, size) === p) {
        this.end = { kind: "clean", offset: p };
        return null;
      }
      return this.#torn("non-zero bytes after the end of the log");
    }
    const dataLen = readU32(buf, p);
    const type = buf[p + 4];
    if (!this.#headerOk(p)) {
      if (last && allZero(buf, p + HEADER_SIZE, size)) {
        return this.#torn("incomplete record header");
      }
      return this.#corrupt("bad record header (length, type or header check)");
    }
    const end = p + frameSize(dataLen);
    if (end > size) {
      return last
        ? this.#torn("record runs past the end of the file")
        : this.#corrupt("record runs past the end of the segment");
    }
    const dataEnd = p + HEADER_SIZE + dataLen;
    const footer = end - FOOTER_SIZE;
    let seed = this.crc ?? 0;
    if (type === RecordType.Crc && dataLen >= 4) seed = readU32(buf, p + HEADER_SIZE);
    const crc = crc32c(buf, seed, p, dataEnd);
    let problem = "";
    if (!allZero(buf, dataEnd, footer)) problem = "non-zero padding";
    else if (readU32(buf, footer + 4) !== FOOTER_MAGIC) problem = "bad record footer";
    else if (readU32(buf, footer) !== crc) problem = "CRC mismatch";
    if (problem !== "") {
      if (
        last &&
        ((buf[end - 1] === 0 && allZero(buf, end, size)) ||
          (this.#hasZeroSector(p + HEADER_SIZE, end) && !this.#laterWriteFollows(p)))
      ) {
        return this.#torn(`incomplete record (${problem})`);
      }
      return this.#corrupt(problem);
    }
    if (this.#records === 0 && type !== RecordType.Crc) {
      return this.#corrupt("segment does not start with a CRC record");
    }
    if (type === RecordType.Crc) {
      if (this.crc !== null && seed !== this.crc) {
        return this.#corrupt(
          `CRC record carries ${seed.toString(16)} but the chain is at ${this.crc.toString(16)}`,
        );
      }
    }
    this.#records++;
    this.crc = crc;
    this.#offset = end;
    return { type, offset: p, data: buf.subarray(p + HEADER_SIZE, dataEnd), crc };
  }
}
