/**
 * The pager: page ids to page bytes. JavaScript cannot mmap the file, so the pager keeps every
 * page it has read or written in memory (one Uint8Array per page span) and reads a missing
 * page synchronously with `readAtSync`, verifying its checksum once on the way in. Pages are
 * immutable once written: a commit never changes a buffer, it installs new ones for new ids,
 * so a reader holding an old buffer keeps a consistent view.
 *
 * Memory: at most one copy of each page touched since open, and at most `cacheBytes` of them
 * (default 1 GiB): past that, clean pages are evicted in CLOCK order (a page read since the
 * last sweep gets a second chance) and read again on the next miss. Pages written by a commit
 * that is not yet on disk are pinned until it is; once it is, a written leaf (or overflow or
 * freelist page) that nothing read meanwhile is dropped at once: most pages a commit writes are
 * never read again (the leaves of older revisions; the copies the next commit replaces), and
 * keeping them made the cache as large as the file (30 MiB of a member's peak RSS under
 * bench:compare, where etcd's mmap holds only the pages it reads: docs/perf.md "Peak RSS,
 * sixth session"). Written branch pages stay (read by every next commit). Views handed out
 * stay valid after eviction (the buffer lives on while referenced).
 */
import type { DiskFile } from "../io/disk.ts";
import { CorruptionError } from "./errors.ts";
import { BRANCH, pageFlags, pageOverflow, verifyPage } from "./page.ts";

/** Where pages come from. */
export interface PageSource {
  readonly pageSize: number;
  /** Page ids at or above this are past the file's pages. */
  readonly limit: number;
  /** The verified bytes of page `id` (the whole span). */
  page(id: number): Uint8Array;
  /** Page `id` if it is in memory already (verified, or written here), without reading. */
  cachedPage(id: number): Uint8Array | undefined;
  /**
   * Reads the raw, unverified bytes of the whole pages from `id` into `buf` (a multiple of
   * the page size), bypassing the cache: for a one-time scan that verifies what it uses
   * (scan.ts). Throws CorruptionError when the pages run past the file's.
   */
  readRaw(buf: Uint8Array, id: number): void;
}

/** Default bound on cached page bytes. */
export const DEFAULT_CACHE_BYTES = 1 << 30;

/** Page cache over a file. */
export class Pager implements PageSource {
  readonly pageSize: number;
  readonly #file: DiskFile;
  #pages: (Uint8Array | undefined)[] = [];
  /** CLOCK reference bits, by page id. */
  #ref: Uint8Array = new Uint8Array(1024);
  /** 1 for the ids in #queue (each id at most once), by page id. */
  #queued: Uint8Array = new Uint8Array(1024);
  /** Ids in cache order, swept from #hand; may hold ids whose page was dropped since. */
  #queue: number[] = [];
  #hand = 0;
  /** Pages written by commits not yet durable: never evicted. */
  #pinned = new Set<number>();
  /** Pages ids at or above this are not valid to read (the current high-water mark). */
  limit: number;
  /** Bytes currently cached. */
  cachedBytes = 0;
  readonly cacheBytes: number;

  constructor(file: DiskFile, pageSize: number, limit: number, cacheBytes = DEFAULT_CACHE_BYTES) {
    this.#file = file;
    this.pageSize = pageSize;
    this.limit = limit;
    this.cacheBytes = Math.max(cacheBytes, 64 * pageSize);
  }

  page(id: number): Uint8Array {
    const p = this.#pages[id];
    if (p !== undefined) {
      if (id < this.#ref.length) this.#ref[id] = 1;
      return p;
    }
    return this.#load(id);
  }

  cachedPage(id: number): Uint8Array | undefined {
    return this.#pages[id];
  }

  readRaw(buf: Uint8Array, id: number): void {
    const ps = this.pageSize;
    const pages = buf.length / ps;
    if (id < 2 || id + pages > this.limit || !Number.isInteger(pages)) {
      throw new CorruptionError(
        id,
        `pages ${id}..${id + pages - 1} outside the file's pages 2..${this.limit - 1}`,
      );
    }
    const n = this.#file.readAtSync(buf, id * ps);
    if (n < buf.length) {
      throw new CorruptionError(id, `file truncated: read ${n} of ${buf.length} bytes`);
    }
  }

  #load(id: number): Uint8Array {
    if (id < 2 || id >= this.limit) {
      throw new CorruptionError(id, `page id outside the file's pages 2..${this.limit - 1}`);
    }
    const ps = this.pageSize;
    const first = new Uint8Array(ps);
    const n = this.#file.readAtSync(first, id * ps);
    if (n < ps) throw new CorruptionError(id, `file truncated: read ${n} of ${ps} bytes`);
    const overflow = pageOverflow(first);
    let p = first;
    if (overflow > 0) {
      if (id + overflow >= this.limit) {
        throw new CorruptionError(
          id,
          `overflow of ${overflow} pages runs past the end of the file`,
        );
      }
      p = new Uint8Array((overflow + 1) * ps);
      p.set(first);
      const rest = p.subarray(ps);
      const m = this.#file.readAtSync(rest, (id + 1) * ps);
      if (m < rest.length) {
        throw new CorruptionError(id, `file truncated: read ${m + ps} of ${p.length} bytes`);
      }
    }
    verifyPage(p, id, ps);
    this.#install(id, p, 1);
    return p;
  }

  /** Caches `p` as page `id`; `ref`: whether it counts as used (a read) for the CLOCK. */
  #install(id: number, p: Uint8Array, ref: 0 | 1): void {
    if (id >= this.#ref.length) {
      const n = Math.max(id + 1, this.#ref.length * 2);
      const ref = new Uint8Array(n);
      ref.set(this.#ref);
      this.#ref = ref;
      const queued = new Uint8Array(n);
      queued.set(this.#queued);
      this.#queued = queued;
    }
    const old = this.#pages[id];
    if (old !== undefined) this.cachedBytes -= old.length;
    if (this.#queued[id] === 0) {
      this.#queue.push(id);
      this.#queued[id] = 1;
    }
    this.#pages[id] = p;
    this.cachedBytes += p.length;
    this.#ref[id] = ref;
    if (this.cachedBytes > this.cacheBytes) this.#evict();
  }

  /** Sweeps the CLOCK until the cache is back under 90% of its bound. */
  #evict(): void {
    const target = this.cacheBytes * 0.9;
    let budget = this.#queue.length * 2;
    while (this.cachedBytes > target && this.#queue.length > 0 && budget-- > 0) {
      if (this.#hand >= this.#queue.length) this.#hand = 0;
      const id = this.#queue[this.#hand];
      const p = this.#pages[id];
      if (p === undefined) {
        this.#dropAt(this.#hand);
        continue;
      }
      if (this.#pinned.has(id) || this.#ref[id] === 1) {
        this.#ref[id] = 0;
        this.#hand++;
        continue;
      }
      this.#pages[id] = undefined;
      this.cachedBytes -= p.length;
      this.#dropAt(this.#hand);
    }
  }

  #dropAt(i: number): void {
    this.#queued[this.#queue[i]] = 0;
    const last = this.#queue.pop()!;
    if (i < this.#queue.length) this.#queue[i] = last;
  }

  /** Installs the bytes of a page written by this process; pinned until `unpin`. */
  put(id: number, p: Uint8Array): void {
    this.#pinned.add(id);
    this.#install(id, p, 0);
  }

  /**
   * Marks pages as durable on disk, so they may be evicted, unless a later commit has since
   * installed newer bytes for the id (those stay pinned until their own commit is durable).
   * A leaf, overflow or freelist page not read since it was written is dropped now (see the
   * file comment); the next read of it reads the file.
   */
  unpin(pages: Map<number, Uint8Array>): void {
    for (const [id, p] of pages) {
      if (this.#pages[id] !== p) continue;
      this.#pinned.delete(id);
      // branch pages stay: few (~1 % of the file), read by every next commit and every read
      if (this.#ref[id] === 0 && pageFlags(p) !== BRANCH) {
        this.#pages[id] = undefined;
        this.cachedBytes -= p.length;
      }
    }
  }
}
