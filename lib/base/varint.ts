/**
 * Protobuf varints for the hand-written codecs on hot paths (raft entries, watch and put
 * answers), byte for byte as protobuf-es writes them: a number is a non-negative safe integer
 * or a negative int64 (ten bytes, two's complement); a bigint is any 64-bit value, written
 * as its two's complement image.
 */

const U64_MASK = (1n << 64n) - 1n;
const TWO_32 = 2 ** 32;

/** Bytes of `v` as an int64 varint (a negative one takes 10). */
export function varintSize(v: number): number {
  if (v < 0) return 10;
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes `v` as an int64 varint at `at`; returns the next position. */
export function writeVarint(out: Uint8Array, at: number, v: number): number {
  if (v < 0) return writeVarint64(out, at, BigInt(v));
  while (v >= 0x80) {
    out[at++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  return at;
}

/** Bytes of a 64-bit value as a varint. */
export function varint64Size(v: bigint): number {
  let bits = v < 0n ? v & U64_MASK : v;
  let size = 1;
  while (bits >= 0x80n) {
    bits >>= 7n;
    size++;
  }
  return size;
}

/** Writes a 64-bit value as a varint at `at`; returns the next position. */
export function writeVarint64(out: Uint8Array, at: number, v: bigint): number {
  const bits = v < 0n ? v & U64_MASK : v;
  if (bits < 0x80n) {
    out[at++] = Number(bits);
    return at;
  }
  // as protobuf's varint64write: the low 32 bits and the high 32 bits as numbers
  let lo = Number(bits & 0xffffffffn);
  let hi = Number(bits >> 32n);
  while (hi > 0 || lo >= 0x80) {
    out[at++] = (lo & 0x7f) | 0x80;
    lo = (lo >>> 7) + (hi & 0x7f) * (TWO_32 / 128);
    hi = hi >>> 7;
  }
  out[at++] = lo;
  return at;
}
