/**
 * The page: the unit of the page file. Every page starts with a 20-byte header (id, type,
 * element count, overflow count, bytes used, checksum); a page whose content does not fit in
 * one page spans `1 + overflow` contiguous pages. All integers are little-endian. The layout
 * is documented in docs/formats.md; this file is the one place that knows it.
 */
import { crc32c } from "../base/crc32c.ts";
import { CorruptionError } from "./errors.ts";

/** Bytes of the page header. */
export const PAGE_HEADER = 20;
/** Bytes of one branch or leaf element header. */
export const ELEM_SIZE = 12;
/** Page size used when a file is created without one. */
export const DEFAULT_PAGE_SIZE = 4096;
/** Smallest page size accepted at creation. */
export const MIN_PAGE_SIZE = 512;
/** Largest page size accepted at creation. */
export const MAX_PAGE_SIZE = 65536;
/** Longest key accepted (as in bbolt). */
export const MAX_KEY_SIZE = 32768;
/** Longest value accepted. */
export const MAX_VALUE_SIZE = 0x7fff_0000;
/** Largest page id: ids are stored in 32 bits. */
export const MAX_PGID = 0xffff_fffe;

/** Page type (header offset 4): a branch of a B+tree. */
export const BRANCH = 0x01;
/** Page type: a leaf of a B+tree. */
export const LEAF = 0x02;
/** Page type: a meta page (pages 0 and 1). */
export const META = 0x04;
/** Page type: the freelist. */
export const FREELIST = 0x10;

/** Leaf element flag: the value is a nested bucket's header. */
export const BUCKET_FLAG = 0x01;

// Header field offsets.
const H_ID = 0;
const H_FLAGS = 4;
const H_COUNT = 6;
const H_OVERFLOW = 8;
const H_USED = 12;
const H_CRC = 16;

/** Reads an unsigned 32-bit little-endian integer. */
export function u32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

/** Reads an unsigned 16-bit little-endian integer. */
export function u16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}

/** Writes an unsigned 32-bit little-endian integer. */
export function putU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}

/** Writes an unsigned 16-bit little-endian integer. */
export function putU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
}

/** The page id recorded in a page's header. */
export function pageId(p: Uint8Array): number {
  return u32(p, H_ID);
}
/** The type flags of a page. */
export function pageFlags(p: Uint8Array): number {
  return u16(p, H_FLAGS);
}
/** Number of elements in a branch or leaf page. */
export function pageCount(p: Uint8Array): number {
  return u16(p, H_COUNT);
}
/** Number of extra pages a page spans. */
export function pageOverflow(p: Uint8Array): number {
  return u32(p, H_OVERFLOW);
}
/** The overflow count of the page whose header starts at byte `at` of `buf` (no view made). */
export function pageOverflowAt(buf: Uint8Array, at: number): number {
  return u32(buf, at + H_OVERFLOW);
}
/** Bytes of the span in use, header included. */
export function pageUsed(p: Uint8Array): number {
  return u32(p, H_USED);
}

/** Fills in a page header; the checksum is set later by `sealPage`. */
export function writeHeader(
  p: Uint8Array,
  id: number,
  flags: number,
  count: number,
  overflow: number,
  used: number,
): void {
  putU32(p, H_ID, id);
  putU16(p, H_FLAGS, flags);
  putU16(p, H_COUNT, count);
  putU32(p, H_OVERFLOW, overflow);
  putU32(p, H_USED, used);
}

/** The checksum of a page: CRC-32C over the header before the checksum and the used body. */
export function pageChecksum(p: Uint8Array): number {
  const used = Math.min(pageUsed(p), p.length);
  return crc32c(p, crc32c(p, 0, 0, H_CRC), PAGE_HEADER, Math.max(PAGE_HEADER, used));
}

/** Computes and stores a page's checksum; the page must not change afterwards. */
export function sealPage(p: Uint8Array): void {
  putU32(p, H_CRC, pageChecksum(p));
}

/** Human name of a page type, for error messages. */
export function typeName(flags: number): string {
  switch (flags) {
    case BRANCH:
      return "branch";
    case LEAF:
      return "leaf";
    case META:
      return "meta";
    case FREELIST:
      return "freelist";
    default:
      return `unknown (0x${flags.toString(16)})`;
  }
}

/**
 * Checks a page read from disk: its header names `id`, its used size fits its span, and its
 * checksum matches. Throws CorruptionError naming the page otherwise.
 */
export function verifyPage(p: Uint8Array, id: number, pageSize: number): void {
  verifyPageHeader(p, id, pageSize);
  verifyPageChecksum(p, id);
}

/**
 * The header half of `verifyPage`: the page names `id`, its used size fits its span, the
 * bytes hold the whole span. What a reader needs before it can walk the page's elements;
 * a scan that has the checksums computed on another thread checks this much itself
 * (page_verifier.ts).
 */
export function verifyPageHeader(p: Uint8Array, id: number, pageSize: number): void {
  if (p.length < PAGE_HEADER) throw new CorruptionError(id, "short read");
  const got = pageId(p);
  if (got !== id) throw new CorruptionError(id, `header names page ${got}`);
  const used = pageUsed(p);
  const span = (pageOverflow(p) + 1) * pageSize;
  if (used < PAGE_HEADER || used > span) {
    throw new CorruptionError(id, `used size ${used} outside its ${span}-byte span`);
  }
  if (p.length < span) throw new CorruptionError(id, `truncated: ${p.length} of ${span} bytes`);
}

/** The checksum half of `verifyPage`, for a page whose header has been checked. */
export function verifyPageChecksum(p: Uint8Array, id: number): void {
  const want = u32(p, H_CRC);
  const have = pageChecksum(p);
  if (want !== have) throw checksumMismatch(id, want, have);
}

/** The checksum stored in a page's header. */
export function storedChecksum(p: Uint8Array): number {
  return u32(p, H_CRC);
}

/** The error for a page whose checksum does not match, wherever it was computed. */
export function checksumMismatch(id: number, stored: number, computed: number): CorruptionError {
  return new CorruptionError(
    id,
    `checksum mismatch (stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)})`,
  );
}

/**
 * Compares two byte ranges bytewise (shorter first when one is a prefix of the other).
 * Negative, zero or positive, like a comparator.
 */
export function compareRange(
  a: Uint8Array,
  aOff: number,
  aLen: number,
  b: Uint8Array,
  bOff: number,
  bLen: number,
): number {
  const n = aLen < bLen ? aLen : bLen;
  for (let i = 0; i < n; i++) {
    const d = a[aOff + i] - b[bOff + i];
    if (d !== 0) return d;
  }
  return aLen - bLen;
}

/** Bytewise comparison of two keys. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return compareRange(a, 0, a.length, b, 0, b.length);
}

// Element accessors for branch and leaf pages. Element i's header is at
// PAGE_HEADER + i * ELEM_SIZE: u32 pos (key offset from the page start), u32 vsize (leaf) or
// child page id (branch), u16 ksize, u16 flags (leaf).

/** Offset of element i's header. */
export function elemAt(i: number): number {
  return PAGE_HEADER + i * ELEM_SIZE;
}
/** Key offset of element i. */
export function elemPos(p: Uint8Array, i: number): number {
  return u32(p, PAGE_HEADER + i * ELEM_SIZE);
}
/** Key length of element i. */
export function elemKsize(p: Uint8Array, i: number): number {
  return u16(p, PAGE_HEADER + i * ELEM_SIZE + 8);
}
/** Value length of leaf element i. */
export function elemVsize(p: Uint8Array, i: number): number {
  return u32(p, PAGE_HEADER + i * ELEM_SIZE + 4);
}
/** Child page id of branch element i. */
export function elemChild(p: Uint8Array, i: number): number {
  return u32(p, PAGE_HEADER + i * ELEM_SIZE + 4);
}
/** Flags of leaf element i. */
export function elemFlags(p: Uint8Array, i: number): number {
  return u16(p, PAGE_HEADER + i * ELEM_SIZE + 10);
}
/** Key of element i, as a view into the page. */
export function elemKey(p: Uint8Array, i: number): Uint8Array {
  const pos = elemPos(p, i);
  return p.subarray(pos, pos + elemKsize(p, i));
}
/** Value of leaf element i, as a view into the page. */
export function elemValue(p: Uint8Array, i: number): Uint8Array {
  const o = PAGE_HEADER + i * ELEM_SIZE;
  const pos = u32(p, o) + u16(p, o + 8);
  return p.subarray(pos, pos + u32(p, o + 4));
}

/**
 * Index of the first element whose key is >= key (count when none): binary search over the
 * page bytes without allocating.
 */
export function pageLowerBound(p: Uint8Array, key: Uint8Array): number {
  let lo = 0;
  let hi = pageCount(p);
  const klen = key.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const o = PAGE_HEADER + mid * ELEM_SIZE;
    const pos = (p[o] | (p[o + 1] << 8) | (p[o + 2] << 16) | (p[o + 3] << 24)) >>> 0;
    const ks = p[o + 8] | (p[o + 9] << 8);
    if (compareRange(p, pos, ks, key, 0, klen) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the child of a branch page whose range holds key (the last separator <= key). */
export function pageBranchIndex(p: Uint8Array, key: Uint8Array): number {
  let lo = 0;
  let hi = pageCount(p);
  const klen = key.length;
  // Find the first separator > key, then step back one.
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const o = PAGE_HEADER + mid * ELEM_SIZE;
    const pos = (p[o] | (p[o + 1] << 8) | (p[o + 2] << 16) | (p[o + 3] << 24)) >>> 0;
    const ks = p[o + 8] | (p[o + 9] << 8);
    if (compareRange(p, pos, ks, key, 0, klen) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? 0 : lo - 1;
}

/** True when leaf element i's key equals key. */
export function pageKeyEquals(p: Uint8Array, i: number, key: Uint8Array): boolean {
  const o = PAGE_HEADER + i * ELEM_SIZE;
  const pos = u32(p, o);
  const ks = u16(p, o + 8);
  return ks === key.length && compareRange(p, pos, ks, key, 0, ks) === 0;
}
