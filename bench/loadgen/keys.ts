/**
 * Key generation as etcd's benchmark does it: a `keySize`-byte key whose first bytes are the
 * zig-zag varint of the key's number (Go's binary.PutVarint), the rest zero. The number is
 * `i % keySpaceSize` for sequential keys, else uniform in [0, keySpaceSize).
 */
import type { Rand } from "../../lib/base/rand.ts";

/** Writes Go's binary.PutVarint(n) (zig-zag, then base-128) into `out`; returns bytes written. */
export function putVarint(out: Uint8Array, n: number): number {
  if (!Number.isSafeInteger(n)) throw new RangeError(`putVarint: ${n} is not a safe integer`);
  // Zig-zag with bigint so large values stay exact.
  let ux = BigInt(n) << 1n;
  if (n < 0) ux = ~ux;
  let i = 0;
  while (ux >= 0x80n) {
    if (i >= out.length) throw new RangeError("putVarint: key too small for the varint");
    out[i++] = Number(ux & 0x7fn) | 0x80;
    ux >>= 7n;
  }
  if (i >= out.length) throw new RangeError("putVarint: key too small for the varint");
  out[i++] = Number(ux);
  return i;
}

/** The key numbered `n`, `keySize` bytes long. */
export function keyFor(n: number, keySize: number): Uint8Array {
  const k = new Uint8Array(keySize);
  putVarint(k, n);
  return k;
}

/** Produces the key of each request index for a run. */
export interface KeyGen {
  /** The key for request number `i` (0-based). */
  next(i: number): Uint8Array;
}

/** Options of the key generator, as etcd's flags name them. */
export interface KeyOptions {
  keySize: number;
  keySpaceSize: number;
  sequential: boolean;
}

/** A key generator for `opts`; random keys draw from `rand`. */
export function keyGen(opts: KeyOptions, rand: Rand): KeyGen {
  if (!(opts.keySpaceSize >= 1)) throw new RangeError("--key-space-size must be at least 1");
  if (!(opts.keySize >= 1)) throw new RangeError("--key-size must be at least 1");
  return {
    next: (i) =>
      keyFor(opts.sequential ? i % opts.keySpaceSize : rand.int(opts.keySpaceSize), opts.keySize),
  };
}

/**
 * Writes the key numbered `n` (0 <= n < 2^52) into out[at, at + keySize) in place: what
 * `keyFor(n, keySize)` returns, without allocating (the hot put loop reuses one request buffer).
 */
export function fillKey(out: Uint8Array, at: number, keySize: number, n: number): void {
  if (!(n >= 0 && n < 2 ** 52)) throw new RangeError(`fillKey: ${n} out of range`);
  let v = n * 2; // zig-zag of a non-negative number
  let i = 0;
  while (v >= 0x80) {
    if (i >= keySize) throw new RangeError("fillKey: key too small for the varint");
    out[at + i++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  if (i >= keySize) throw new RangeError("fillKey: key too small for the varint");
  out[at + i++] = v;
  out.fill(0, at + i, at + keySize);
}
