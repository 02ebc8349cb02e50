/**
 * The WAL's record framing: how one record (type, chained CRC-32C, data) is laid out in a
 * segment file so that a reader can tell a clean end, a torn tail and corruption apart.
 * The byte layout is documented in docs/formats.md; this file is its only implementation.
 *
 * Frame (every frame starts and ends 8-byte aligned):
 *
 * ```
 * 0      u32  L       data length in bytes
 * 4      u8   type    RecordType (never 0, so a record header is never all zero)
 * 5      u8   pad | flags: bits 0-2 (8 - L % 8) % 8, the zero bytes after the data;
 *                   bit 3 WRITE_END, set on the last record of each write (one `save`);
 *                   bits 4-7 zero
 * 6      u16  hcheck  low 16 bits of CRC-32C(bytes 0..6): a bit flip in L is caught before L is used
 * 8      L bytes of data, then `pad` zero bytes
 * 8+L+pad u32 crc     CRC-32C of (header bytes 0..8 ‖ data), seeded with the previous record's crc
 * 12+L+pad u32 magic  FOOTER_MAGIC: never zero, so a completely written frame always ends non-zero
 * ```
 */
import { crc32c } from "../base/crc32c.ts";

/** The kinds of WAL record. */
export enum RecordType {
  /** The node and cluster this WAL belongs to; first after the CRC record in every segment. */
  Metadata = 1,
  /** One raft log entry. */
  Entry = 2,
  /** A raft HardState. */
  State = 3,
  /** Carries the running CRC (and the format version) into a new segment; its first record. */
  Crc = 4,
  /** A snapshot marker: the log before it may be released. */
  Snapshot = 5,
}

/** The WAL format version, stored in every CRC record. */
export const WAL_FORMAT_VERSION = 1;
/** Bytes of a frame header. */
export const HEADER_SIZE = 8;
/** Bytes of a frame footer (crc + magic). */
export const FOOTER_SIZE = 8;
/** The footer's constant second word, "CWAL" in little-endian bytes. */
export const FOOTER_MAGIC = 0x4c415743;
/** The largest record data a reader accepts (a sanity bound on a length read from disk). */
export const MAX_RECORD_DATA = 512 * 1024 * 1024;

/** Header flag: this record is the last of one write (one fdatasync'd `save`). */
export const WRITE_END = 0x08;

/** Zero bytes that follow `dataLen` bytes of data to reach 8-byte alignment. */
export function padFor(dataLen: number): number {
  return (8 - (dataLen & 7)) & 7;
}

/** The full size of a frame holding `dataLen` bytes of data. */
export function frameSize(dataLen: number): number {
  return HEADER_SIZE + dataLen + padFor(dataLen) + FOOTER_SIZE;
}

/** The header check word for header bytes 0..6 at `buf[at]`. */
export function headerCheck(buf: Uint8Array, at: number): number {
  return crc32c(buf, 0, at, at + 6) & 0xffff;
}

/**
 * Writes a frame's header at `at` for `dataLen` bytes of data. The caller then writes the
 * data at `at + HEADER_SIZE` and calls `sealFrame`.
 */
export function writeHeader(buf: Uint8Array, at: number, type: RecordType, dataLen: number): void {
  buf[at] = dataLen & 0xff;
  buf[at + 1] = (dataLen >>> 8) & 0xff;
  buf[at + 2] = (dataLen >>> 16) & 0xff;
  buf[at + 3] = (dataLen >>> 24) & 0xff;
  buf[at + 4] = type;
  buf[at + 5] = padFor(dataLen);
  const check = headerCheck(buf, at);
  buf[at + 6] = check & 0xff;
  buf[at + 7] = check >>> 8;
}

/** Sets flag bits in an already written header, updating its check (the CRC is the caller's). */
export function setHeaderFlags(buf: Uint8Array, at: number, flags: number): void {
  buf[at + 5] |= flags;
  const check = headerCheck(buf, at);
  buf[at + 6] = check & 0xff;
  buf[at + 7] = check >>> 8;
}

/**
 * Zeroes the padding, computes the chained CRC over header and data, and writes the footer.
 * Returns the frame's end offset and leaves the record's crc in `sealed.crc`.
 */
export function sealFrame(
  buf: Uint8Array,
  at: number,
  dataLen: number,
  prevCrc: number,
  sealed: { crc: number },
): number {
  const dataEnd = at + HEADER_SIZE + dataLen;
  const pad = padFor(dataLen);
  for (let i = 0; i < pad; i++) buf[dataEnd + i] = 0;
  const crc = crc32c(buf, prevCrc, at, dataEnd);
  const f = dataEnd + pad;
  writeU32(buf, f, crc);
  writeU32(buf, f + 4, FOOTER_MAGIC);
  sealed.crc = crc;
  return f + FOOTER_SIZE;
}

/** Writes a little-endian u32. */
export function writeU32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v & 0xff;
  buf[at + 1] = (v >>> 8) & 0xff;
  buf[at + 2] = (v >>> 16) & 0xff;
  buf[at + 3] = (v >>> 24) & 0xff;
}

/** Reads a little-endian u32. */
export function readU32(buf: Uint8Array, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
}

/** Writes a safe non-negative integer as a little-endian u64. */
export function writeU64(buf: Uint8Array, at: number, v: number): void {
  writeU32(buf, at, v >>> 0);
  writeU32(buf, at + 4, Math.floor(v / 4294967296) >>> 0);
}

/**
 * Reads a little-endian u64 as a safe integer, or returns -1 when it does not fit (the
 * caller reports that as corruption, naming the file and offset).
 */
export function readU64(buf: Uint8Array, at: number): number {
  const lo = readU32(buf, at);
  const hi = readU32(buf, at + 4);
  if (hi > 0x1fffff) return -1;
  return hi * 4294967296 + lo;
}

/** Writes a u64 id. */
export function writeId(buf: Uint8Array, at: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  writeU32(buf, at, Number(u & 0xffffffffn));
  writeU32(buf, at + 4, Number(u >> 32n));
}

/** Reads a u64 id. */
export function readId(buf: Uint8Array, at: number): bigint {
  return (BigInt(readU32(buf, at + 4)) << 32n) | BigInt(readU32(buf, at));
}

/** True when `buf[from, to)` holds only zero bytes. */
export function allZero(buf: Uint8Array, from: number, to: number): boolean {
  let i = from;
  while (i < to && ((buf.byteOffset + i) & 3) !== 0) if (buf[i++] !== 0) return false;
  // Word-at-a-time over the aligned middle: the tail of a 64 MiB preallocated segment is
  // scanned on every open of the last segment.
  const words = (to - i) >>> 2;
  if (words > 0) {
    const view = new Uint32Array(buf.buffer, buf.byteOffset + i, words);
    for (let w = 0; w < words; w++) if (view[w] !== 0) return false;
    i += words * 4;
  }
  while (i < to) if (buf[i++] !== 0) return false;
  return true;
}

/** The offset just past the last non-zero byte of `buf[from, to)`, or `from` if none. */
export function lastNonZero(buf: Uint8Array, from: number, to: number): number {
  let i = to;
  while (i > from && ((buf.byteOffset + i) & 3) !== 0) if (buf[--i] !== 0) return i + 1;
  // Word-at-a-time backwards: a clean open checks the whole zero tail of the last segment.
  const lo = Math.ceil((buf.byteOffset + from) / 4) * 4 - buf.byteOffset;
  if (i - lo >= 4) {
    const words = (i - lo) >>> 2;
    const base = i - words * 4;
    const view = new Uint32Array(buf.buffer, buf.byteOffset + base, words);
    let w = words - 1;
    while (w >= 0 && view[w] === 0) w--;
    i = base + (w + 1) * 4;
  }
  while (i > from) if (buf[--i] !== 0) return i + 1;
  return from;
}
