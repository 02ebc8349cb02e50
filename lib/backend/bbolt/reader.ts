/**
 * A read-only reader of bbolt files (format.ts): the buckets of an etcd snapshot or member
 * db, read page by page through the Disk seam, so a snapshot of any size is read with memory
 * bounded by the tree's depth. Every page read is checked (its id, its type, its elements
 * inside the page, keys ascending), so a damaged file fails with the page at fault instead of
 * yielding wrong data.
 */
import type { Disk, DiskFile } from "../../io/disk.ts";
import {
  BoltFormatError,
  BRANCH_PAGE,
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  type BucketHeader,
  DEFAULT_PAGE_SIZE,
  ELEMENT_SIZE,
  LEAF_PAGE,
  type Meta,
  metaProblem,
  PAGE_HEADER_SIZE,
  readBucketHeader,
  readMeta,
  readPageHeader,
  readPgid,
} from "./format.ts";

/** One entry of a bucket: a key and its value, or a nested bucket's header as the value. */
export type EntryFn = (
  key: Uint8Array,
  value: Uint8Array,
  isBucket: boolean,
) => void | false | Promise<void | false>;

/** Options of `BoltReader.open`. */
export interface BoltReaderOptions {
  /**
   * Bytes of the file that belong to the bbolt file (an etcd snapshot carries a 32-byte
   * SHA-256 after them); default the whole file.
   */
  length?: number;
}

const MAX_DEPTH = 64;
/** Bytes read at once when a page is not in the read-ahead window. */
const READ_AHEAD = 256 * 1024;
const decoder = new TextDecoder();

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** A bbolt file opened for reading. */
export class BoltReader {
  readonly #file: DiskFile;
  readonly #length: number;
  #window: { start: number; bytes: Uint8Array } | undefined;
  /** The current meta (the valid one with the higher txid). */
  readonly meta: Meta;

  private constructor(file: DiskFile, length: number, meta: Meta) {
    this.#file = file;
    this.#length = length;
    this.meta = meta;
  }

  /** Opens `path`; throws BoltFormatError when neither meta page is valid. */
  static async open(disk: Disk, path: string, opts: BoltReaderOptions = {}): Promise<BoltReader> {
    const file = await disk.open(path, { readOnly: true });
    try {
      const length = opts.length ?? await file.size();
      const meta = await readCurrentMeta(file, length, path);
      return new BoltReader(file, length, meta);
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  /** The page size the file was written with. */
  get pageSize(): number {
    return this.meta.pageSize;
  }

  /** The size of the database in bytes: pages in use × page size (bbolt's Tx.Size). */
  get size(): number {
    return this.meta.pgid * this.meta.pageSize;
  }

  /** Closes the file. */
  async close(): Promise<void> {
    await this.#file.close();
  }

  /** The names of the top-level buckets, in byte order. */
  async bucketNames(): Promise<Uint8Array[]> {
    const names: Uint8Array[] = [];
    await this.#walkBucket(this.meta.root, undefined, (k, _v, isBucket) => {
      if (!isBucket) {
        throw new BoltFormatError(
          `top-level key ${JSON.stringify(decoder.decode(k))} is no bucket`,
        );
      }
      names.push(k);
    });
    return names;
  }

  /**
   * Calls `fn` for every entry of top-level bucket `name` in key order (stopping when it
   * returns false). Throws when the bucket does not exist. The arrays passed are fresh copies.
   */
  async forEach(name: string | Uint8Array, fn: EntryFn): Promise<void> {
    const header = await this.bucket(name);
    if (header === undefined) {
      const text = typeof name === "string" ? name : decoder.decode(name);
      throw new BoltFormatError(`bucket ${JSON.stringify(text)} not found`);
    }
    await this.#walkBucket(header.header, header.inline, fn);
  }

  /**
   * The header of top-level bucket `name` (and its inline page when the bucket is inline),
   * or undefined when there is no such bucket.
   */
  async bucket(
    name: string | Uint8Array,
  ): Promise<{ header: BucketHeader; inline?: Uint8Array } | undefined> {
    const want = typeof name === "string" ? new TextEncoder().encode(name) : name;
    let found: { header: BucketHeader; inline?: Uint8Array } | undefined;
    await this.#walkBucket(this.meta.root, undefined, (k, v, isBucket) => {
      const c = compare(k, want);
      if (c < 0) return;
      if (c === 0 && isBucket) {
        const header = readBucketHeader(v);
        found = header.root === 0 ? { header, inline: v.subarray(BUCKET_HEADER_SIZE) } : { header };
      }
      return false;
    });
    return found;
  }

  async #walkBucket(
    header: BucketHeader,
    inline: Uint8Array | undefined,
    fn: EntryFn,
  ): Promise<void> {
    const state = { last: undefined as Uint8Array | undefined, stopped: false };
    if (header.root === 0) {
      if (inline === undefined || inline.length < PAGE_HEADER_SIZE) {
        throw new BoltFormatError("inline bucket without its page");
      }
      await this.#walk(inline, "an inline bucket", 0, fn, state);
    } else {
      await this.#walk(await this.#page(header.root), `page ${header.root}`, 0, fn, state);
    }
  }

  async #walk(
    page: Uint8Array,
    where: string,
    depth: number,
    fn: EntryFn,
    state: { last: Uint8Array | undefined; stopped: boolean },
  ): Promise<void> {
    if (depth > MAX_DEPTH) throw new BoltFormatError(`${where}: tree deeper than ${MAX_DEPTH}`);
    const h = readPageHeader(page);
    const dv = new DataView(page.buffer, page.byteOffset, page.byteLength);
    if (PAGE_HEADER_SIZE + h.count * ELEMENT_SIZE > page.length) {
      throw new BoltFormatError(`${where}: ${h.count} elements do not fit the page`);
    }
    const slice = (elem: number, pos: number, len: number, what: string) => {
      const at = elem + pos;
      if (at + len > page.length || at < elem) {
        throw new BoltFormatError(`${where}: ${what} of element at ${elem} lies outside the page`);
      }
      return page.slice(at, at + len);
    };
    if (h.flags === BRANCH_PAGE) {
      for (let i = 0; i < h.count && !state.stopped; i++) {
        const elem = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
        const pgid = readPgid(page, elem + 8);
        const child = await this.#page(pgid);
        await this.#walk(child, `page ${pgid}`, depth + 1, fn, state);
      }
      return;
    }
    if (h.flags !== LEAF_PAGE) {
      throw new BoltFormatError(`${where}: unexpected page flags 0x${h.flags.toString(16)}`);
    }
    for (let i = 0; i < h.count && !state.stopped; i++) {
      const elem = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
      const flags = dv.getUint32(elem, true);
      const pos = dv.getUint32(elem + 4, true);
      const ksize = dv.getUint32(elem + 8, true);
      const vsize = dv.getUint32(elem + 12, true);
      const key = slice(elem, pos, ksize, "key");
      const value = slice(elem, pos + ksize, vsize, "value");
      if (state.last !== undefined && compare(state.last, key) >= 0) {
        throw new BoltFormatError(`${where}: keys out of order`);
      }
      state.last = key;
      const isBucket = (flags & BUCKET_LEAF_FLAG) !== 0;
      if (isBucket && value.length < BUCKET_HEADER_SIZE) {
        throw new BoltFormatError(`${where}: nested bucket value of ${value.length} bytes`);
      }
      // await only what is a promise: a synchronous fn costs no microtask per entry
      const res = fn(key, value, isBucket);
      if ((res instanceof Promise ? await res : res) === false) state.stopped = true;
    }
  }

  /** Reads page `id` with its overflow pages, checking that it is what it says. */
  async #page(id: number): Promise<Uint8Array> {
    const ps = this.meta.pageSize;
    if (id < 2 || id >= this.meta.pgid) {
      throw new BoltFormatError(`page ${id}: outside the database (pgid ${this.meta.pgid})`);
    }
    const first = await this.#read(id * ps, ps, id);
    const h = readPageHeader(first);
    if (h.id !== id) throw new BoltFormatError(`page ${id}: header says page ${h.id}`);
    if (h.overflow === 0) return first;
    if (id + h.overflow >= this.meta.pgid) {
      throw new BoltFormatError(`page ${id}: overflow ${h.overflow} runs past the database`);
    }
    const all = new Uint8Array((h.overflow + 1) * ps);
    all.set(first);
    all.set(await this.#read((id + 1) * ps, h.overflow * ps, id), ps);
    return all;
  }

  /**
   * Reads `len` bytes at `offset` through a read-ahead window: a bucket's pages mostly follow
   * one another in the file, so one read of READ_AHEAD bytes serves dozens of page reads.
   * Returns a fresh copy (callers keep slices of it).
   */
  async #read(offset: number, len: number, id: number): Promise<Uint8Array> {
    if (offset + len > this.#length) {
      throw new BoltFormatError(`page ${id}: beyond the end of the file (${this.#length} bytes)`);
    }
    const w = this.#window;
    if (w === undefined || offset < w.start || offset + len > w.start + w.bytes.length) {
      const size = Math.min(Math.max(len, READ_AHEAD), this.#length - offset);
      const buf = new Uint8Array(size);
      for (let done = 0; done < size;) {
        const n = await this.#file.readAt(buf.subarray(done), offset + done);
        if (n <= 0) throw new BoltFormatError(`page ${id}: short read`);
        done += n;
      }
      this.#window = { start: offset, bytes: buf };
    }
    const at = offset - this.#window!.start;
    return this.#window!.bytes.slice(at, at + len);
  }
}

/**
 * bbolt's meta choice: the page size from meta page 0 (or, when page 0 is damaged, from a meta
 * page 1 found at a power-of-two offset), then the valid meta with the higher txid.
 */
async function readCurrentMeta(file: DiskFile, length: number, path: string): Promise<Meta> {
  const readAt = async (offset: number, len: number) => {
    if (offset + len > length) return undefined;
    const buf = new Uint8Array(len);
    const n = await file.readAt(buf, offset);
    return n === len ? buf : undefined;
  };
  const candidates: { meta: Meta; page: number }[] = [];
  const m0 = await readAt(0, PAGE_HEADER_SIZE + 64);
  let pageSize = 0;
  if (m0 !== undefined && metaProblem(m0) === undefined) {
    const meta = readMeta(m0);
    candidates.push({ meta, page: 0 });
    pageSize = meta.pageSize;
  }
  const sizes = pageSize !== 0 ? [pageSize] : [];
  if (pageSize === 0) { for (let s = 1024; s <= 1 << 24; s *= 2) sizes.push(s); }
  for (const s of sizes) {
    const m1 = await readAt(s, PAGE_HEADER_SIZE + 64);
    if (m1 !== undefined && metaProblem(m1) === undefined && readMeta(m1).pageSize === s) {
      candidates.push({ meta: readMeta(m1), page: 1 });
      break;
    }
  }
  if (candidates.length === 0) {
    const why = m0 === undefined ? "file too short" : metaProblem(m0);
    throw new BoltFormatError(`${path}: not a bbolt file: ${why}`);
  }
  candidates.sort((a, b) => (a.meta.txid > b.meta.txid ? -1 : a.meta.txid < b.meta.txid ? 1 : 0));
  const meta = candidates[0].meta;
  if (meta.pageSize < 512 || (meta.pageSize & (meta.pageSize - 1)) !== 0) {
    throw new BoltFormatError(`${path}: page size ${meta.pageSize} is not a power of two`);
  }
  if (meta.pageSize !== DEFAULT_PAGE_SIZE && meta.pageSize > 1 << 24) {
    throw new BoltFormatError(`${path}: page size ${meta.pageSize} too large`);
  }
  return meta;
}
