/**
 * A cursor over one bucket's tree: first, last, seek, next, prev. It walks materialized nodes
 * where the write transaction has them and immutable pages everywhere else, so the same code
 * serves read and write transactions. The path is kept in parallel arrays to avoid allocating
 * per step; keys and values are views, valid until the transaction changes or ends.
 */
import { CorruptionError } from "./errors.ts";
import type { Node } from "./node.ts";
import {
  BRANCH,
  elemChild,
  elemFlags,
  elemKey,
  elemValue,
  LEAF,
  pageBranchIndex,
  pageCount,
  pageFlags,
  pageLowerBound,
  typeName,
} from "./page.ts";
import type { PageSource } from "./pager.ts";

/** Deeper than this means a cycle (a 4 KiB-page tree of 2^32 pages is under 10 levels). */
export const MAX_DEPTH = 64;

/** Checks that a page reached from a branch is a branch or leaf. */
export function treePage(src: PageSource, id: number): Uint8Array {
  const p = src.page(id);
  const t = pageFlags(p);
  if (t !== LEAF && t !== BRANCH) {
    throw new CorruptionError(id, `expected a branch or leaf page, found ${typeName(t)}`);
  }
  return p;
}

/** A position in a bucket. */
export class Cursor {
  readonly #src: PageSource;
  readonly #rootNode: Node | null;
  readonly #rootPgid: number;
  #nodes: (Node | null)[] = [];
  #pages: (Uint8Array | null)[] = [];
  #ids: number[] = [];
  #idx: number[] = [];
  #top = -1;

  constructor(src: PageSource, rootNode: Node | null, rootPgid: number) {
    this.#src = src;
    this.#rootNode = rootNode;
    this.#rootPgid = rootPgid;
  }

  #pushRoot(): void {
    this.#top = -1;
    if (this.#rootNode) this.#push(this.#rootNode, null, this.#rootNode.pgid);
    else this.#push(null, treePage(this.#src, this.#rootPgid), this.#rootPgid);
  }

  #push(node: Node | null, page: Uint8Array | null, id: number): void {
    const d = ++this.#top;
    if (d >= MAX_DEPTH) {
      throw new CorruptionError(id, `tree deeper than ${MAX_DEPTH} levels (a cycle?)`);
    }
    this.#nodes[d] = node;
    this.#pages[d] = page;
    this.#ids[d] = id;
    this.#idx[d] = 0;
  }

  #count(d: number): number {
    const n = this.#nodes[d];
    return n ? n.count : pageCount(this.#pages[d]!);
  }

  #isLeaf(d: number): boolean {
    const n = this.#nodes[d];
    return n ? n.leaf : pageFlags(this.#pages[d]!) === LEAF;
  }

  /** Pushes the child at the current index of the top frame. */
  #descend(): void {
    const d = this.#top;
    const i = this.#idx[d];
    const n = this.#nodes[d];
    if (n) {
      const kid = n.kids[i];
      if (kid) this.#push(kid, null, kid.pgid);
      else {
        const id = n.children[i];
        this.#push(null, treePage(this.#src, id), id);
      }
    } else {
      const id = elemChild(this.#pages[d]!, i);
      this.#push(null, treePage(this.#src, id), id);
    }
  }

  /** Goes down the leftmost (or rightmost) path from the top frame. */
  #toEdge(right: boolean): void {
    for (;;) {
      const d = this.#top;
      const c = this.#count(d);
      this.#idx[d] = right ? c - 1 : 0;
      if (this.#isLeaf(d)) return;
      if (c === 0) throw new CorruptionError(this.#ids[d], "empty branch page");
      this.#descend();
    }
  }

  /** True when the cursor rests on an element. */
  get valid(): boolean {
    const d = this.#top;
    return d >= 0 && this.#idx[d] >= 0 && this.#idx[d] < this.#count(d);
  }

  /** Moves to the first key; false when the bucket is empty. */
  first(): boolean {
    this.#pushRoot();
    this.#toEdge(false);
    if (this.#count(this.#top) === 0) return this.next();
    return true;
  }

  /** Moves to the last key; false when the bucket is empty. */
  last(): boolean {
    this.#pushRoot();
    this.#toEdge(true);
    if (this.#count(this.#top) === 0) return this.prev();
    return true;
  }

  /** Moves to the first key >= key; false when there is none. */
  seek(key: Uint8Array): boolean {
    this.#pushRoot();
    for (;;) {
      const d = this.#top;
      const n = this.#nodes[d];
      if (n) {
        if (n.leaf) {
          this.#idx[d] = n.lowerBound(key);
          break;
        }
        this.#idx[d] = n.branchIndex(key);
      } else {
        const p = this.#pages[d]!;
        if (pageFlags(p) === LEAF) {
          this.#idx[d] = pageLowerBound(p, key);
          break;
        }
        this.#idx[d] = pageBranchIndex(p, key);
      }
      this.#descend();
    }
    const d = this.#top;
    if (this.#idx[d] >= this.#count(d)) {
      this.#idx[d] = this.#count(d) - 1;
      return this.next();
    }
    return true;
  }

  /** Moves to the next key; false at the end. */
  next(): boolean {
    for (;;) {
      // Climb to the deepest frame that has a next element.
      let d = this.#top;
      while (d >= 0 && this.#idx[d] + 1 >= this.#count(d)) d--;
      if (d < 0) {
        // Past the end: rest after the last element of the leaf.
        this.#top = Math.max(this.#top, 0);
        this.#idx[this.#top] = this.#count(this.#top);
        return false;
      }
      this.#top = d;
      this.#idx[d]++;
      if (this.#isLeaf(d)) return true;
      this.#descend();
      this.#toEdge(false);
      if (this.#count(this.#top) > 0) return true;
    }
  }

  /** Moves to the previous key; false at the start. */
  prev(): boolean {
    for (;;) {
      let d = this.#top;
      while (d >= 0 && this.#idx[d] - 1 < 0) d--;
      if (d < 0) {
        this.#top = Math.max(this.#top, 0);
        this.#idx[this.#top] = -1;
        return false;
      }
      this.#top = d;
      this.#idx[d]--;
      if (this.#isLeaf(d)) return true;
      this.#descend();
      this.#toEdge(true);
      if (this.#count(this.#top) > 0) return true;
    }
  }

  /** The current key (a view). */
  key(): Uint8Array {
    const d = this.#top;
    const n = this.#nodes[d];
    return n
      ? (n.leaf ? n.leafKey(this.#idx[d]) : n.keys[this.#idx[d]])
      : elemKey(this.#pages[d]!, this.#idx[d]);
  }

  /** The current value (a view; a bucket header for nested buckets). */
  value(): Uint8Array {
    const d = this.#top;
    const n = this.#nodes[d];
    return n ? n.leafValue(this.#idx[d]) : elemValue(this.#pages[d]!, this.#idx[d]);
  }

  /** The current element's flags (BUCKET_FLAG for a nested bucket). */
  flags(): number {
    const d = this.#top;
    const n = this.#nodes[d];
    return n ? n.lf[this.#idx[d]] : elemFlags(this.#pages[d]!, this.#idx[d]);
  }
}
