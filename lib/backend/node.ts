/**
 * A node: the in-memory, editable form of a branch or leaf page inside a write transaction.
 * A write materializes the nodes on its path from the root (their old pages become free at
 * commit); reads elsewhere go straight to the immutable page bytes.
 *
 * A leaf element is either "page-backed" (element j of an immutable page: no copy, no view
 * allocated, which makes materializing a 4 KiB leaf a few array stores) or "owned" (a key and
 * value given to put). Writing a leaf copies runs of page-backed elements in one move.
 *
 * A branch's keys[i] is a lower bound of every key under child i (for i > 0), and every key
 * under child i is below keys[i + 1]; keys[0] is only a hint. Leaves hold the real keys.
 */
import {
  BRANCH,
  BUCKET_FLAG,
  compareBytes,
  compareRange,
  ELEM_SIZE,
  elemChild,
  elemKey,
  elemValue,
  LEAF,
  PAGE_HEADER,
  pageCount,
  pageFlags,
  putU16,
  putU32,
  u16,
  u32,
  writeHeader,
} from "./page.ts";
import { CorruptionError, UsageError } from "./errors.ts";

/** An editable branch or leaf. */
export class Node {
  leaf: boolean;
  /** The page this node was read from (0 for a new node). */
  pgid: number;
  /** Branch separator keys. */
  keys: Uint8Array[] = [];
  /** Branch child page ids. */
  children: number[] = [];
  /** Branch children materialized in this transaction (undefined: use children[i]). */
  kids: (Node | undefined)[] = [];
  /** Leaf: the page holding element i (li[i] >= 0), or the owned key itself (li[i] < 0). */
  lb: Uint8Array[] = [];
  /** Leaf: the element index within lb[i], or -1 for an owned element. */
  li: number[] = [];
  /** Leaf: the owned value (undefined for page-backed elements). */
  lv: (Uint8Array | undefined)[] = [];
  /** Leaf element flags (BUCKET_FLAG for nested buckets). */
  lf: number[] = [];
  /** Leaf: total key and value bytes of all elements (kept up to date by every edit). */
  lbytes = 0;

  constructor(leaf: boolean, pgid = 0) {
    this.leaf = leaf;
    this.pgid = pgid;
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
    if (n.leaf) {
      const lb = new Array<Uint8Array>(count);
      const li = new Array<number>(count);
      const lv = new Array<Uint8Array | undefined>(count);
      const lf = new Array<number>(count);
      let bytes = 0;
      for (let i = 0; i < count; i++) {
        const o = PAGE_HEADER + i * ELEM_SIZE;
        lb[i] = p;
        li[i] = i;
        lv[i] = undefined;
        lf[i] = u16(p, o + 10);
        bytes += u16(p, o + 8) + u32(p, o + 4);
      }
      n.lbytes = bytes;
      n.lb = lb;
      n.li = li;
      n.lv = lv;
      n.lf = lf;
    } else {
      const keys = new Array<Uint8Array>(count);
      const children = new Array<number>(count);
      for (let i = 0; i < count; i++) {
        keys[i] = elemKey(p, i);
        children[i] = elemChild(p, i);
      }
      n.keys = keys;
      n.children = children;
      n.kids = new Array<Node | undefined>(count);
    }
    return n;
  }

  /** Number of elements. */
  get count(): number {
    return this.leaf ? this.li.length : this.keys.length;
  }

  /** Leaf: the key of element i (a view). */
  leafKey(i: number): Uint8Array {
    const j = this.li[i];
    return j >= 0 ? elemKey(this.lb[i], j) : this.lb[i];
  }

  /** Leaf: the value of element i (a view). */
  leafValue(i: number): Uint8Array {
    const j = this.li[i];
    return j >= 0 ? elemValue(this.lb[i], j) : this.lv[i]!;
  }

  /** The first key (leaf) or first separator (branch). */
  firstKey(): Uint8Array {
    return this.leaf ? this.leafKey(0) : this.keys[0];
  }

  /** Leaf: compares element i's key with key. */
  cmp(i: number, key: Uint8Array): number {
    const j = this.li[i];
    const b = this.lb[i];
    if (j < 0) return compareRange(b, 0, b.length, key, 0, key.length);
    const o = PAGE_HEADER + j * ELEM_SIZE;
    return compareRange(b, u32(b, o), u16(b, o + 8), key, 0, key.length);
  }

  #keyLen(i: number): number {
    const j = this.li[i];
    return j >= 0 ? u16(this.lb[i], PAGE_HEADER + j * ELEM_SIZE + 8) : this.lb[i].length;
  }

  #valLen(i: number): number {
    const j = this.li[i];
    return j >= 0 ? u32(this.lb[i], PAGE_HEADER + j * ELEM_SIZE + 4) : this.lv[i]!.length;
  }

  /** Bytes of element i on a page (header, key, value). */
  elemBytes(i: number): number {
    return this.leaf
      ? ELEM_SIZE + this.#keyLen(i) + this.#valLen(i)
      : ELEM_SIZE + this.keys[i].length;
  }

  /** Bytes this node needs as a page (may exceed a page; the spill splits it). */
  size(): number {
    const n = this.count;
    let s = PAGE_HEADER + ELEM_SIZE * n;
    if (this.leaf) return s + this.lbytes;
    for (const k of this.keys) s += k.length;
    return s;
  }

  /** True when this node needs fewer than `limit` bytes as a page (stops counting early). */
  smallerThan(limit: number): boolean {
    const n = this.count;
    if (this.leaf) return PAGE_HEADER + ELEM_SIZE * n + this.lbytes < limit;
    let s = PAGE_HEADER + ELEM_SIZE * n;
    for (let i = 0; i < n && s < limit; i++) s += this.keys[i].length;
    return s < limit;
  }

  /** Leaf: index of the first key >= key. */
  lowerBound(key: Uint8Array): number {
    let lo = 0;
    let hi = this.li.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cmp(mid, key) < 0) lo = mid + 1;
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

  /**
   * Leaf: inserts or replaces key (keeping references to key and value). With `plain`, refuses
   * to replace a nested bucket by a value.
   */
  put(key: Uint8Array, value: Uint8Array, flags: number, plain = false): void {
    const n = this.li.length;
    // Appends (sequential keys) are the common case: check the end first.
    let i: number;
    if (n === 0 || this.cmp(n - 1, key) < 0) i = n;
    else {
      i = this.lowerBound(key);
      if (i < n && this.cmp(i, key) === 0) {
        if (plain && this.lf[i] & BUCKET_FLAG) {
          throw new UsageError("incompatible value: the key names a nested bucket");
        }
        this.lbytes += key.length + value.length - this.#keyLen(i) - this.#valLen(i);
        this.lb[i] = key;
        this.li[i] = -1;
        this.lv[i] = value;
        this.lf[i] = flags;
        return;
      }
    }
    this.lbytes += key.length + value.length;
    if (i === n) {
      this.lb.push(key);
      this.li.push(-1);
      this.lv.push(value);
      this.lf.push(flags);
    } else {
      this.lb.splice(i, 0, key);
      this.li.splice(i, 0, -1);
      this.lv.splice(i, 0, value);
      this.lf.splice(i, 0, flags);
    }
  }

  /** Removes element i. */
  removeAt(i: number): void {
    if (this.leaf) {
      this.lbytes -= this.#keyLen(i) + this.#valLen(i);
      this.lb.splice(i, 1);
      this.li.splice(i, 1);
      this.lv.splice(i, 1);
      this.lf.splice(i, 1);
    } else {
      this.keys.splice(i, 1);
      this.children.splice(i, 1);
      this.kids.splice(i, 1);
    }
  }

  /** Appends all of `right`'s elements (its keys all sort after this node's). */
  append(right: Node, separator: Uint8Array): void {
    if (this.leaf) {
      this.lbytes += right.lbytes;
      for (let i = 0; i < right.li.length; i++) {
        this.lb.push(right.lb[i]);
        this.li.push(right.li[i]);
        this.lv.push(right.lv[i]);
        this.lf.push(right.lf[i]);
      }
    } else {
      const first = this.keys.length;
      for (let i = 0; i < right.keys.length; i++) {
        this.keys.push(right.keys[i]);
        this.children.push(right.children[i]);
        this.kids.push(right.kids[i]);
      }
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
    if (this.leaf) {
      const { lb, li, lv, lf } = this;
      let e = PAGE_HEADER;
      let i = from;
      while (i < to) {
        const j = li[i];
        if (j < 0) {
          const k = lb[i];
          const v = lv[i]!;
          putU32(p, e, data);
          putU32(p, e + 4, v.length);
          putU16(p, e + 8, k.length);
          putU16(p, e + 10, lf[i]);
          p.set(k, data);
          data += k.length;
          p.set(v, data);
          data += v.length;
          e += ELEM_SIZE;
          i++;
          continue;
        }
        // A run of consecutive elements of one page whose bytes are contiguous: their headers
        // and their bytes are each copied in one move, then the key offsets are shifted.
        const src = lb[i];
        const start = u32(src, PAGE_HEADER + j * ELEM_SIZE);
        let end = start;
        let jj = j;
        const firstI = i;
        while (i < to && lb[i] === src && li[i] === jj) {
          const o = PAGE_HEADER + jj * ELEM_SIZE;
          if (u32(src, o) !== end) break;
          end += u16(src, o + 8) + u32(src, o + 4);
          i++;
          jj++;
        }
        const n = i - firstI;
        const h = PAGE_HEADER + j * ELEM_SIZE;
        p.set(src.subarray(h, h + n * ELEM_SIZE), e);
        const delta = data - start;
        for (let k = 0; k < n; k++, e += ELEM_SIZE) putU32(p, e, u32(p, e) + delta);
        p.set(src.subarray(start, end), data);
        data += end - start;
      }
      writeHeader(p, id, LEAF, count, overflow, data);
    } else {
      const { keys, children } = this;
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
