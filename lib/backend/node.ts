/**
 * A node: the in-memory, editable form of a branch or leaf page inside a write transaction.
 * A write materializes the nodes on its path from the root (their old pages become free at
 * commit); reads elsewhere go straight to the immutable page bytes. Keys and values of a
 * node materialized from a page are views into that page, so materializing copies nothing.
 *
 * A branch's keys[i] is a lower bound of every key under child i (for i > 0), and every key
 * under child i is below keys[i + 1]; keys[0] is only a hint. Leaves hold the real keys.
 */
import {
  BRANCH,
  compareBytes,
  ELEM_SIZE,
  elemChild,
  elemFlags,
  elemKey,
  elemValue,
  LEAF,
  PAGE_HEADER,
  pageCount,
  pageFlags,
  putU16,
  putU32,
  writeHeader,
} from "./page.ts";
import { CorruptionError } from "./errors.ts";

/** An editable branch or leaf. */
export class Node {
  leaf: boolean;
  /** The page this node was read from (0 for a new node). */
  pgid: number;
  keys: Uint8Array[];
  /** Leaf values. */
  vals: Uint8Array[];
  /** Leaf element flags (BUCKET_FLAG for nested buckets). */
  flags: number[];
  /** Branch child page ids. */
  children: number[];
  /** Branch children materialized in this transaction (undefined: use children[i]). */
  kids: (Node | undefined)[];

  constructor(leaf: boolean, pgid = 0) {
    this.leaf = leaf;
    this.pgid = pgid;
    this.keys = [];
    this.vals = [];
    this.flags = [];
    this.children = [];
    this.kids = [];
  }

  /** Materializes a branch or leaf page. */
  static fromPage(p: Uint8Array, id: number): Node {
    const type = pageFlags(p);
    if (type !== LEAF && type !== BRANCH) {
      throw new CorruptionError(
        id,
        `expected a branch or leaf page, found type 0x${type.toString(16)}`,
      );
    }
    const n = new Node(type === LEAF, id);
    const count = pageCount(p);
    const keys = new Array<Uint8Array>(count);
    if (n.leaf) {
      const vals = new Array<Uint8Array>(count);
      const flags = new Array<number>(count);
      for (let i = 0; i < count; i++) {
        keys[i] = elemKey(p, i);
        vals[i] = elemValue(p, i);
        flags[i] = elemFlags(p, i);
      }
      n.vals = vals;
      n.flags = flags;
    } else {
      const children = new Array<number>(count);
      for (let i = 0; i < count; i++) {
        keys[i] = elemKey(p, i);
        children[i] = elemChild(p, i);
      }
      n.children = children;
      n.kids = new Array<Node | undefined>(count);
    }
    n.keys = keys;
    return n;
  }

  /** Number of elements. */
  get count(): number {
    return this.keys.length;
  }

  /** Bytes of element i on a page (header, key, value). */
  elemBytes(i: number): number {
    return ELEM_SIZE + this.keys[i].length + (this.leaf ? this.vals[i].length : 0);
  }

  /** Bytes this node needs as a page (may exceed a page; the spill splits it). */
  size(): number {
    let s = PAGE_HEADER + ELEM_SIZE * this.keys.length;
    for (const k of this.keys) s += k.length;
    if (this.leaf) { for (const v of this.vals) s += v.length; }
    return s;
  }

  /** Leaf: index of the first key >= key. */
  lowerBound(key: Uint8Array): number {
    let lo = 0;
    let hi = this.keys.length;
    const keys = this.keys;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(keys[mid], key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Branch: index of the child whose range holds key. */
  branchIndex(key: Uint8Array): number {
    let lo = 0;
    let hi = this.keys.length;
    const keys = this.keys;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(keys[mid], key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : lo - 1;
  }

  /** Leaf: inserts or replaces key. */
  put(key: Uint8Array, value: Uint8Array, flags: number): void {
    const keys = this.keys;
    const n = keys.length;
    // Appends (sequential keys) are the common case: check the end first.
    if (n === 0 || compareBytes(keys[n - 1], key) < 0) {
      keys.push(key);
      this.vals.push(value);
      this.flags.push(flags);
      return;
    }
    const i = this.lowerBound(key);
    if (i < n && compareBytes(keys[i], key) === 0) {
      keys[i] = key;
      this.vals[i] = value;
      this.flags[i] = flags;
      return;
    }
    keys.splice(i, 0, key);
    this.vals.splice(i, 0, value);
    this.flags.splice(i, 0, flags);
  }

  /** Leaf: removes element i. */
  removeAt(i: number): void {
    this.keys.splice(i, 1);
    if (this.leaf) {
      this.vals.splice(i, 1);
      this.flags.splice(i, 1);
    } else {
      this.children.splice(i, 1);
      this.kids.splice(i, 1);
    }
  }

  /** Appends all of `right`'s elements (its keys all sort after this node's). */
  append(right: Node, separator: Uint8Array): void {
    if (this.leaf) {
      this.keys.push(...right.keys);
      this.vals.push(...right.vals);
      this.flags.push(...right.flags);
    } else {
      const first = this.keys.length;
      this.keys.push(...right.keys);
      this.children.push(...right.children);
      this.kids.push(...right.kids);
      // right.keys[0] is only a hint; the parent's separator is a true lower bound.
      if (right.keys.length > 0) this.keys[first] = separator;
    }
  }

  /**
   * Writes elements [from, to) of this node as page `id` into `p` (zeroed, at least the
   * needed size). Branch children must already be page ids.
   */
  writeRange(p: Uint8Array, id: number, overflow: number, from: number, to: number): void {
    const count = to - from;
    let data = PAGE_HEADER + count * ELEM_SIZE;
    const keys = this.keys;
    if (this.leaf) {
      const vals = this.vals;
      const flags = this.flags;
      for (let i = from, e = PAGE_HEADER; i < to; i++, e += ELEM_SIZE) {
        const k = keys[i];
        const v = vals[i];
        putU32(p, e, data);
        putU32(p, e + 4, v.length);
        putU16(p, e + 8, k.length);
        putU16(p, e + 10, flags[i]);
        p.set(k, data);
        data += k.length;
        p.set(v, data);
        data += v.length;
      }
      writeHeader(p, id, LEAF, count, overflow, data);
    } else {
      const children = this.children;
      for (let i = from, e = PAGE_HEADER; i < to; i++, e += ELEM_SIZE) {
        const k = keys[i];
        putU32(p, e, data);
        putU32(p, e + 4, children[i]);
        putU16(p, e + 8, k.length);
        putU16(p, e + 10, 0);
        p.set(k, data);
        data += k.length;
      }
      writeHeader(p, id, BRANCH, count, overflow, data);
    }
  }
}
