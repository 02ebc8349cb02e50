/**
 * A bucket: a named B+tree of byte keys in byte order, possibly holding nested buckets. A
 * bucket lives in its parent as a leaf element flagged BUCKET_FLAG whose value is the bucket's
 * 8-byte header (root page id, reserved); the root bucket's root is in the meta page. Reads
 * walk pages directly; writes materialize the path from the root into nodes, which the
 * transaction spills to new pages at commit.
 */
import { Cursor, MAX_DEPTH, treePage } from "./cursor.ts";
import { CorruptionError, UsageError } from "./errors.ts";
import { Node } from "./node.ts";
import {
  BRANCH,
  BUCKET_FLAG,
  compareRange,
  elemChild,
  elemFlags,
  elemKey,
  elemValue,
  LEAF,
  MAX_KEY_SIZE,
  MAX_VALUE_SIZE,
  pageBranchIndex,
  pageCount,
  pageFlags,
  pageKeyEquals,
  pageLowerBound,
  pageOverflow,
  putU32,
  u32,
} from "./page.ts";
import type { PageSource } from "./pager.ts";
import { scanTree } from "./tree_scan.ts";

/** Bytes of a nested bucket's header value. */
export const BUCKET_HEADER = 8;

/** What a bucket needs from its transaction. */
export interface TxContext extends PageSource {
  readonly writable: boolean;
  /** Throws when the transaction is finished. */
  checkOpen(): void;
  /** Materializes page `id` for editing; its span is freed when the transaction commits. */
  materialize(id: number): Node;
  /** Frees an unmaterialized page span (used when deleting a bucket). */
  freePage(id: number, span: number): void;
}

function nameKey(name: Uint8Array): string {
  let s = "";
  for (let i = 0; i < name.length; i++) s += String.fromCharCode(name[i]);
  return s;
}

/** Encodes a bucket header for root page `root`. */
export function bucketHeader(root: number): Uint8Array {
  const h = new Uint8Array(BUCKET_HEADER);
  putU32(h, 0, root);
  return h;
}

function checkKey(key: Uint8Array): void {
  if (key.length === 0) throw new UsageError("key required: keys must not be empty");
  if (key.length > MAX_KEY_SIZE) {
    throw new UsageError(`key too large: ${key.length} bytes (at most ${MAX_KEY_SIZE})`);
  }
}

/** A bucket within a transaction. */
export class Bucket {
  readonly tx: TxContext;
  /** Root page id as of the transaction's start (0 for a bucket created in it). */
  rootPgid: number;
  /** The materialized root, once this transaction has written to the bucket. */
  rootNode: Node | null = null;
  /** Nested buckets opened in this transaction, by name. */
  readonly children = new Map<string, Bucket>();
  readonly parent: Bucket | null;
  readonly name: Uint8Array | null;
  /** True once the bucket was deleted in this transaction. */
  deleted = false;

  constructor(tx: TxContext, rootPgid: number, parent: Bucket | null, name: Uint8Array | null) {
    this.tx = tx;
    this.rootPgid = rootPgid;
    this.parent = parent;
    this.name = name;
  }

  #check(): void {
    this.tx.checkOpen();
    if (this.deleted) throw new UsageError("bucket was deleted");
  }

  /** Flags of the element the last `#find` returned. */
  #foundFlags = 0;

  /** The value stored under `key` (flags in #foundFlags), without allocating on the way. */
  #find(key: Uint8Array): Uint8Array | undefined {
    let node = this.rootNode;
    let page: Uint8Array | null = node ? null : treePage(this.tx, this.rootPgid);
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      if (node !== null) {
        if (node.leaf) {
          const i = node.lowerBound(key);
          if (i < node.li.length && node.cmp(i, key) === 0) {
            this.#foundFlags = node.lf[i];
            return node.leafValue(i);
          }
          return undefined;
        }
        const i = node.branchIndex(key);
        const kid = node.kids[i];
        if (kid) node = kid;
        else {
          page = treePage(this.tx, node.children[i]);
          node = null;
        }
      } else {
        const p = page!;
        if (pageFlags(p) === LEAF) {
          const i = pageLowerBound(p, key);
          if (i < pageCount(p) && pageKeyEquals(p, i, key)) {
            this.#foundFlags = elemFlags(p, i);
            return elemValue(p, i);
          }
          return undefined;
        }
        page = treePage(this.tx, elemChild(p, pageBranchIndex(p, key)));
      }
    }
    throw new CorruptionError(this.rootPgid, `tree deeper than ${MAX_DEPTH} levels (a cycle?)`);
  }

  /** The value under `key`, or undefined (also when `key` names a nested bucket). */
  get(key: Uint8Array): Uint8Array | undefined {
    this.#check();
    const v = this.#find(key);
    return v !== undefined && this.#foundFlags & BUCKET_FLAG ? undefined : v;
  }

  /** The materialized leaf whose range holds `key`, materializing the path to it. */
  #leafFor(key: Uint8Array): Node {
    const tx = this.tx;
    let node = this.rootNode ??= tx.materialize(this.rootPgid);
    for (let depth = 0; !node.leaf; depth++) {
      if (depth >= MAX_DEPTH) {
        throw new CorruptionError(node.pgid, `tree deeper than ${MAX_DEPTH} levels (a cycle?)`);
      }
      const i = node.branchIndex(key);
      node = node.kids[i] ??= tx.materialize(node.children[i]);
    }
    return node;
  }

  #writable(): void {
    this.#check();
    if (!this.tx.writable) throw new UsageError("transaction is read-only");
  }

  /** Stores `value` under `key` (both kept by reference until commit: do not modify them). */
  put(key: Uint8Array, value: Uint8Array): void {
    this.#writable();
    if (this.parent === null) throw new UsageError("the root bucket holds only buckets");
    checkKey(key);
    if (value.length > MAX_VALUE_SIZE) {
      throw new UsageError(`value too large: ${value.length} bytes`);
    }
    this.#leafFor(key).put(key, value, 0, true);
  }

  /** Removes `key`; returns whether it was present. */
  delete(key: Uint8Array): boolean {
    this.#writable();
    if (this.#find(key) === undefined) return false;
    if (this.#foundFlags & BUCKET_FLAG) {
      throw new UsageError("incompatible value: the key names a nested bucket");
    }
    this.#remove(key);
    return true;
  }

  #remove(key: Uint8Array): void {
    const leaf = this.#leafFor(key);
    const i = leaf.lowerBound(key);
    if (i < leaf.li.length && leaf.cmp(i, key) === 0) leaf.removeAt(i);
  }

  /**
   * Calls `fn` for each key in `[start, end)` in byte order (`end` undefined: to the last
   * key), skipping nested buckets, until `fn` returns false or `limit` keys were passed
   * (0 = no limit). Returns the number of keys passed. Keys and values are views; do not
   * write to the bucket from inside `fn`.
   */
  range(
    start: Uint8Array,
    end: Uint8Array | undefined,
    fn: (key: Uint8Array, value: Uint8Array) => boolean | void,
    limit = 0,
  ): number {
    const c = this.cursor();
    let n = 0;
    for (let ok = c.seek(start); ok; ok = c.next()) {
      if (c.flags() & BUCKET_FLAG) continue;
      const k = c.key();
      if (end !== undefined && compareRange(k, 0, k.length, end, 0, end.length) >= 0) break;
      n++;
      if (fn(k, c.value()) === false) break;
      if (limit > 0 && n >= limit) break;
    }
    return n;
  }

  /**
   * Calls `fn` for every key of the bucket in byte order (nested buckets skipped): a whole
   * bucket read once. Committed pages are read in file order with large reads and are not
   * cached (tree_scan.ts); a bucket this transaction has edited is read through a cursor.
   */
  scan(fn: (key: Uint8Array, value: Uint8Array) => void): void {
    this.#check();
    if (this.rootNode) {
      this.range(new Uint8Array(0), undefined, fn);
      return;
    }
    scanTree(this.tx, this.rootPgid, fn);
  }

  /** A cursor over this bucket (nested buckets appear with BUCKET_FLAG). */
  cursor(): Cursor {
    this.#check();
    return new Cursor(this.tx, this.rootNode, this.rootPgid);
  }

  /** The nested bucket `name`, or undefined. */
  bucket(name: Uint8Array): Bucket | undefined {
    this.#check();
    const k = nameKey(name);
    const open = this.children.get(k);
    if (open) return open;
    const v = this.#find(name);
    if (v === undefined || !(this.#foundFlags & BUCKET_FLAG)) return undefined;
    if (v.length !== BUCKET_HEADER) {
      throw new CorruptionError(-1, `bucket header of ${v.length} bytes`);
    }
    const b = new Bucket(this.tx, u32(v, 0), this, name.slice());
    this.children.set(k, b);
    return b;
  }

  /** Creates the nested bucket `name`; throws if it exists. */
  createBucket(name: Uint8Array): Bucket {
    this.#writable();
    checkKey(name);
    if (this.children.has(nameKey(name))) throw new UsageError("bucket already exists");
    if (this.#find(name) !== undefined) {
      throw new UsageError(
        this.#foundFlags & BUCKET_FLAG
          ? "bucket already exists"
          : "incompatible value: the key holds a value",
      );
    }
    const b = new Bucket(this.tx, 0, this, name.slice());
    b.rootNode = new Node(true);
    // The placeholder header is rewritten with the real root at commit.
    this.#leafFor(name).put(b.name!, bucketHeader(0), BUCKET_FLAG);
    this.children.set(nameKey(name), b);
    return b;
  }

  /** The nested bucket `name`, created when missing. */
  createBucketIfNotExists(name: Uint8Array): Bucket {
    return this.bucket(name) ?? this.createBucket(name);
  }

  /** Deletes the nested bucket `name` and everything in it; throws if it does not exist. */
  deleteBucket(name: Uint8Array): void {
    this.#writable();
    const b = this.bucket(name);
    if (!b) throw new UsageError("bucket not found");
    b.#freeAll();
    b.deleted = true;
    this.children.delete(nameKey(name));
    this.#remove(name);
  }

  /** Frees every page of this bucket and its nested buckets. */
  #freeAll(): void {
    for (const child of this.children.values()) {
      child.#freeAll();
      child.deleted = true;
    }
    const opened = new Set(this.children.keys());
    const freeTree = (node: Node | null, id: number, depth: number): void => {
      if (depth >= MAX_DEPTH) {
        throw new CorruptionError(id, `tree deeper than ${MAX_DEPTH} levels (a cycle?)`);
      }
      if (node) {
        // A materialized node's own page was already freed when it was materialized.
        if (node.leaf) {
          for (let i = 0; i < node.li.length; i++) {
            if (node.lf[i] & BUCKET_FLAG && !opened.has(nameKey(node.leafKey(i)))) {
              this.#freeNested(node.leafValue(i), depth);
            }
          }
        } else {
          for (let i = 0; i < node.keys.length; i++) {
            freeTree(node.kids[i] ?? null, node.children[i], depth + 1);
          }
        }
        return;
      }
      if (id === 0) return;
      const p = treePage(this.tx, id);
      if (pageFlags(p) === BRANCH) {
        for (let i = 0; i < pageCount(p); i++) freeTree(null, elemChild(p, i), depth + 1);
      } else {
        for (let i = 0; i < pageCount(p); i++) {
          if (elemFlags(p, i) & BUCKET_FLAG) {
            if (!opened.has(nameKey(elemKey(p, i)))) this.#freeNested(elemValue(p, i), depth);
          }
        }
      }
      this.tx.freePage(id, pageOverflow(p) + 1);
    };
    freeTree(this.rootNode, this.rootPgid, 0);
    this.children.clear();
  }

  #freeNested(header: Uint8Array, depth: number): void {
    if (depth >= MAX_DEPTH) throw new CorruptionError(-1, "buckets nested too deeply (a cycle?)");
    const b = new Bucket(this.tx, u32(header, 0), this, null);
    b.#freeAll();
  }

  /** True when this bucket or a nested one was changed in this transaction. */
  dirty(): boolean {
    if (this.rootNode) return true;
    for (const c of this.children.values()) if (c.dirty()) return true;
    return false;
  }

  /**
   * Commit step: spills changed nested buckets first (recording their new roots in this
   * bucket), then this bucket's own nodes through `spillRoot`.
   */
  spill(spillRoot: (root: Node) => number): void {
    for (const c of this.children.values()) {
      if (!c.dirty()) continue;
      c.spill(spillRoot);
      this.#leafFor(c.name!).put(c.name!, bucketHeader(c.rootPgid), BUCKET_FLAG);
    }
    if (this.rootNode) {
      this.rootPgid = spillRoot(this.rootNode);
      this.rootNode = null;
    }
  }
}
