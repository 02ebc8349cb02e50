/**
 * A set of watchers indexed for "who watches this key?" (etcd's watcherGroup). Single-key
 * watchers are found by one map lookup; prefix watchers (the usual range watch) by one map
 * lookup per distinct prefix length in use; only other ranges are scanned one by one.
 */

import type { KeySpan } from "./key_bytes.ts";

/** What the group needs of a watcher. */
export interface Watching {
  readonly span: KeySpan;
  /** The prefix when the span is exactly "every key starting with it", else undefined. */
  readonly prefix: string | undefined;
}

/** The prefix a span selects, if it is a prefix span (its end is the prefix's successor). */
export function prefixOfSpan(span: KeySpan): string | undefined {
  if (span.end === undefined || span.end === "") return undefined;
  let i = span.key.length - 1;
  while (i >= 0 && span.key.charCodeAt(i) === 0xff) i--;
  if (i < 0) return undefined;
  const succ = span.key.slice(0, i) + String.fromCharCode(span.key.charCodeAt(i) + 1);
  return succ === span.end ? span.key : undefined;
}

/** The watcher set. */
export class WatcherGroup<W extends Watching> {
  readonly all = new Set<W>();
  readonly #single = new Map<string, Set<W>>();
  readonly #prefix = new Map<string, Set<W>>();
  /** Prefix lengths in use -> number of prefixes of that length. */
  readonly #prefixLens = new Map<number, number>();
  #lens: number[] = [];
  readonly #ranges = new Set<W>();

  get size(): number {
    return this.all.size;
  }

  has(w: W): boolean {
    return this.all.has(w);
  }

  add(w: W): void {
    if (this.all.has(w)) return;
    this.all.add(w);
    if (w.span.end === undefined) {
      addTo(this.#single, w.span.key, w);
    } else if (w.prefix !== undefined) {
      if (addTo(this.#prefix, w.prefix, w)) {
        const n = w.prefix.length;
        this.#prefixLens.set(n, (this.#prefixLens.get(n) ?? 0) + 1);
        this.#lens = [...this.#prefixLens.keys()].sort((a, b) => a - b);
      }
    } else {
      this.#ranges.add(w);
    }
  }

  delete(w: W): boolean {
    if (!this.all.delete(w)) return false;
    if (w.span.end === undefined) {
      removeFrom(this.#single, w.span.key, w);
    } else if (w.prefix !== undefined) {
      if (removeFrom(this.#prefix, w.prefix, w)) {
        const n = w.prefix.length;
        const c = (this.#prefixLens.get(n) ?? 1) - 1;
        if (c === 0) this.#prefixLens.delete(n);
        else this.#prefixLens.set(n, c);
        this.#lens = [...this.#prefixLens.keys()].sort((a, b) => a - b);
      }
    } else {
      this.#ranges.delete(w);
    }
    return true;
  }

  /** Calls `fn` for every watcher whose span holds key `k`. */
  forKey(k: string, fn: (w: W) => void): void {
    const s = this.#single.get(k);
    if (s) { for (const w of s) fn(w); }
    for (const n of this.#lens) {
      if (n > k.length) break;
      const p = this.#prefix.get(n === k.length ? k : k.slice(0, n));
      if (p) { for (const w of p) fn(w); }
    }
    for (const w of this.#ranges) {
      if (k >= w.span.key && (w.span.end === "" || k < w.span.end!)) fn(w);
    }
  }

  /** True when some watcher's span holds `k`. */
  contains(k: string): boolean {
    let found = false;
    this.forKey(k, () => {
      found = true;
    });
    return found;
  }
}

function addTo<W>(m: Map<string, Set<W>>, k: string, w: W): boolean {
  let s = m.get(k);
  const fresh = s === undefined;
  if (!s) {
    s = new Set();
    m.set(k, s);
  }
  s.add(w);
  return fresh;
}

function removeFrom<W>(m: Map<string, Set<W>>, k: string, w: W): boolean {
  const s = m.get(k);
  if (!s) return false;
  s.delete(w);
  if (s.size === 0) {
    m.delete(k);
    return true;
  }
  return false;
}
