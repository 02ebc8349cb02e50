/**
 * A bulk writer of bbolt files (format.ts), for exporting Concord's data as an etcd snapshot:
 * buckets are given in name order and each bucket's entries in key order, and the writer lays
 * the B+tree down bottom-up in one pass, as bbolt would after a compaction (`bbolt compact`):
 * leaves filled up to a page (an entry bigger than a page gets overflow pages), branch levels
 * above them until one root, then the root bucket's tree, an empty freelist at page 2 and both
 * meta pages (txids 0 and 1, both valid). Every page is reachable, so bbolt's consistency
 * check (`tx.Check`, which etcdctl's snapshot status runs) finds nothing to report.
 *
 * Memory holds one leaf, the branch keys of the bucket being written and up to a megabyte of
 * pages waiting to be written.
 */
import type { Disk, DiskFile } from "../../io/disk.ts";
import {
  BoltFormatError,
  BRANCH_PAGE,
  BUCKET_LEAF_FLAG,
  DEFAULT_PAGE_SIZE,
  ELEMENT_SIZE,
  encodeBucketHeader,
  FREELIST_PAGE,
  LEAF_PAGE,
  PAGE_HEADER_SIZE,
  writeMetaPage,
  writePageHeader,
} from "./format.ts";

/** bbolt's limits on keys and values. */
const MAX_KEY_SIZE = 32768;
const MAX_VALUE_SIZE = 0x7ffffffe;
const FLUSH_BYTES = 1 << 20;

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

interface Elem {
  key: Uint8Array;
  value: Uint8Array;
  flags: number;
}

interface Child {
  key: Uint8Array;
  pgid: number;
}

/** Writes one bucket's tree: `add` entries in order, then `finish` for its root page. */
export class TreeBuilder {
  readonly #w: BoltWriter;
  #leaf: Elem[] = [];
  #leafBytes = PAGE_HEADER_SIZE;
  #children: Child[] = [];
  #last: Uint8Array | undefined;
  #count = 0;

  constructor(writer: BoltWriter) {
    this.#w = writer;
  }

  /** Entries added so far. */
  get count(): number {
    return this.#count;
  }

  /** Adds an entry; keys must be strictly ascending. */
  add(key: Uint8Array, value: Uint8Array, flags = 0): void {
    if (key.length === 0 || key.length > MAX_KEY_SIZE) {
      throw new BoltFormatError(`key of ${key.length} bytes (bbolt allows 1..${MAX_KEY_SIZE})`);
    }
    if (value.length > MAX_VALUE_SIZE) {
      throw new BoltFormatError(`value of ${value.length} bytes is too large for bbolt`);
    }
    if (this.#last !== undefined && compare(this.#last, key) >= 0) {
      throw new BoltFormatError("keys must be added in ascending order");
    }
    this.#last = key;
    const need = ELEMENT_SIZE + key.length + value.length;
    if (this.#leaf.length > 0 && this.#leafBytes + need > this.#w.pageSize) this.#flushLeaf();
    this.#leaf.push({ key, value, flags });
    this.#leafBytes += need;
    this.#count++;
  }

  /** A new page of `bytes` with its header written, and a view to write its elements with. */
  #startPage(
    flags: number,
    count: number,
    bytes: number,
  ): { page: { id: number; bytes: Uint8Array }; dv: DataView } {
    const page = this.#w.newPage(bytes);
    writePageHeader(page.bytes, { id: page.id, flags, count, overflow: page.overflow });
    const dv = new DataView(page.bytes.buffer, page.bytes.byteOffset, page.bytes.byteLength);
    return { page, dv };
  }

  #flushLeaf(): void {
    const elems = this.#leaf;
    const { page, dv } = this.#startPage(LEAF_PAGE, elems.length, this.#leafBytes);
    let data = PAGE_HEADER_SIZE + elems.length * ELEMENT_SIZE;
    elems.forEach((e, i) => {
      const at = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
      dv.setUint32(at, e.flags, true);
      dv.setUint32(at + 4, data - at, true);
      dv.setUint32(at + 8, e.key.length, true);
      dv.setUint32(at + 12, e.value.length, true);
      page.bytes.set(e.key, data);
      page.bytes.set(e.value, data + e.key.length);
      data += e.key.length + e.value.length;
    });
    this.#children.push({
      key: elems.length > 0 ? elems[0].key : new Uint8Array(0),
      pgid: page.id,
    });
    this.#leaf = [];
    this.#leafBytes = PAGE_HEADER_SIZE;
  }

  /** Writes what is left and the branch levels; returns the root page id. */
  finish(): number {
    if (this.#leaf.length > 0 || this.#children.length === 0) this.#flushLeaf();
    let level = this.#children;
    while (level.length > 1) {
      const next: Child[] = [];
      let group: Child[] = [];
      let bytes = PAGE_HEADER_SIZE;
      const flush = () => {
        next.push({ key: group[0].key, pgid: this.#writeBranch(group, bytes) });
        group = [];
        bytes = PAGE_HEADER_SIZE;
      };
      for (const c of level) {
        const need = ELEMENT_SIZE + c.key.length;
        // at least two children per branch, so every level shrinks
        if (group.length >= 2 && bytes + need > this.#w.pageSize) flush();
        group.push(c);
        bytes += need;
      }
      flush();
      level = next;
    }
    return level[0].pgid;
  }

  #writeBranch(children: Child[], bytes: number): number {
    const { page, dv } = this.#startPage(BRANCH_PAGE, children.length, bytes);
    let data = PAGE_HEADER_SIZE + children.length * ELEMENT_SIZE;
    children.forEach((c, i) => {
      const at = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
      dv.setUint32(at, data - at, true);
      dv.setUint32(at + 4, c.key.length, true);
      dv.setBigUint64(at + 8, BigInt(c.pgid), true);
      page.bytes.set(c.key, data);
      data += c.key.length;
    });
    return page.id;
  }
}

/** A new bbolt file being written. */
export class BoltWriter {
  readonly #file: DiskFile;
  readonly pageSize: number;
  /** The next free page id (pages 0..2 are the metas and the freelist). */
  #next = 3;
  #pending: { offset: number; bytes: Uint8Array }[] = [];
  #pendingBytes = 0;
  #root: TreeBuilder;
  #lastBucket: Uint8Array | undefined;

  private constructor(file: DiskFile, pageSize: number) {
    this.#file = file;
    this.pageSize = pageSize;
    this.#root = new TreeBuilder(this);
  }

  /** Creates `path` (which must not exist). */
  static async create(
    disk: Disk,
    path: string,
    pageSize = DEFAULT_PAGE_SIZE,
  ): Promise<BoltWriter> {
    return new BoltWriter(await disk.open(path, { createNew: true }), pageSize);
  }

  /** A zeroed page (with overflow pages for `bytes` beyond one page), its id allocated. */
  newPage(bytes: number): { id: number; overflow: number; bytes: Uint8Array } {
    const span = Math.max(1, Math.ceil(bytes / this.pageSize));
    const id = this.#next;
    this.#next += span;
    const buf = new Uint8Array(span * this.pageSize);
    this.#pending.push({ offset: id * this.pageSize, bytes: buf });
    this.#pendingBytes += buf.length;
    return { id, overflow: span - 1, bytes: buf };
  }

  /** Starts top-level bucket `name` (names ascending); add its entries, then `endBucket`. */
  bucket(name: Uint8Array): TreeBuilder {
    if (this.#lastBucket !== undefined && compare(this.#lastBucket, name) >= 0) {
      throw new BoltFormatError("buckets must be written in ascending name order");
    }
    this.#lastBucket = name;
    return new TreeBuilder(this);
  }

  /** Ends a bucket started with `bucket(name)`: its tree is written and listed in the root. */
  endBucket(name: Uint8Array, tree: TreeBuilder): void {
    const root = tree.finish();
    this.#root.add(name, encodeBucketHeader({ root, sequence: 0n }), BUCKET_LEAF_FLAG);
  }

  /** Writes the pages built so far when a megabyte or more is waiting. */
  async flush(force = false): Promise<void> {
    if (!force && this.#pendingBytes < FLUSH_BYTES) return;
    const writes = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    if (this.#file.writeBatchAt) {
      await this.#file.writeBatchAt(writes.map((w) => ({ data: w.bytes, offset: w.offset })));
    } else {
      for (const w of writes) await this.#file.writeAt(w.bytes, w.offset);
    }
  }

  /** Writes the root bucket, the freelist and the meta pages, syncs and closes; the size. */
  async finish(): Promise<number> {
    try {
      const root = this.#root.finish();
      const head = new Uint8Array(3 * this.pageSize);
      writePageHeader(head.subarray(2 * this.pageSize), {
        id: 2,
        flags: FREELIST_PAGE,
        count: 0,
        overflow: 0,
      });
      for (const txid of [0n, 1n]) {
        writeMetaPage(head.subarray(Number(txid) * this.pageSize), {
          pageSize: this.pageSize,
          flags: 0,
          root: { root, sequence: 0n },
          freelist: 2n,
          pgid: this.#next,
          txid,
        });
      }
      await this.flush(true);
      await this.#file.writeAt(head, 0);
      await this.#file.sync();
      return this.#next * this.pageSize;
    } finally {
      await this.#file.close();
    }
  }

  /** Closes without finishing (after a failure); the caller removes the file. */
  async abort(): Promise<void> {
    await this.#file.close();
  }
}
