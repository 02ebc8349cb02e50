/**
 * A one-time read of a whole committed tree in key order, for rebuilding what is derived from a
 * bucket at open (the MVCC key index). A cursor reads one page per `pread`, allocates a buffer
 * per page and keeps every page in the cache: over a 600 MB bucket that is 150,000 system
 * calls and allocations and 600 MB of cached pages no one reads again (docs/perf.md, "Restart
 * time"). This scan reads the pages of each tree level in windows: the window's page ids sorted
 * by position in the file, nearby ones (up to `GAP_PAGES` apart) read with one `pread` into a
 * scratch buffer reused from window to window, each page verified (checksum, id, type) as the
 * pager verifies it, and none cached. Pages already in memory (cached or written by this
 * process) are used as they are.
 */
import { CorruptionError } from "./errors.ts";
import {
  BRANCH,
  BUCKET_FLAG,
  elemChild,
  elemFlags,
  elemKey,
  elemValue,
  LEAF,
  pageCount,
  pageFlags,
  pageOverflowAt,
  typeName,
  verifyPage,
  verifyPageHeader,
} from "./page.ts";
import type { PageSource } from "./pager.ts";
import { MAX_DEPTH } from "./cursor.ts";
import { MAX_BACKLOG, PageVerifier, type VerifyMode } from "./page_verifier.ts";

/**
 * Pages read per window of one level (4 MiB of 4 KiB pages, more where they span several):
 * SLABS_PER_DEPTH buffers of a window's size are held while the verifier works.
 */
export const WINDOW_PAGES = 1024;
/** Ids this close (in pages) are read with one call, the pages between them read and unused. */
export const GAP_PAGES = 8;
/** Read buffers per tree depth: one the walk reads, and windows the verifier still checks. */
const SLABS_PER_DEPTH = 1 + MAX_BACKLOG;

/** A scan's settings (the tests shrink the window to cross its edges). */
export interface TreeScanOptions {
  windowPages?: number;
  gapPages?: number;
  /** Where the page checksums are computed (page_verifier.ts); "auto" by default. */
  verify?: VerifyMode;
  /** Filled in when the scan ends: pages it checked, and how many of them on the worker. */
  stats?: { pages: number; workerPages: number };
}

/**
 * Calls `fn` for every key and value of the tree rooted at page `root`, in key order, skipping
 * nested buckets. Keys and values are views valid only during the call. Throws
 * CorruptionError naming the page when a page is damaged or not a tree page. Every page's
 * checksum is checked before this returns; `fn` may have been called with the contents of a
 * page whose checksum was still being computed on the verifier's worker, so a caller builds
 * nothing it keeps until this returns (a throw means: discard what `fn` was given).
 */
export function scanTree(
  src: PageSource,
  root: number,
  fn: (key: Uint8Array, value: Uint8Array) => void,
  opts: TreeScanOptions = {},
): void {
  const verifier = new PageVerifier(opts.verify ?? "auto", src.limit * src.pageSize);
  try {
    const scan = new Scan(
      src,
      fn,
      opts.windowPages ?? WINDOW_PAGES,
      opts.gapPages ?? GAP_PAGES,
      verifier,
    );
    try {
      scan.level([root], 0);
    } catch (err) {
      // a damaged page can derail the walk (a wrong child id, a garbled element) before its
      // checksum is known: the damaged page is the error to report, as the pager would
      verifier.waitFor(scan.lastJob);
      throw verifier.failure() ?? err;
    }
    verifier.finish();
    if (opts.stats) {
      opts.stats.pages = scan.pages;
      opts.stats.workerPages = verifier.workerPages;
    }
  } finally {
    verifier.close();
  }
}

/** A buffer a level's pages are read into, and the verifier job that still reads it. */
interface Slab {
  buf: Uint8Array;
  job: number;
}

class Scan {
  readonly #src: PageSource;
  readonly #fn: (key: Uint8Array, value: Uint8Array) => void;
  readonly #window: number;
  readonly #gap: number;
  readonly #ps: number;
  readonly #verifier: PageVerifier;
  /**
   * Up to SLABS_PER_DEPTH buffers per depth: a level's window stays readable while its
   * children run, and the next windows are read while the verifier still checks the last.
   */
  readonly #slabs: Slab[][] = [];
  /** The last verifier job handed out. */
  lastJob = 0;
  /** Pages read and checked (not counting those in memory already). */
  pages = 0;

  constructor(
    src: PageSource,
    fn: (key: Uint8Array, value: Uint8Array) => void,
    window: number,
    gap: number,
    verifier: PageVerifier,
  ) {
    this.#src = src;
    this.#fn = fn;
    this.#window = Math.max(1, window);
    this.#gap = Math.max(0, gap);
    this.#ps = src.pageSize;
    this.#verifier = verifier;
  }

  /**
   * Visits the pages `ids` (siblings or cousins, in key order): a leaf's elements at once, a
   * run of branches by visiting all their children (in order) as the next level.
   */
  level(ids: number[], depth: number): void {
    if (depth >= MAX_DEPTH) {
      throw new CorruptionError(ids[0], `tree deeper than ${MAX_DEPTH} levels (a cycle?)`);
    }
    for (let w = 0; w < ids.length; w += this.#window) {
      const win = ids.slice(w, w + this.#window);
      const pages = this.#read(win, depth);
      let children: number[] = [];
      for (let i = 0; i < win.length; i++) {
        const p = pages[i];
        if (pageFlags(p) === BRANCH) {
          const n = pageCount(p);
          if (n === 0) throw new CorruptionError(win[i], "empty branch page");
          for (let j = 0; j < n; j++) children.push(elemChild(p, j));
          continue;
        }
        if (children.length > 0) {
          this.level(children, depth + 1);
          children = [];
        }
        this.#visitLeaf(p);
      }
      if (children.length > 0) this.level(children, depth + 1);
    }
  }

  #visitLeaf(p: Uint8Array): void {
    const n = pageCount(p);
    const fn = this.#fn;
    for (let i = 0; i < n; i++) {
      if (elemFlags(p, i) & BUCKET_FLAG) continue;
      fn(elemKey(p, i), elemValue(p, i));
    }
  }

  #slabFor(depth: number, bytes: number): Slab {
    return slabFor(this.#slabs[depth] ??= [], this.#verifier, bytes);
  }

  /** The verified pages `ids`, in the order given. */
  #read(ids: number[], depth: number): Uint8Array[] {
    const ps = this.#ps;
    const out: Uint8Array[] = new Array(ids.length);
    const missing: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const cached = this.#src.cachedPage(ids[i]);
      if (cached !== undefined) out[i] = checkType(cached, ids[i]);
      else missing.push(i);
    }
    if (missing.length === 0) return out;
    const sorted = missing.map((i) => ids[i]).sort((a, b) => a - b);
    // runs of nearby ids, each read with one call into consecutive space of the scratch
    const runs: { first: number; pages: number; at: number }[] = [];
    let bytes = 0;
    for (let i = 0; i < sorted.length;) {
      const first = sorted[i];
      let last = first;
      while (i + 1 < sorted.length && sorted[i + 1] - last <= this.#gap + 1) last = sorted[++i];
      i++;
      const pages = last - first + 1;
      runs.push({ first, pages, at: bytes });
      bytes += pages * ps;
    }
    const slab = this.#slabFor(depth, bytes);
    const scratch = slab.buf;
    const where = new Map<number, number>();
    for (const r of runs) {
      this.#src.readRaw(scratch.subarray(r.at, r.at + r.pages * ps), r.first);
      for (let k = 0; k < r.pages; k++) where.set(r.first + k, r.at + k * ps);
    }
    // the checksums of the pages read into the scratch go to the verifier in one job
    const checks: number[] = [];
    for (const i of missing) {
      const id = ids[i];
      const at = where.get(id)!;
      // read in place: a view per page cost more than the rest of this loop (CPU profile)
      const span = (pageOverflowAt(scratch, at) + 1) * ps;
      let p: Uint8Array;
      const run = runs[upperRun(runs, id)];
      if (at + span <= run.at + run.pages * ps) {
        p = scratch.subarray(at, at + span);
        verifyPageHeader(p, id, ps);
        checks.push(at, id, span);
      } else {
        // a page spanning past its run (a big value's overflow): read whole on its own
        if (id + span / ps > this.#src.limit) {
          throw new CorruptionError(
            id,
            `overflow of ${span / ps - 1} pages runs past the end of the file`,
          );
        }
        p = new Uint8Array(span);
        this.#src.readRaw(p, id);
        verifyPage(p, id, ps);
      }
      out[i] = checkType(p, id);
    }
    this.pages += missing.length;
    const job = this.#verifier.check(scratch, checks);
    if (job > 0) slab.job = this.lastJob = job;
    return out;
  }
}

/**
 * A buffer of at least `bytes` for a window at `depth` that the verifier no longer reads
 * (the window before it at this depth is done with: the walk visits a depth's windows in
 * turn), waiting for the oldest job only when every buffer of the depth is still in its hands.
 */
function slabFor(slabs: Slab[], verifier: PageVerifier, bytes: number): Slab {
  let slab = slabs.find((s) => verifier.isDone(s.job));
  if (slab === undefined) {
    if (slabs.length < SLABS_PER_DEPTH) {
      slab = { buf: new Uint8Array(0), job: 0 };
      slabs.push(slab);
    } else {
      slab = slabs.reduce((a, b) => (a.job <= b.job ? a : b));
      verifier.waitFor(slab.job);
    }
  }
  if (slab.buf.length < bytes) slab.buf = verifier.alloc(bytes);
  return slab;
}

/** Index of the run holding page `id` (the last run starting at or before it). */
function upperRun(runs: { first: number }[], id: number): number {
  let lo = 0;
  let hi = runs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (runs[mid].first <= id) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function checkType(p: Uint8Array, id: number): Uint8Array {
  const t = pageFlags(p);
  if (t !== LEAF && t !== BRANCH) {
    throw new CorruptionError(id, `expected a branch or leaf page, found ${typeName(t)}`);
  }
  return p;
}
