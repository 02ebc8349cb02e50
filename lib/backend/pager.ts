/**
 * The pager: page ids to page bytes. JavaScript cannot mmap the file, so the pager keeps every
 * page it has read or written in memory (one Uint8Array per page span) and reads a missing
 * page synchronously with `readAtSync`, verifying its checksum once on the way in. Pages are
 * immutable once written: a commit never changes a buffer, it installs new ones for new ids,
 * so a reader holding an old buffer keeps a consistent view.
 *
 * Memory: at most one copy of each page of the file that has been touched since open, so the
 * resident size is bounded by the file size (see docs/perf-backend.md).
 */
import type { DiskFile } from "../io/disk.ts";
import { CorruptionError } from "./errors.ts";
import { pageOverflow, verifyPage } from "./page.ts";

/** Where pages come from. */
export interface PageSource {
  readonly pageSize: number;
  /** The verified bytes of page `id` (the whole span). */
  page(id: number): Uint8Array;
}

/** Page cache over a file. */
export class Pager implements PageSource {
  readonly pageSize: number;
  readonly #file: DiskFile;
  #pages: (Uint8Array | undefined)[] = [];
  /** Pages ids at or above this are not valid to read (the current high-water mark). */
  limit: number;
  /** Bytes currently cached. */
  cachedBytes = 0;

  constructor(file: DiskFile, pageSize: number, limit: number) {
    this.#file = file;
    this.pageSize = pageSize;
    this.limit = limit;
  }

  page(id: number): Uint8Array {
    const p = this.#pages[id];
    if (p !== undefined) return p;
    return this.#load(id);
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
    this.#pages[id] = p;
    this.cachedBytes += p.length;
    return p;
  }

  /** Installs the bytes of a page written by this process. */
  put(id: number, p: Uint8Array): void {
    const old = this.#pages[id];
    if (old !== undefined) this.cachedBytes -= old.length;
    this.#pages[id] = p;
    this.cachedBytes += p.length;
  }

  /** Reads page `id` from the file, bypassing the cache (used by check and copies). */
  readFresh(id: number): Uint8Array {
    const cached = this.#pages[id];
    if (cached !== undefined) return cached;
    return this.#load(id);
  }
}
