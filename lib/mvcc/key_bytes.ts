/**
 * Keys as one-byte strings. The key index holds every live key in memory, and a V8 one-byte
 * string costs a fraction of a Uint8Array (no ArrayBuffer, no backing store), while `<` on
 * two such strings compares them bytewise, exactly etcd's key order. Conversions happen at
 * the edges of the store: in on every request, out on every result.
 */
import { compareBytes, equalBytes, prefixEnd } from "../base/bytes.ts";

/** Re-exported for the callers that know them from here. */
export { compareBytes, equalBytes, prefixEnd };

const CHUNK = 8192;

/** Maps bytes to the string with one char (0..255) per byte. */
export function bytesToKey(b: Uint8Array): string {
  if (b.length <= CHUNK) {
    return String.fromCharCode.apply(null, b as unknown as number[]);
  }
  let s = "";
  for (let i = 0; i < b.length; i += CHUNK) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return s;
}

/** Maps a one-byte string back to its bytes. */
export function keyToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * How a request's (key, range_end) selects keys, with etcd's conventions: no range_end is a
 * single key; range_end "\0" is every key >= key; otherwise [key, range_end).
 * `end` is the exclusive upper bound as a one-byte string, "" meaning unbounded.
 */
export interface KeySpan {
  key: string;
  /** undefined: the single key `key`. "": no upper bound. Otherwise the exclusive end. */
  end: string | undefined;
}

/** Builds the span of a request's key and optional range_end. */
export function spanOf(key: Uint8Array, rangeEnd?: Uint8Array): KeySpan {
  const k = bytesToKey(key);
  if (rangeEnd === undefined || rangeEnd.length === 0) return { key: k, end: undefined };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { key: k, end: "" };
  return { key: k, end: bytesToKey(rangeEnd) };
}

/** True when the one-byte string key `k` is in `span`. */
export function spanHas(span: KeySpan, k: string): boolean {
  if (span.end === undefined) return k === span.key;
  return k >= span.key && (span.end === "" || k < span.end);
}
