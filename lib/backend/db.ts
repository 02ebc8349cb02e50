/**
 * The page file database (our boltdb): open/close under an exclusive lock, transactions,
 * commit, stats, check, streaming copy and compaction.
 *
 * Commit is split in two. `prepare` runs synchronously inside `Tx.commit()`: it spills the
 * edited nodes into new pages, updates the freelist and makes the new meta current in memory,
 * so the next write transaction can start at once. `persist` then writes the new pages
 * (coalesced into contiguous runs), fdatasyncs, writes the meta page into slot txid % 2 and
 * fdatasyncs again; the meta write is the commit point. Persists run one after another, so a
 * page freed by transaction t (still reachable from the durable meta t - 1) is only
 * overwritten by a later transaction whose writes start after t's meta is durable, and that
 * later transaction's meta goes to the other slot. A failed persist fails the database: the
 * file keeps the last durable commit and every later call throws FailedError.
 */
import { dirname, type Disk, type DiskFile } from "../io/disk.ts";
import { checkTree } from "./check.ts";
import { compactSnapshot } from "./compact.ts";
import { writeSnapshot } from "./copy.ts";
import { treePage } from "./cursor.ts";
import { ClosedError, CorruptionError, FailedError, LockedError, UsageError } from "./errors.ts";
import { Freelist } from "./freelist.ts";
import { decodeMeta, encodeMeta, type Meta } from "./meta.ts";
import {
  BRANCH,
  BUCKET_FLAG,
  DEFAULT_PAGE_SIZE,
  elemChild,
  LEAF,
  MAX_PAGE_SIZE,
  MAX_PGID,
  MIN_PAGE_SIZE,
  pageFlags,
  pageOverflow,
  sealPage,
  u32,
  writeHeader,
} from "./page.ts";
import { Pager } from "./pager.ts";
import { spillTree } from "./spill.ts";
import { Tx, type TxOwner } from "./tx.ts";

/** Options for opening a page file. */
export interface DBOptions {
  /** Page size for a new file (a power of two, 512..65536); ignored for an existing file. */
  pageSize?: number;
  /** Bound on page bytes kept in memory (default 1 GiB); clean pages past it are evicted. */
  cacheBytes?: number;
}

/** Page counts and sizes. */
export interface DBStats {
  pageSize: number;
  /** Pages below the high-water mark (including the two meta pages). */
  pages: number;
  /** Free or pending pages. */
  freePages: number;
  /** Pages holding live data. */
  inUsePages: number;
  /** Bytes of the file. */
  fileBytes: number;
  /** Depth of the deepest top-level bucket's tree (1 = a single leaf). */
  depth: number;
  /** Bytes of page data held in memory. */
  cachedBytes: number;
  /** The current transaction id. */
  txid: number;
}

/** Largest single writeAt when writing contiguous dirty pages. */
const MAX_RUN_BYTES = 4 << 20;

/** An open page file. */
export class DB implements TxOwner {
  readonly path: string;
  readonly pageSize: number;
  readonly pager: Pager;
  readonly #disk: Disk;
  readonly #file: DiskFile;
  /** The newest committed meta (maybe not durable yet). */
  #meta: Meta;
  #freelist: Freelist;
  #freelistSpan: number;
  #fileBytes: number;
  /** Open read transactions per snapshot txid. */
  #readers = new Map<number, number>();
  #writer: Tx | null = null;
  /** The chain of persists: resolves when every prepared commit is durable. */
  #persisting: Promise<void> = Promise.resolve();
  /**
   * While true, commits write their pages and meta without fsyncing them: for a file that is
   * thrown away unless `sync()` is called before anyone relies on it (an online defrag's
   * copy, online_defrag.ts). Never set on a live file.
   */
  unsynced = false;
  #failure: FailedError | null = null;
  #closed = false;

  private constructor(
    disk: Disk,
    path: string,
    file: DiskFile,
    meta: Meta,
    freelist: Freelist,
    freelistSpan: number,
    pager: Pager,
    fileBytes: number,
  ) {
    this.#disk = disk;
    this.path = path;
    this.#file = file;
    this.#meta = meta;
    this.pageSize = meta.pageSize;
    this.#freelist = freelist;
    this.#freelistSpan = freelistSpan;
    this.pager = pager;
    this.#fileBytes = fileBytes;
  }

  /**
   * Opens (creating when missing) the page file at `path`, taking its exclusive lock.
   * Throws LockedError when another handle holds it and CorruptionError (naming the page)
   * when the file is damaged.
   */
  static async open(disk: Disk, path: string, options: DBOptions = {}): Promise<DB> {
    const file = await disk.open(path, { create: true });
    try {
      if (!(await file.tryLock())) throw new LockedError(path);
      // What a crashed process left in the page cache is not durable yet; make it so before
      // building on it (otherwise a later power loss could revert the meta we start from while
      // our next commits overwrite the pages the older meta needs).
      await file.sync();
      let size = await file.size();
      if (size === 0) {
        await initFile(file, options.pageSize ?? DEFAULT_PAGE_SIZE);
        await disk.syncDir(dirname(path));
        size = await file.size();
      }
      const meta = readMetas(file, size);
      const ps = meta.pageSize;
      if (size < meta.hwm * ps) {
        throw new CorruptionError(
          Math.floor(size / ps),
          `file truncated: transaction ${meta.txid} needs ${meta.hwm} pages (${
            meta.hwm * ps
          } bytes) but the file has ${size} bytes`,
        );
      }
      const pager = new Pager(file, ps, meta.hwm, options.cacheBytes);
      const flPage = pager.page(meta.freelist);
      const freelist = Freelist.read(flPage, meta.freelist, meta.hwm);
      treePage(pager, meta.root);
      return new DB(disk, path, file, meta, freelist, pageOverflow(flPage) + 1, pager, size);
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  #checkUsable(): void {
    if (this.#closed) throw new ClosedError(`page file ${this.path} is closed`);
    if (this.#failure) throw this.#failure;
  }

  /** The newest committed meta. */
  get meta(): Readonly<Meta> {
    return this.#meta;
  }

  /** The error that failed this database, if any. */
  get failure(): Error | null {
    return this.#failure;
  }

  /**
   * Begins a transaction. Read transactions see the newest commit and may stay open across
   * awaits (close them with rollback). Only one write transaction may be open at a time.
   */
  begin(writable: boolean): Tx {
    this.#checkUsable();
    const meta = { ...this.#meta };
    if (writable) {
      if (this.#writer) throw new UsageError("a write transaction is already open");
      // Pages freed by commits that no open reader can see become reusable.
      this.#freelist.releaseUnseen([...this.#readers.keys()].sort((a, b) => a - b));
      const tx = new Tx(this, meta, true);
      this.#writer = tx;
      return tx;
    }
    this.#readers.set(meta.txid, (this.#readers.get(meta.txid) ?? 0) + 1);
    return new Tx(this, meta, false);
  }

  /** Runs `fn` in a read transaction. */
  view<T>(fn: (tx: Tx) => T): T {
    const tx = this.begin(false);
    try {
      return fn(tx);
    } finally {
      tx.rollback();
    }
  }

  /** Runs `fn` in a write transaction and commits it (rolls back if `fn` throws). */
  async update(fn: (tx: Tx) => void): Promise<void> {
    const tx = this.begin(true);
    try {
      fn(tx);
    } catch (err) {
      tx.rollback();
      throw err;
    }
    await tx.commit();
  }

  /** TxOwner: ends a transaction; for a committing writer, prepares then persists. */
  finish(tx: Tx, committed: boolean): Promise<void> {
    if (!tx.writable) {
      const n = (this.#readers.get(tx.meta.txid) ?? 1) - 1;
      if (n <= 0) this.#readers.delete(tx.meta.txid);
      else this.#readers.set(tx.meta.txid, n);
      return Promise.resolve();
    }
    if (this.#writer === tx) this.#writer = null;
    if (!committed) return Promise.resolve();
    try {
      this.#checkUsable();
    } catch (err) {
      return Promise.reject(err);
    }
    let prepared: { meta: Meta; pages: Map<number, Uint8Array> };
    try {
      prepared = this.#prepare(tx);
    } catch (err) {
      // A half-done prepare leaves the in-memory freelist inconsistent: stop here.
      this.#failure = new FailedError(`commit of transaction ${tx.meta.txid + 1} failed`, err);
      return Promise.reject(this.#failure);
    }
    const run = this.#persisting.then(() => this.#persist(prepared.meta, prepared.pages)).catch(
      (err) => {
        this.#failure ??= new FailedError(
          `commit of transaction ${prepared.meta.txid} failed; the file keeps the last durable commit`,
          err,
        );
        throw this.#failure;
      },
    );
    this.#persisting = run.catch(() => {});
    return run;
  }

  /** Allocates `span` contiguous pages, from the freelist or by extending the file. */
  #allocate(meta: Meta, span: number): number {
    let id = this.#freelist.allocate(span);
    if (id === 0) {
      id = meta.hwm;
      if (id + span > MAX_PGID) throw new Error("page file full: page ids exhausted");
      meta.hwm += span;
      this.pager.limit = meta.hwm;
    }
    // which commit wrote it, so that a reader open now does not hold it once rewritten
    if (this.#readers.size > 0) this.#freelist.allocated(id, span, meta.txid);
    return id;
  }

  #prepare(tx: Tx): { meta: Meta; pages: Map<number, Uint8Array> } {
    const meta: Meta = { ...this.#meta, txid: tx.meta.txid + 1 };
    const pages = new Map<number, Uint8Array>();
    const ctx = {
      pageSize: this.pageSize,
      materialize: (id: number) => tx.materialize(id),
      allocate: (span: number) => this.#allocate(meta, span),
      emit: (id: number, p: Uint8Array) => {
        pages.set(id, p);
      },
    };
    if (tx.root.dirty()) {
      tx.root.spill((root) => spillTree(ctx, root));
      meta.root = tx.root.rootPgid;
    }
    const freed = tx.freed;
    for (let i = 0; i < freed.length; i += 2) {
      this.#freelist.freePending(meta.txid, freed[i], freed[i + 1]);
    }
    // A new freelist page replaces the old one every commit.
    this.#freelist.freePending(meta.txid, meta.freelist, this.#freelistSpan);
    const ps = this.pageSize;
    const span = Math.ceil(Freelist.bytesFor(this.#freelist.count) / ps);
    const flId = this.#allocate(meta, span);
    const fl = new Uint8Array(span * ps);
    this.#freelist.write(fl, flId, span - 1);
    pages.set(flId, fl);
    meta.freelist = flId;
    this.#freelistSpan = span;
    for (const [id, p] of pages) {
      if (id !== flId) sealPage(p);
      this.pager.put(id, p);
    }
    this.#meta = meta;
    return { meta, pages };
  }

  async #persist(meta: Meta, pages: Map<number, Uint8Array>): Promise<void> {
    if (this.#failure) throw this.#failure;
    const ps = this.pageSize;
    const ids = [...pages.keys()].sort((a, b) => a - b);
    const writes: { data: Uint8Array; offset: number }[] = [];
    let i = 0;
    while (i < ids.length) {
      // Gather a run of contiguous page spans.
      let j = i;
      let bytes = pages.get(ids[i])!.length;
      while (j + 1 < ids.length) {
        const cur = pages.get(ids[j])!;
        const next = pages.get(ids[j + 1])!;
        if (ids[j] + cur.length / ps !== ids[j + 1] || bytes + next.length > MAX_RUN_BYTES) break;
        bytes += next.length;
        j++;
      }
      let buf: Uint8Array;
      if (i === j) buf = pages.get(ids[i])!;
      else {
        buf = new Uint8Array(bytes);
        let o = 0;
        for (let k = i; k <= j; k++) {
          const p = pages.get(ids[k])!;
          buf.set(p, o);
          o += p.length;
        }
      }
      writes.push({ data: buf, offset: ids[i] * ps });
      i = j + 1;
    }
    if (this.#file.writeBatchAt) await this.#file.writeBatchAt(writes);
    else for (const w of writes) await this.#file.writeAt(w.data, w.offset);
    if (!this.unsynced) await this.#file.sync();
    const metaWrite = { data: encodeMeta(meta), offset: (meta.txid % 2) * ps };
    if (this.#file.writeBatchAt) await this.#file.writeBatchAt([metaWrite]);
    else await this.#file.writeAt(metaWrite.data, metaWrite.offset);
    if (!this.unsynced) await this.#file.sync();
    this.pager.unpin(pages);
    this.#fileBytes = Math.max(this.#fileBytes, meta.hwm * ps);
  }

  /** Resolves when every commit so far is durable (rejects if one failed). */
  async flush(): Promise<void> {
    await this.#persisting;
    if (this.#failure) throw this.#failure;
  }

  /** Waits for every commit so far and fsyncs the file: what `unsynced` commits skipped. */
  async sync(): Promise<void> {
    await this.flush();
    try {
      await this.#file.sync();
    } catch (err) {
      this.#failure ??= new FailedError("fsync of unsynced commits failed", err);
      throw this.#failure;
    }
  }

  /**
   * The file's size and how much of it holds live pages: cheap (no tree walk), for callers
   * on every request such as the quota check.
   */
  usage(): { pageSize: number; inUsePages: number; fileBytes: number } {
    const meta = this.#meta;
    return {
      pageSize: this.pageSize,
      inUsePages: meta.hwm - this.#freelist.count,
      fileBytes: Math.max(this.#fileBytes, meta.hwm * this.pageSize),
    };
  }

  /** Page counts, sizes and tree depth (walks each bucket's spine: not for hot paths). */
  stats(): DBStats {
    const meta = this.#meta;
    let depth = 0;
    this.view((tx) => {
      const c = tx.cursor();
      for (let ok = c.first(); ok; ok = c.next()) {
        if (!(c.flags() & BUCKET_FLAG)) continue;
        let id = u32(c.value(), 0);
        let d = 1;
        for (let p = treePage(tx, id); pageFlags(p) === BRANCH; p = treePage(tx, id)) {
          id = elemChild(p, 0);
          d++;
          if (d > 64) break;
        }
        depth = Math.max(depth, d);
      }
    });
    const free = this.#freelist.count;
    return {
      pageSize: this.pageSize,
      pages: meta.hwm,
      freePages: free,
      inUsePages: meta.hwm - free,
      fileBytes: Math.max(this.#fileBytes, meta.hwm * this.pageSize),
      depth,
      cachedBytes: this.pager.cachedBytes,
      txid: meta.txid,
    };
  }

  /**
   * Verifies the whole newest snapshot: every page's checksum and type, key order within and
   * across pages, equal leaf depth, no page reached twice (cycles), and that every page is
   * exactly one of reachable, free, or meta. Returns the problems found (empty when sound).
   */
  check(): string[] {
    this.#checkUsable();
    return this.view((tx) => checkTree(tx, tx.meta));
  }

  /**
   * Streams a consistent copy of the newest commit to `sink` (a valid page file: reachable
   * pages copied, free pages zeroed) while writes continue; returns the bytes written.
   */
  async writeTo(
    sink: (chunk: Uint8Array) => Promise<void>,
    onSize?: (bytes: number) => void,
  ): Promise<number> {
    this.#checkUsable();
    const tx = this.begin(false);
    try {
      return await writeSnapshot(tx, sink, onSize);
    } finally {
      tx.rollback();
    }
  }

  /**
   * Writes a compacted copy of the newest commit to a new file at `path` on `disk` (every
   * bucket and key rewritten in order into densely filled pages). The copy is fsynced and
   * its name made durable; the source is unchanged.
   */
  async compactTo(disk: Disk, path: string, options: { batchBytes?: number } = {}): Promise<void> {
    this.#checkUsable();
    const src = this.begin(false);
    try {
      const dst = await DB.open(disk, path, { pageSize: this.pageSize });
      try {
        await compactSnapshot(src, dst, options.batchBytes ?? (16 << 20));
      } finally {
        await dst.close();
      }
    } finally {
      src.rollback();
    }
  }

  /** Waits for pending commits and closes the file, releasing its lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      // Wait for the whole chain, including commits prepared while waiting.
      for (let p = this.#persisting;; p = this.#persisting) {
        await p;
        if (p === this.#persisting) break;
      }
    } finally {
      this.#closed = true;
      this.#writer = null;
      await this.#file.close();
    }
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }
}

/** Writes a fresh file: meta pages 0 and 1, an empty freelist at 2, an empty root leaf at 3. */
async function initFile(file: DiskFile, pageSize: number): Promise<void> {
  if (
    !Number.isInteger(pageSize) || pageSize < MIN_PAGE_SIZE || pageSize > MAX_PAGE_SIZE ||
    (pageSize & (pageSize - 1)) !== 0
  ) {
    throw new UsageError(
      `page size ${pageSize} is not a power of two in ${MIN_PAGE_SIZE}..${MAX_PAGE_SIZE}`,
    );
  }
  const buf = new Uint8Array(4 * pageSize);
  const fl = buf.subarray(2 * pageSize, 3 * pageSize);
  new Freelist().write(fl, 2, 0);
  const root = buf.subarray(3 * pageSize, 4 * pageSize);
  writeHeader(root, 3, LEAF, 0, 0, 20);
  sealPage(root);
  buf.set(encodeMeta({ pageSize, root: 3, freelist: 2, hwm: 4, txid: 0 }), 0);
  buf.set(encodeMeta({ pageSize, root: 3, freelist: 2, hwm: 4, txid: 1 }), pageSize);
  await file.writeAt(buf, 0);
  await file.sync();
}

/** Reads both meta pages and returns the valid one with the higher transaction id. */
function readMetas(file: DiskFile, size: number): Meta {
  const errors: string[] = [];
  const tryRead = (slot: number, ps: number): Meta | null => {
    const buf = new Uint8Array(Math.min(ps, MAX_PAGE_SIZE));
    const n = file.readAtSync(buf, slot * ps);
    try {
      const m = decodeMeta(buf.subarray(0, n), slot);
      if (slot === 1 && m.pageSize !== ps) {
        throw new CorruptionError(1, `page size ${m.pageSize} at offset ${ps}`);
      }
      return m;
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
      return null;
    }
  };
  const m0 = tryRead(0, MIN_PAGE_SIZE);
  let m1: Meta | null = null;
  if (m0) m1 = tryRead(1, m0.pageSize);
  else {
    // Meta 0 is unreadable: find meta 1 at each possible page size.
    for (let ps = MIN_PAGE_SIZE; ps <= MAX_PAGE_SIZE && !m1; ps *= 2) {
      if (ps * 2 <= size) m1 = tryRead(1, ps);
    }
  }
  if (m0 && m1) return m1.txid > m0.txid ? m1 : m0;
  const m = m0 ?? m1;
  if (!m) {
    throw new CorruptionError(-1, `no valid meta page (${errors.slice(0, 3).join("; ")})`);
  }
  return m;
}
