/**
 * Protobuf varints for the hand-written codecs on hot paths (raft entries, watch and put
 * answers) and in the stored records (mvccpb.KeyValue, leasepb.Lease), byte for byte as
 * protobuf-es writes them: a number is a non-negative safe integer or a negative int64 (ten
 * bytes, two's complement); a bigint is any 64-bit value, written as its two's complement
 * image. One copy, so a codec's bytes on disk never depend on which copy it carried.
 */

const U64_MASK = (1n << 64n) - 1n;
const TWO_32 = 2 ** 32;
const MAX_SAFE = 0x1fffffffffffffn;

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
  if (v < 0x80000000) {
    // below 2^31 the shifts are exact and cheaper than division (revisions, lengths)
    while (v >= 0x80) {
      out[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    out[at++] = v;
    return at;
  }
  while (v >= 0x80) {
    out[at++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  return at;
}

/** Bytes of a 64-bit value as a varint. */
export function varint64Size(v: bigint): number {
  if (v >= 0n && v <= MAX_SAFE) return varintSize(Number(v));
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
  if (v >= 0n && v <= MAX_SAFE) return writeVarint(out, at, Number(v));
  const bits = v < 0n ? v & U64_MASK : v;
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

/**
 * Reads the varints and length-delimited fields of one protobuf record. Input that ends
 * inside a varint or a field, or a varint longer than ten bytes, throws a RangeError naming
 * `what` (the record): a stored record is never read past its end or half-decoded.
 */
export class VarintReader {
  /** The position of the next byte to read. */
  at = 0;
  constructor(readonly b: Uint8Array, readonly what: string) {}

  /** A varint as a number (exact below 2^53; callers check the range they allow). */
  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.at >= this.b.length) this.#fail("truncated varint");
      const c = this.b[this.at++];
      v += (c & 0x7f) * mul;
      if (c < 0x80) return v;
      mul *= 128;
    }
    this.#fail("varint too long");
  }

  /** A varint as an int64 (two's complement of its 64 bits). */
  varint64(): bigint {
    let v = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.at >= this.b.length) this.#fail("truncated varint");
      const c = this.b[this.at++];
      v |= BigInt(c & 0x7f) << shift;
      if (c < 0x80) return BigInt.asIntN(64, v);
      shift += 7n;
    }
    this.#fail("varint too long");
  }

  /** A length-delimited field's bytes, as a view into the input. */
  bytes(): Uint8Array {
    const n = this.varint();
    if (this.at + n > this.b.length) this.#fail("truncated field");
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** Skips a field's value of wire type `wire` (a newer writer's field). */
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 2) this.bytes();
    else if (wire === 1) this.at += 8;
    else if (wire === 5) this.at += 4;
    else this.#fail(`unsupported wire type ${wire}`);
    if (this.at > this.b.length) this.#fail("truncated field");
  }

  #fail(why: string): never {
    throw new RangeError(`${this.what}: ${why}`);
  }
}
