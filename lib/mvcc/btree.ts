/**
 * An ordered map from one-byte-string keys to values: a B+tree with fat leaves chained for
 * range scans. The key index keeps every key of the store in one of these, so its per-entry
 * cost is two array slots (key, value) instead of an object per key. Deletions never merge
 * nodes; `compactIfSparse` rebuilds the tree when most slots went empty (after a compaction
 * removed many keys), which keeps memory proportional to the live keys.
 */

const LEAF_MAX = 64;
const INNER_MAX = 64;

class Leaf<V> {
  keys: string[] = [];
  vals: V[] = [];
  next: Leaf<V> | null = null;
}

class Inner<V> {
  /** keys[i] is the smallest key under children[i + 1]. */
  keys: string[] = [];
  children: Node<V>[] = [];
}

type Node<V> = Leaf<V> | Inner<V>;

/** Index of the first element >= k in a sorted string array. */
function lowerBound(a: string[], k: string): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the child of an inner node that may hold `k`. */
function childIndex(keys: string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] <= k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The ordered map. */
export class BTree<V> {
  #root: Node<V> = new Leaf<V>();
  #size = 0;
  #leaves = 1;

  /** Number of keys. */
  get size(): number {
    return this.#size;
  }

  #leafFor(k: string): Leaf<V> {
    let n = this.#root;
    while (n instanceof Inner) n = n.children[childIndex(n.keys, k)];
    return n;
  }

  /** The value of `k`, or undefined. */
  get(k: string): V | undefined {
    const leaf = this.#leafFor(k);
    const i = lowerBound(leaf.keys, k);
    return i < leaf.keys.length && leaf.keys[i] === k ? leaf.vals[i] : undefined;
  }

  /** Inserts or replaces the value of `k`. */
  set(k: string, v: V): void {
    const split = this.#insert(this.#root, k, v);
    if (split) {
      const root = new Inner<V>();
      root.keys.push(split[0]);
      root.children.push(this.#root, split[1]);
      this.#root = root;
    }
  }

  #insert(n: Node<V>, k: string, v: V): [string, Node<V>] | undefined {
    if (n instanceof Leaf) {
      const i = lowerBound(n.keys, k);
      if (i < n.keys.length && n.keys[i] === k) {
        n.vals[i] = v;
        return undefined;
      }
      if (i === n.keys.length) {
        n.keys.push(k);
        n.vals.push(v);
      } else {
        n.keys.splice(i, 0, k);
        n.vals.splice(i, 0, v);
      }
      this.#size++;
      if (n.keys.length <= LEAF_MAX) return undefined;
      // Appending in key order (the common case) splits unevenly to keep leaves full.
      const at = i === n.keys.length - 1 ? n.keys.length - 1 : n.keys.length >>> 1;
      const right = new Leaf<V>();
      right.keys = n.keys.splice(at);
      right.vals = n.vals.splice(at);
      right.next = n.next;
      n.next = right;
      this.#leaves++;
      return [right.keys[0], right];
    }
    const ci = childIndex(n.keys, k);
    const split = this.#insert(n.children[ci], k, v);
    if (!split) return undefined;
    n.keys.splice(ci, 0, split[0]);
    n.children.splice(ci + 1, 0, split[1]);
    if (n.children.length <= INNER_MAX) return undefined;
    const at = ci === n.keys.length - 1 ? n.children.length - 1 : n.children.length >>> 1;
    const right = new Inner<V>();
    const sep = n.keys[at - 1];
    right.keys = n.keys.splice(at);
    n.keys.length = at - 1;
    right.children = n.children.splice(at);
    return [sep, right];
  }

  /** Removes `k`; returns whether it was present. */
  delete(k: string): boolean {
    const leaf = this.#leafFor(k);
    const i = lowerBound(leaf.keys, k);
    if (i >= leaf.keys.length || leaf.keys[i] !== k) return false;
    leaf.keys.splice(i, 1);
    leaf.vals.splice(i, 1);
    this.#size--;
    return true;
  }

  /**
   * Calls `fn` for each key >= `from` in order, while `fn` returns true and the key is below
   * `end` ("" = no end). Empty leaves left by deletions are skipped.
   */
  ascend(from: string, end: string, fn: (k: string, v: V) => boolean): void {
    let leaf: Leaf<V> | null = this.#leafFor(from);
    let i = lowerBound(leaf.keys, from);
    while (leaf) {
      const keys = leaf.keys;
      for (; i < keys.length; i++) {
        const k = keys[i];
        if (end !== "" && k >= end) return;
        if (!fn(k, leaf.vals[i])) return;
      }
      leaf = leaf.next;
      i = 0;
    }
  }

  /** Replaces the value at the key currently visited by `ascend` (no structural change). */
  setExisting(k: string, v: V): void {
    const leaf = this.#leafFor(k);
    const i = lowerBound(leaf.keys, k);
    if (i < leaf.keys.length && leaf.keys[i] === k) leaf.vals[i] = v;
  }

  /** Rebuilds the tree densely when fewer than a quarter of its leaf slots are in use. */
  compactIfSparse(): void {
    if (this.#size >= (this.#leaves * LEAF_MAX) / 4) return;
    const keys: string[] = [];
    const vals: V[] = [];
    this.ascend("", "", (k, v) => {
      keys.push(k);
      vals.push(v);
      return true;
    });
    this.#root = new Leaf<V>();
    this.#size = 0;
    this.#leaves = 1;
    for (let i = 0; i < keys.length; i++) this.set(keys[i], vals[i]);
  }
}
