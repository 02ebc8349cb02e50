/**
 * The on-disk format of a bbolt file (etcd's backend, and so etcd's snapshot files), as
 * bbolt's source defines it (internal/common/page.go, meta.go, bucket.go; db.go). Our own
 * code, the format's facts:
 *
 * - The file is an array of pages of `pageSize` bytes; page `id` starts at `id * pageSize`.
 *   Pages 0 and 1 are meta pages; the valid one with the higher transaction id is current.
 * - Every page starts with a 16-byte header: id u64, flags u16, count u16, overflow u32
 *   (the page spans `1 + overflow` pages). Integers are little-endian (bbolt writes native
 *   order; every platform etcd ships on is little-endian).
 * - Meta (at offset 16 of a meta page, 64 bytes): magic u32 0xED0CDAED, version u32 2,
 *   pageSize u32, flags u32, root bucket {root pgid u64, sequence u64}, freelist pgid u64,
 *   pgid u64 (the high-water mark: pages in use), txid u64, checksum u64 (FNV-1a 64 of the
 *   56 bytes before it).
 * - Branch page: `count` elements of 16 bytes {pos u32, ksize u32, pgid u64}, where the key
 *   lies `pos` bytes after the element's own start; each key is the first key of its child.
 * - Leaf page: `count` elements of 16 bytes {flags u32, pos u32, ksize u32, vsize u32}; key
 *   then value lie `pos` bytes after the element. Flag 0x01 marks a nested bucket, whose value
 *   is a bucket header {root pgid u64, sequence u64}; root 0 means the bucket is inline: its
 *   one leaf page follows the header inside the value.
 * - Freelist page: `count` page ids u64 after the header; a count of 0xFFFF means the real
 *   count is the first u64.
 */

/** bbolt's magic number. */
export const MAGIC = 0xed0cdaed;
/** The only data format version bbolt has written. */
export const VERSION = 2;
/** Bytes of a page header. */
export const PAGE_HEADER_SIZE = 16;
/** Bytes of a branch or leaf element. */
export const ELEMENT_SIZE = 16;
/** Bytes of a bucket header (root pgid, sequence). */
export const BUCKET_HEADER_SIZE = 16;
/** Bytes of the meta structure, checksum included. */
export const META_SIZE = 64;
/** The page size etcd's bbolt uses on Linux (the OS page size), and the one we write. */
export const DEFAULT_PAGE_SIZE = 4096;

/** Page flags. */
export const BRANCH_PAGE = 0x01;
export const LEAF_PAGE = 0x02;
export const META_PAGE = 0x04;
export const FREELIST_PAGE = 0x10;
/** Leaf element flag: the value is a nested bucket. */
export const BUCKET_LEAF_FLAG = 0x01;
/** meta.freelist when the freelist is not persisted (bbolt's NoFreelistSync). */
export const NO_FREELIST = 0xffffffffffffffffn;

/** A file that is not a valid bbolt file; the message names the page at fault. */
export class BoltFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BoltFormatError";
  }
}

/** A page header. */
export interface PageHeader {
  id: number;
  flags: number;
  count: number;
  overflow: number;
}

/** A bucket header: the root page (0: inline) and the bucket's sequence. */
export interface BucketHeader {
  root: number;
  sequence: bigint;
}

/** The meta structure. */
export interface Meta {
  magic: number;
  version: number;
  pageSize: number;
  flags: number;
  root: BucketHeader;
  /** The freelist's page, or NO_FREELIST. */
  freelist: bigint;
  /** Pages in use (the file holds at least this many). */
  pgid: number;
  txid: bigint;
  checksum: bigint;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** A u64 that must fit a page number (a safe integer). */
export function readPgid(b: Uint8Array, at: number): number {
  const v = view(b).getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new BoltFormatError(`page id ${v} out of range`);
  }
  return Number(v);
}

/** Reads the header at the start of `b`. */
export function readPageHeader(b: Uint8Array): PageHeader {
  if (b.length < PAGE_HEADER_SIZE) throw new BoltFormatError("short page header");
  const dv = view(b);
  return {
    id: readPgid(b, 0),
    flags: dv.getUint16(8, true),
    count: dv.getUint16(10, true),
    overflow: dv.getUint32(12, true),
  };
}

/** Writes a page header at the start of `b`. */
export function writePageHeader(b: Uint8Array, h: PageHeader): void {
  const dv = view(b);
  dv.setBigUint64(0, BigInt(h.id), true);
  dv.setUint16(8, h.flags, true);
  dv.setUint16(10, h.count, true);
  dv.setUint32(12, h.overflow, true);
}

/** Reads a bucket header (a nested bucket's value, or meta.root). */
export function readBucketHeader(b: Uint8Array, at = 0): BucketHeader {
  if (b.length < at + BUCKET_HEADER_SIZE) throw new BoltFormatError("short bucket header");
  return { root: readPgid(b, at), sequence: view(b).getBigUint64(at + 8, true) };
}

/** Encodes a bucket header. */
export function encodeBucketHeader(h: BucketHeader): Uint8Array {
  const out = new Uint8Array(BUCKET_HEADER_SIZE);
  const dv = view(out);
  dv.setBigUint64(0, BigInt(h.root), true);
  dv.setBigUint64(8, h.sequence, true);
  return out;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/** FNV-1a 64 (Go's hash/fnv New64a), bbolt's meta checksum. */
export function fnv1a64(data: Uint8Array): bigint {
  let h = FNV_OFFSET;
  for (const b of data) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK64;
  return h;
}

/** Decodes the meta structure at `at` (16 for a meta page) of `b`; no validation. */
export function readMeta(b: Uint8Array, at = PAGE_HEADER_SIZE): Meta {
  if (b.length < at + META_SIZE) throw new BoltFormatError("short meta page");
  const dv = view(b);
  const big = (o: number) => dv.getBigUint64(at + o, true);
  // out-of-range page ids become MAX_SAFE_INTEGER, which every bounds check then refuses
  const safe = (v: bigint) =>
    v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  return {
    magic: dv.getUint32(at, true),
    version: dv.getUint32(at + 4, true),
    pageSize: dv.getUint32(at + 8, true),
    flags: dv.getUint32(at + 12, true),
    root: { root: safe(big(16)), sequence: big(24) },
    freelist: big(32),
    pgid: safe(big(40)),
    txid: big(48),
    checksum: big(56),
  };
}

/** Why a meta structure is not valid, or undefined when it is (bbolt's Meta.Validate). */
export function metaProblem(b: Uint8Array, at = PAGE_HEADER_SIZE): string | undefined {
  const m = readMeta(b, at);
  if (m.magic !== MAGIC) return "invalid database (bad magic)";
  if (m.version !== VERSION) return `version mismatch (${m.version}, want ${VERSION})`;
  if (m.checksum !== fnv1a64(b.subarray(at, at + 56))) return "checksum error";
  return undefined;
}

/** Encodes a meta page (header and meta, checksum computed) into `page`. */
export function writeMetaPage(page: Uint8Array, m: Omit<Meta, "checksum" | "magic" | "version">) {
  writePageHeader(page, { id: Number(m.txid % 2n), flags: META_PAGE, count: 0, overflow: 0 });
  const at = PAGE_HEADER_SIZE;
  const dv = view(page);
  dv.setUint32(at, MAGIC, true);
  dv.setUint32(at + 4, VERSION, true);
  dv.setUint32(at + 8, m.pageSize, true);
  dv.setUint32(at + 12, m.flags, true);
  dv.setBigUint64(at + 16, BigInt(m.root.root), true);
  dv.setBigUint64(at + 24, m.root.sequence, true);
  dv.setBigUint64(at + 32, m.freelist, true);
  dv.setBigUint64(at + 40, BigInt(m.pgid), true);
  dv.setBigUint64(at + 48, m.txid, true);
  dv.setBigUint64(at + 56, fnv1a64(page.subarray(at, at + 56)), true);
}

/**
 * True when `head` (the first bytes of a file) starts with a bbolt meta page: page flags
 * META_PAGE and bbolt's magic. Concord's own page file has another magic.
 */
export function looksLikeBolt(head: Uint8Array): boolean {
  if (head.length < PAGE_HEADER_SIZE + 8) return false;
  const dv = view(head);
  return dv.getUint16(8, true) === META_PAGE && dv.getUint32(PAGE_HEADER_SIZE, true) === MAGIC;
}
