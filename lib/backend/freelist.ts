/**
 * The freelist: which pages below the high-water mark hold nothing live. Pages a transaction
 * frees go to `pending` under that transaction's id and become reusable (`free`) only when no
 * open reader can still see them; a reader of snapshot r can see pages freed by transactions
 * after r, so pending[t] is released once every reader's snapshot is >= t. On disk the
 * freelist is one page span listing free and pending ids together (on reopen nobody reads an
 * older snapshot).
 *
 * A page allocated by commit a and freed by commit t is live in snapshots a..t-1 only, so it
 * is reusable as soon as no open reader's snapshot lies in that range, even while an older
 * reader stays open (bbolt's releaseRange). This is what keeps a long reader (an online
 * defragmentation's copy, a snapshot being sent) from making the file grow with every commit
 * made meanwhile: pages written after its snapshot and rewritten since are reused. The commit
 * that allocated a page is remembered (`allocated`) only while some reader is open, since a
 * page allocated with no reader open is older than any reader that can still start: treated
 * as allocated at 0, it is held exactly as long as it must be.
 */
import { CorruptionError } from "./errors.ts";
import {
  FREELIST,
  PAGE_HEADER,
  pageFlags,
  pageUsed,
  putU32,
  sealPage,
  u32,
  writeHeader,
} from "./page.ts";

/** The pages one commit freed, each with the commit that allocated it (0: unknown, old). */
interface Pending {
  ids: number[];
  allocs: number[];
  /** The largest of `allocs`. */
  maxAlloc: number;
}

/** The freelist: released ids (reusable now) and pending ids (freed, maybe still visible). */
export class Freelist {
  /** Reusable ids, sorted descending so the smallest is popped first (keeps files compact). */
  #free: number[] = [];
  /** Ids freed by each transaction, not yet reusable, with the commit that allocated each. */
  #pending = new Map<number, Pending>();
  /** The commit that allocated each page, for pages allocated while a reader was open. */
  #allocs = new Map<number, number>();
  /** `#allocs` size at which entries no reader needs are next dropped. */
  #pruneAt = 1024;
  /** Every free or pending id, to catch double frees. */
  #all = new Set<number>();

  /** Number of free plus pending pages. */
  get count(): number {
    return this.#all.size;
  }

  /** Number of reusable pages. */
  get freeCount(): number {
    return this.#free.length;
  }

  /** True when `id` is free or pending. */
  has(id: number): boolean {
    return this.#all.has(id);
  }

  /** Every free and pending id, ascending. */
  all(): number[] {
    return [...this.#all].sort((a, b) => a - b);
  }

  /** Records that transaction `txid` freed the span `[id, id + span)`. */
  freePending(txid: number, id: number, span: number): void {
    let list = this.#pending.get(txid);
    if (!list) this.#pending.set(txid, list = { ids: [], allocs: [], maxAlloc: 0 });
    const allocs = this.#allocs;
    for (let i = id; i < id + span; i++) {
      if (this.#all.has(i)) throw new Error(`internal error: page ${i} freed twice`);
      this.#all.add(i);
      const a = allocs.get(i) ?? 0;
      list.ids.push(i);
      list.allocs.push(a);
      if (a > list.maxAlloc) list.maxAlloc = a;
      if (allocs.size > 0) allocs.delete(i);
    }
  }

  /** Records that commit `txid` allocated `[id, id + span)` (call while a reader is open). */
  allocated(id: number, span: number, txid: number): void {
    for (let i = id; i < id + span; i++) this.#allocs.set(i, txid);
  }

  /**
   * Makes reusable every pending page that no open reader can see, given the snapshots the
   * open readers hold (`readers`, ascending, distinct; empty when none): a page freed by
   * commit t and allocated by commit a is visible to the snapshots a..t-1.
   */
  releaseUnseen(readers: readonly number[]): void {
    if (readers.length === 0) {
      this.#allocs.clear();
      this.#pruneAt = 1024;
      this.release(Number.MAX_SAFE_INTEGER);
      return;
    }
    this.release(readers[0]);
    // between two readers (and after the newest), pages both allocated and freed there
    for (let i = 0; i < readers.length; i++) {
      this.#releaseRange(readers[i] + 1, i + 1 < readers.length ? readers[i + 1] : Infinity);
    }
    if (this.#allocs.size >= this.#pruneAt) {
      // pages allocated at or before the oldest reader: every reader that is or can be open
      // sees them, as if allocated at 0
      for (const [id, a] of this.#allocs) if (a <= readers[0]) this.#allocs.delete(id);
      this.#pruneAt = Math.max(1024, 2 * this.#allocs.size);
    }
  }

  /** Makes pages pending from transactions <= `txid` reusable. */
  release(txid: number): void {
    let add: number[] = [];
    for (const [t, list] of this.#pending) {
      if (t <= txid) {
        add = add.length === 0 ? list.ids : add.concat(list.ids);
        this.#pending.delete(t);
      }
    }
    this.#addFree(add);
  }

  /** Releases the pages pending from commits `begin..end` that were allocated at >= `begin`. */
  #releaseRange(begin: number, end: number): void {
    if (begin > end) return;
    const add: number[] = [];
    for (const [t, list] of this.#pending) {
      // (a list whose pages are all older than `begin` is skipped whole: a long reader keeps
      // its snapshot's pages pending, and each commit looks at their lists, not their pages)
      if (t < begin || t > end || list.maxAlloc < begin) continue;
      const keep: Pending = { ids: [], allocs: [], maxAlloc: 0 };
      for (let i = 0; i < list.ids.length; i++) {
        const a = list.allocs[i];
        if (a >= begin) add.push(list.ids[i]);
        else {
          keep.ids.push(list.ids[i]);
          keep.allocs.push(a);
          if (a > keep.maxAlloc) keep.maxAlloc = a;
        }
      }
      if (keep.ids.length === 0) this.#pending.delete(t);
      else this.#pending.set(t, keep);
    }
    this.#addFree(add);
  }

  #addFree(add: number[]): void {
    if (add.length === 0) return;
    add.sort((a, b) => b - a);
    this.#free = mergeDescending(this.#free, add);
  }

  /**
   * Takes `n` contiguous reusable pages and returns the first id, or 0 when no run that long
   * is free (the caller then extends the file).
   */
  allocate(n: number): number {
    const f = this.#free;
    if (f.length === 0) return 0;
    if (n === 1) {
      const id = f.pop()!;
      this.#all.delete(id);
      return id;
    }
    // Runs ascend towards the end of the descending array: f[j] = x, f[j-1] = x+1, ...
    for (let j = f.length - 1; j >= n - 1; j--) {
      const x = f[j];
      let ok = true;
      for (let k = 1; k < n; k++) {
        if (f[j - k] !== x + k) {
          ok = false;
          break;
        }
      }
      if (ok) {
        f.splice(j - n + 1, n);
        for (let k = 0; k < n; k++) this.#all.delete(x + k);
        return x;
      }
    }
    return 0;
  }

  /** Bytes the on-disk form needs for `count` ids. */
  static bytesFor(count: number): number {
    return PAGE_HEADER + 4 + 4 * count;
  }

  /** Writes every free and pending id into `p` (a span allocated as page `id`). */
  write(p: Uint8Array, id: number, overflow: number): void {
    // Merge the (descending) free array, read backwards, with the sorted pending ids: linear
    // in the free count, so a large freelist costs no sort per commit.
    let pending: number[] = [];
    for (const list of this.#pending.values()) pending = pending.concat(list.ids);
    pending.sort((a, b) => a - b);
    const free = this.#free;
    const count = free.length + pending.length;
    const used = Freelist.bytesFor(count);
    if (used > p.length) throw new Error("internal error: freelist span too small");
    writeHeader(p, id, FREELIST, 0, overflow, used);
    putU32(p, PAGE_HEADER, count);
    let o = PAGE_HEADER + 4;
    let i = free.length - 1;
    let j = 0;
    while (i >= 0 || j < pending.length) {
      const x = j >= pending.length || (i >= 0 && free[i] < pending[j]) ? free[i--] : pending[j++];
      putU32(p, o, x);
      o += 4;
    }
    sealPage(p);
  }

  /** Reads a freelist page (already checksum-verified); every id becomes reusable. */
  static read(p: Uint8Array, id: number, hwm: number): Freelist {
    if (pageFlags(p) !== FREELIST) {
      throw new CorruptionError(
        id,
        `expected a freelist page, found type 0x${pageFlags(p).toString(16)}`,
      );
    }
    const n = u32(p, PAGE_HEADER);
    if (Freelist.bytesFor(n) > pageUsed(p)) {
      throw new CorruptionError(id, `freelist count ${n} overruns the page`);
    }
    const fl = new Freelist();
    const ids: number[] = [];
    for (let i = 0, o = PAGE_HEADER + 4; i < n; i++, o += 4) {
      const x = u32(p, o);
      if (x < 2 || x >= hwm) {
        throw new CorruptionError(id, `freelist names page ${x} outside 2..${hwm - 1}`);
      }
      if (fl.#all.has(x)) throw new CorruptionError(id, `freelist names page ${x} twice`);
      fl.#all.add(x);
      ids.push(x);
    }
    fl.#free = ids.sort((a, b) => b - a);
    return fl;
  }
}

function mergeDescending(a: number[], b: number[]): number[] {
  if (a.length === 0) return b;
  const out = new Array<number>(a.length + b.length);
  let i = 0, j = 0, k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i] > b[j] ? a[i++] : b[j++];
  while (i < a.length) out[k++] = a[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}
