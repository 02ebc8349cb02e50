/**
 * bcrypt password verification (Provos and Mazières, "A Future-Adaptable Password Scheme",
 * USENIX 1999; OpenBSD's `$2a$`/`$2b$`/`$2y$` encodings), so users brought over from etcd,
 * which stores `bcrypt.GenerateFromPassword` hashes (cost 10), log in with their passwords.
 *
 * A hash is `$2a$NN$` + 22 characters of salt + 31 of hash, in bcrypt's base64 alphabet
 * (`./A-Za-z0-9`, no padding). EksBlowfishSetup(cost, salt, key) expands the key (the password
 * bytes and a NUL, cycled; only the first 72 bytes ever count) with the salt, then 2^cost
 * rounds of expanding with the key alone and the salt alone; "OrpheanBeholderScryDoubt"
 * encrypted 64 times in ECB mode gives 24 bytes, of which 23 are encoded.
 *
 * Blowfish's initial P-array and S-boxes are the hexadecimal digits of π's fraction (Schneier,
 * 1993); they are computed here from π once, on first use, instead of carried as a table.
 */

import { setImmediate } from "node:timers";

const ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const INDEX = new Map([...ALPHABET].map((c, i) => [c, i]));
const encoder = new TextEncoder();

/** Parsed `$2x$NN$salthash`. */
export interface BcryptHash {
  minor: string;
  cost: number;
  salt: Uint8Array;
  hash: Uint8Array;
}

/** True when `encoded` looks like a bcrypt hash (then parseBcrypt decides if it is valid). */
export function isBcrypt(encoded: string): boolean {
  return /^\$2[aby]?\$/.test(encoded);
}

function decode64(text: string, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (const c of text) {
    const v = INDEX.get(c);
    if (v === undefined) throw new Error(`bcrypt hash: bad character ${JSON.stringify(c)}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n < bytes) out[n++] = (acc >>> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  if (n !== bytes) throw new Error("bcrypt hash: short salt or hash");
  return out;
}

/** bcrypt's base64 of `data` (no padding). */
export function encode64(data: Uint8Array): string {
  let s = "";
  let acc = 0;
  let bits = 0;
  for (const b of data) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      s += ALPHABET[(acc >>> bits) & 63];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) s += ALPHABET[(acc << (6 - bits)) & 63];
  return s;
}

/** Parses a bcrypt hash; throws on anything else. */
export function parseBcrypt(encoded: string): BcryptHash {
  const m = /^\$2([aby]?)\$([0-9]{2})\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/.exec(encoded);
  if (m === null) throw new Error("bcrypt hash: malformed");
  const cost = Number(m[2]);
  if (cost < 4 || cost > 31) throw new Error(`bcrypt hash: cost ${cost} out of range 4..31`);
  return { minor: m[1], cost, salt: decode64(m[3], 16), hash: decode64(m[4], 23) };
}

/** The 18 + 4×256 words of π's hexadecimal fraction, computed once. */
let PI_WORDS: Uint32Array | undefined;

function atanInv(x: bigint, one: bigint): bigint {
  // arctan(1/x) = Σ (-1)^k / ((2k+1) x^(2k+1)), in fixed point
  let term = one / x;
  const x2 = x * x;
  let sum = term;
  for (let k = 1n; term !== 0n; k++) {
    term /= x2;
    const t = term / (2n * k + 1n);
    sum += k % 2n === 1n ? -t : t;
  }
  return sum;
}

function piWords(): Uint32Array {
  if (PI_WORDS !== undefined) return PI_WORDS;
  const words = 18 + 4 * 256;
  const guard = 64n;
  const bits = BigInt(words * 32) + guard;
  const one = 1n << bits;
  // Machin: π = 16 arctan(1/5) − 4 arctan(1/239)
  const pi = 16n * atanInv(5n, one) - 4n * atanInv(239n, one);
  let frac = (pi - 3n * one) >> guard; // the fraction's first words*32 bits
  const out = new Uint32Array(words);
  for (let i = words - 1; i >= 0; i--) {
    out[i] = Number(frac & 0xffffffffn);
    frac >>= 32n;
  }
  PI_WORDS = out;
  return out;
}

/** Blowfish's state, with the block being encrypted in `l`, `r`. */
class Blowfish {
  readonly p: Int32Array;
  readonly s: Int32Array;
  l = 0;
  r = 0;
  constructor() {
    const w = piWords();
    this.p = new Int32Array(w.slice(0, 18).buffer);
    this.s = new Int32Array(w.slice(18).buffer);
  }

  /** Encrypts the block (l, r) in place: 16 Feistel rounds. */
  encrypt(): void {
    const p = this.p;
    const s = this.s;
    let l = this.l ^ p[0];
    let r = this.r;
    for (let n = 1; n <= 16; n += 2) {
      r ^= (((s[l >>> 24] + s[256 | ((l >>> 16) & 0xff)]) ^ s[512 | ((l >>> 8) & 0xff)]) +
        s[768 | (l & 0xff)]) ^ p[n];
      l ^= (((s[r >>> 24] + s[256 | ((r >>> 16) & 0xff)]) ^ s[512 | ((r >>> 8) & 0xff)]) +
        s[768 | (r & 0xff)]) ^ p[n + 1];
    }
    this.l = r ^ p[17];
    this.r = l;
  }

  /**
   * Blowfish's key expansion (`words`: the key as 18 big-endian words, cycled), mixed with
   * the salt's words when given (bcrypt's ExpandKey; 4 words, cycled).
   */
  expand(words: Int32Array, salt: Int32Array | undefined): void {
    const p = this.p;
    const s = this.s;
    for (let i = 0; i < 18; i++) p[i] ^= words[i];
    this.l = 0;
    this.r = 0;
    let sp = 0;
    for (let i = 0; i < 18; i += 2) {
      if (salt !== undefined) {
        this.l ^= salt[sp];
        this.r ^= salt[sp + 1];
        sp ^= 2;
      }
      this.encrypt();
      p[i] = this.l;
      p[i + 1] = this.r;
    }
    for (let i = 0; i < 1024; i += 2) {
      if (salt !== undefined) {
        this.l ^= salt[sp];
        this.r ^= salt[sp + 1];
        sp ^= 2;
      }
      this.encrypt();
      s[i] = this.l;
      s[i + 1] = this.r;
    }
  }
}

/** `bytes` cycled into `n` big-endian 32-bit words (how Blowfish consumes a key). */
function cycledWords(bytes: Uint8Array, n: number): Int32Array {
  const out = new Int32Array(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    let w = 0;
    for (let j = 0; j < 4; j++) {
      w = (w << 8) | bytes[at];
      at = (at + 1) % bytes.length;
    }
    out[i] = w;
  }
  return out;
}

/** Expensive-key-schedule rounds done between two yields to the event loop (about 5 ms). */
const ROUNDS_PER_SLICE = 16;

/**
 * The 23 hash bytes bcrypt derives from `password` with `salt` at `cost`. The 2^cost rounds
 * run in slices with a yield to the event loop between them, so a login (about 0.2 s at
 * etcd's cost 10) never stalls the server's other requests.
 */
export async function bcryptRaw(
  password: Uint8Array,
  salt: Uint8Array,
  cost: number,
): Promise<Uint8Array> {
  // the key: the password and its NUL terminator; only the first 72 bytes ever count
  const full = new Uint8Array(password.length + 1);
  full.set(password);
  const key = cycledWords(full.subarray(0, Math.min(full.length, 72)), 18);
  const saltWords = cycledWords(salt, 4);
  const saltKey = cycledWords(salt, 18);
  const bf = new Blowfish();
  bf.expand(key, saltWords);
  for (let i = 2 ** cost; i > 0; i--) {
    bf.expand(key, undefined);
    bf.expand(saltKey, undefined);
    if (i % ROUNDS_PER_SLICE === 0) await new Promise((r) => setImmediate(r));
  }
  const text = cycledWords(encoder.encode("OrpheanBeholderScryDoubt"), 6);
  for (let i = 0; i < 6; i += 2) {
    bf.l = text[i];
    bf.r = text[i + 1];
    for (let n = 0; n < 64; n++) bf.encrypt();
    text[i] = bf.l;
    text[i + 1] = bf.r;
  }
  const out = new Uint8Array(24);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < 6; i++) dv.setInt32(4 * i, text[i]);
  return out.subarray(0, 23);
}

/** True when `password` matches bcrypt hash `encoded` (compared in constant time). */
export async function bcryptVerify(password: string, encoded: string): Promise<boolean> {
  const h = parseBcrypt(encoded);
  const got = await bcryptRaw(encoder.encode(password), h.salt, h.cost);
  let diff = 0;
  for (let i = 0; i < 23; i++) diff |= got[i] ^ h.hash[i];
  return diff === 0;
}
