/**
 * Password hashing for the auth store: PBKDF2-HMAC-SHA256 through WebCrypto, salted, with a
 * high iteration count, stored as a PHC string that records the algorithm and its parameters
 * with each hash (`$pbkdf2-sha256$i=600000$<salt>$<hash>`, unpadded standard base64), so the
 * count or the algorithm can change later while old hashes still verify.
 *
 * Hashing is slow on purpose (about 70 ms at 600,000 iterations on a 2-core machine, close to
 * etcd's bcrypt at cost 10). The server hashes a new password once, before proposing the
 * change, so every member stores the same salt and hash; the store only verifies.
 *
 * bcrypt hashes (`$2a$…`, what etcd stores, and what etcd 3.5 clients send as
 * `hashedPassword`) are verified too (bcrypt.ts), so users restored from an etcd snapshot keep
 * their passwords; new passwords are still hashed with PBKDF2.
 */
import { bcryptVerify, isBcrypt, parseBcrypt } from "./bcrypt.ts";

/** The PHC identifier of the algorithm. */
export const PBKDF2_SHA256 = "pbkdf2-sha256";

/** OWASP's recommended iteration count for PBKDF2-HMAC-SHA256 (2023). */
export const DEFAULT_PBKDF2_ITERATIONS = 600_000;

/** Iteration counts accepted when verifying; a stored hash outside is treated as corrupt. */
const MAX_ITERATIONS = 100_000_000;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

/** How to hash new passwords. */
export interface PasswordHashOptions {
  /** PBKDF2 iterations; default DEFAULT_PBKDF2_ITERATIONS. */
  iterations?: number;
  /** The salt; default 16 random bytes from the platform's CSPRNG. */
  salt?: Uint8Array;
}

const encoder = new TextEncoder();

function b64(data: Uint8Array): string {
  let s = "";
  for (const b of data) s += String.fromCharCode(b);
  return btoa(s).replace(/=+$/, "");
}

function unb64(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*$/.test(text)) throw new Error("password hash: bad base64");
  const padded = text + "=".repeat((4 - (text.length % 4)) % 4);
  const s = atob(padded);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

async function pbkdf2(
  password: string,
  salt: Uint8Array,
  iterations: number,
  bytes: number,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as Uint8Array<ArrayBuffer>, iterations },
    key,
    bytes * 8,
  );
  return new Uint8Array(bits);
}

/** Hashes `password` into a self-describing PHC string. */
export async function hashPassword(
  password: string,
  options: PasswordHashOptions = {},
): Promise<string> {
  const iterations = options.iterations ?? DEFAULT_PBKDF2_ITERATIONS;
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new RangeError(`PBKDF2 iterations ${iterations} out of range 1..${MAX_ITERATIONS}`);
  }
  const salt = options.salt ?? crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await pbkdf2(password, salt, iterations, HASH_BYTES);
  return `$${PBKDF2_SHA256}$i=${iterations}$${b64(salt)}$${b64(hash)}`;
}

/** The algorithm and parameters recorded in a stored hash. */
export interface ParsedHash {
  algorithm: string;
  iterations: number;
  salt: Uint8Array;
  hash: Uint8Array;
}

/** Parses a stored hash; throws on anything but a well-formed PBKDF2-SHA256 PHC string. */
export function parsePasswordHash(encoded: string): ParsedHash {
  const parts = encoded.split("$");
  if (parts.length !== 5 || parts[0] !== "") throw new Error("password hash: not a PHC string");
  if (parts[1] !== PBKDF2_SHA256) {
    throw new Error(`password hash: unsupported algorithm ${JSON.stringify(parts[1])}`);
  }
  const m = /^i=([1-9][0-9]{0,8})$/.exec(parts[2]);
  const iterations = m ? Number(m[1]) : NaN;
  if (!(iterations >= 1 && iterations <= MAX_ITERATIONS)) {
    throw new Error(`password hash: bad parameters ${JSON.stringify(parts[2])}`);
  }
  const salt = unb64(parts[3]);
  const hash = unb64(parts[4]);
  if (salt.length === 0 || hash.length === 0) throw new Error("password hash: empty salt or hash");
  if (salt.length > 64 || hash.length < 16 || hash.length > 64) {
    throw new Error("password hash: salt or hash length out of range");
  }
  return { algorithm: parts[1], iterations, salt, hash };
}

/**
 * Checks that `encoded` is a hash this module can verify (PBKDF2 PHC string or bcrypt);
 * throws saying why not.
 */
export function checkPasswordHash(encoded: string): void {
  if (isBcrypt(encoded)) parseBcrypt(encoded);
  else parsePasswordHash(encoded);
}

/** True when `password` matches the stored hash (compared in constant time). */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  if (isBcrypt(encoded)) return bcryptVerify(password, encoded);
  const parsed = parsePasswordHash(encoded);
  const got = await pbkdf2(password, parsed.salt, parsed.iterations, parsed.hash.length);
  let diff = 0;
  for (let i = 0; i < got.length; i++) diff |= got[i] ^ parsed.hash[i];
  return diff === 0;
}
