/**
 * The merged permission sets the per-request permission check runs against. A user's
 * read (or write) permissions from all their roles are unioned into sorted, disjoint,
 * half-open key intervals, so a check is one binary search: O(log n) byte comparisons for n
 * merged intervals, independent of the number of roles (etcd rebuilds interval trees for the
 * same purpose). A request range is permitted only when one merged interval covers all of it.
 */
import { compareBytes as compareKeys, prefixEnd } from "../base/bytes.ts";

/** Re-exported for the callers that know them from here (keys compare bytewise). */
export { compareKeys, prefixEnd };

/** A half-open key interval; `end` null means "through the last key". */
export interface KeyInterval {
  begin: Uint8Array;
  end: Uint8Array | null;
}

/**
 * The keys `[key, rangeEnd)` denotes in etcd's API: an empty `rangeEnd` is the one key `key`
 * (`[key, key + "\0")`), `"\0"` is every key from `key` on. A `rangeEnd` at or before `key`
 * is empty; undefined is returned for it.
 */
export function keyInterval(key: Uint8Array, rangeEnd: Uint8Array): KeyInterval | undefined {
  if (rangeEnd.length === 0) {
    const end = new Uint8Array(key.length + 1);
    end.set(key);
    return { begin: key, end };
  }
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { begin: key, end: null };
  if (compareKeys(rangeEnd, key) <= 0) return undefined;
  return { begin: key, end: rangeEnd };
}

/** A set of keys as sorted, disjoint, non-adjacent intervals. */
export class KeyRangeSet {
  readonly #begins: Uint8Array[];
  readonly #ends: (Uint8Array | null)[];

  private constructor(begins: Uint8Array[], ends: (Uint8Array | null)[]) {
    this.#begins = begins;
    this.#ends = ends;
  }

  /** The union of `intervals` (any order, overlapping or not). */
  static union(intervals: readonly KeyInterval[]): KeyRangeSet {
    const sorted = [...intervals].sort((a, b) => compareKeys(a.begin, b.begin));
    const begins: Uint8Array[] = [];
    const ends: (Uint8Array | null)[] = [];
    for (const iv of sorted) {
      const last = ends.length - 1;
      if (last >= 0) {
        const end = ends[last];
        if (end === null) break; // the last interval already runs to the end of the key space
        if (compareKeys(iv.begin, end) <= 0) {
          if (iv.end === null || compareKeys(iv.end, end) > 0) ends[last] = iv.end;
          continue;
        }
      }
      begins.push(iv.begin);
      ends.push(iv.end);
    }
    return new KeyRangeSet(begins, ends);
  }

  /** Number of merged intervals. */
  get size(): number {
    return this.#begins.length;
  }

  /** The merged intervals, in order. */
  intervals(): KeyInterval[] {
    return this.#begins.map((begin, i) => ({ begin, end: this.#ends[i] }));
  }

  /** Index of the last interval beginning at or before `key`, or -1. */
  #floor(key: Uint8Array): number {
    let lo = 0;
    let hi = this.#begins.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (compareKeys(this.#begins[mid], key) <= 0) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** True when `key` is in the set. */
  hasKey(key: Uint8Array): boolean {
    const i = this.#floor(key);
    if (i < 0) return false;
    const end = this.#ends[i];
    return end === null || compareKeys(key, end) < 0;
  }

  /** True when every key of `[begin, end)` is in the set (end null: through the last key). */
  covers(begin: Uint8Array, end: Uint8Array | null): boolean {
    const i = this.#floor(begin);
    if (i < 0) return false;
    const have = this.#ends[i];
    if (have === null) return true;
    return end !== null && compareKeys(end, have) <= 0;
  }
}
