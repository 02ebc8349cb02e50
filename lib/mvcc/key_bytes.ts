/**
 * Keys as one-byte strings. The key index holds every live key in memory, and a V8 one-byte
 * string costs a fraction of a Uint8Array (no ArrayBuffer, no backing store), while `<` on
 * two such strings compares them bytewise, exactly etcd's key order. Conversions happen at
 * the edges of the store: in on every request, out on every result.
 */

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

/** Bytewise comparison of two byte arrays (-1, 0, 1). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** True when two byte arrays hold the same bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The range end that selects every key with `prefix` (etcd's GetPrefixRangeEnd): the prefix
 * with trailing 0xff bytes dropped and the last byte incremented; "\0" (all keys) when the
 * prefix is empty or all 0xff.
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i]++;
      return end;
    }
  }
  return new Uint8Array([0]);
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
