/**
 * A small, fast, seeded pseudo-random source (xoshiro128**), so that every randomized
 * decision in Concord (raft election timeouts, simulated faults, randomized tests) replays
 * exactly from its seed. Nothing in lib/ calls Math.random().
 */
export class Rand {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  /** The seed this source was created from, printed by randomized tests for replay. */
  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    // splitmix32 expands the seed into the four state words; state must not be all zero.
    let s = this.seed;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next() | 1;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0;
    const t = this.#b << 9;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = rotl(this.#d, 11);
    return result;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.nextU32() / 4294967296;
  }

  /** An integer in [0, n), for n up to 2^32. */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** n random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.nextU32() & 0xff;
    return out;
  }

  /** A random 64-bit unsigned integer (for ids). */
  u64(): bigint {
    return (BigInt(this.nextU32()) << 32n) | BigInt(this.nextU32());
  }

  /** Shuffles an array in place and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * The seed for a randomized test: the SEED environment variable when set (to replay a
 * failure), otherwise a fresh one. Tests print it with their name so any failure replays.
 */
export function testSeed(): number {
  const fromEnv = Deno.env.get("SEED");
  if (fromEnv !== undefined && fromEnv !== "") return Number(fromEnv) >>> 0;
  return crypto.getRandomValues(new Uint32Array(1))[0];
}
