/**
 * MVCC revisions as etcd lays them out: a main revision per write transaction and a sub
 * revision per change inside it. In the "key" bucket every change is stored under the 17
 * bytes `main(8, big-endian) '_' sub(8, big-endian)`, with a trailing 't' (18 bytes) for a
 * tombstone, so a bucket scan in byte order is a scan in revision order.
 */

/** The length of an encoded revision without the tombstone mark. */
export const REV_BYTES_LEN = 17;
/** The byte that marks a tombstone after the 17 revision bytes. */
export const TOMBSTONE_MARK = 0x74; // 't'

/** A revision: the transaction's main revision and the change's index within it. */
export interface Rev {
  main: number;
  sub: number;
}

function putU64(out: Uint8Array, at: number, v: number): void {
  const hi = v > 0xffffffff ? Math.floor(v / 4294967296) : 0;
  const lo = v >>> 0;
  out[at] = hi >>> 24;
  out[at + 1] = (hi >>> 16) & 0xff;
  out[at + 2] = (hi >>> 8) & 0xff;
  out[at + 3] = hi & 0xff;
  out[at + 4] = lo >>> 24;
  out[at + 5] = (lo >>> 16) & 0xff;
  out[at + 6] = (lo >>> 8) & 0xff;
  out[at + 7] = lo & 0xff;
}

function getU64(b: Uint8Array, at: number): number {
  const hi = ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
  const lo = ((b[at + 4] << 24) | (b[at + 5] << 16) | (b[at + 6] << 8) | b[at + 7]) >>> 0;
  const v = hi * 4294967296 + lo;
  if (!Number.isSafeInteger(v)) throw new RangeError(`revision ${v} is beyond 2^53-1`);
  return v;
}

/** Encodes a revision as the 17-byte (or 18-byte tombstone) bucket key. */
export function revToBytes(main: number, sub: number, tombstone = false): Uint8Array {
  const out = new Uint8Array(tombstone ? 18 : 17);
  putU64(out, 0, main);
  out[8] = 0x5f; // '_'
  putU64(out, 9, sub);
  if (tombstone) out[17] = TOMBSTONE_MARK;
  return out;
}

const SCRATCH = new Uint8Array(17);
SCRATCH[8] = 0x5f;

/**
 * Encodes a (non-tombstone) revision into a shared buffer, for lookups that do not keep the
 * key (a backend get): valid until the next call.
 */
export function revToScratch(main: number, sub: number): Uint8Array {
  putU64(SCRATCH, 0, main);
  putU64(SCRATCH, 9, sub);
  return SCRATCH;
}

/** Writes the 17 revision bytes at the start of `out`. */
export function writeRev(out: Uint8Array, main: number, sub: number): void {
  putU64(out, 0, main);
  out[8] = 0x5f;
  putU64(out, 9, sub);
}

/** Encodes only the main revision (8 bytes): the bound etcd's compaction scans up to. */
export function mainRevBytes(main: number): Uint8Array {
  const out = new Uint8Array(8);
  putU64(out, 0, main);
  return out;
}

/** Decodes a bucket key into its revision; throws on a key that is not a revision. */
export function bytesToRev(b: Uint8Array): Rev {
  if ((b.length !== 17 && b.length !== 18) || b[8] !== 0x5f) {
    throw new RangeError(`mvcc: malformed revision key of ${b.length} bytes`);
  }
  return { main: getU64(b, 0), sub: getU64(b, 9) };
}

/** The main revision of a bucket key (no allocation). */
export function bytesToMain(b: Uint8Array): number {
  return getU64(b, 0);
}

/** The sub revision of a bucket key (no allocation). */
export function bytesToSub(b: Uint8Array): number {
  return getU64(b, 9);
}

/** True when a bucket key is a tombstone (a deletion). */
export function isTombstone(b: Uint8Array): boolean {
  return b.length === 18 && b[17] === TOMBSTONE_MARK;
}

/** Encodes a counter as 8 big-endian bytes (the meta bucket's consistent index and term). */
export function u64ToBytes(v: number): Uint8Array {
  const out = new Uint8Array(8);
  putU64(out, 0, v);
  return out;
}

/** Decodes 8 big-endian bytes into a safe counter. */
export function bytesToU64(b: Uint8Array): number {
  if (b.length !== 8) throw new RangeError(`expected 8 bytes, got ${b.length}`);
  return getU64(b, 0);
}
