/**
 * The multi-version key-value store (etcd's mvcc store) over a `Backend`.
 *
 * Every change is written to the "key" bucket under its revision (see revision.ts) as an
 * mvccpb.KeyValue; deletions as tombstones. An in-memory B+tree (the key index) maps each key
 * to its packed revision history and is rebuilt from the bucket on open, together with the
 * current and compacted revisions. Reads resolve revisions through the index and fetch
 * values from the backend, so a read at revision R never sees a change made after R, even
 * while a write transaction is half-applied.
 *
 * Writes happen in synchronous write transactions (`beginWrite` ... `end`); one transaction
 * is one main revision, each change a sub revision. Committed transactions are announced to
 * subscribers (the watch hub) in order.
 */

import type { Backend } from "../backend/backend.ts";
import type { Clock, Timer } from "../io/clock.ts";
import { RealClock } from "../io/clock.ts";
import type { CountSink, ObserveSink } from "../base/metric_sink.ts";
import { Errors } from "../base/errors.ts";
import type { LeaseId } from "../base/types.ts";
import { BTree } from "./btree.ts";
import {
  type History,
  historyCompact,
  historyGet,
  historyHas,
  historyPut,
  historyRestore,
  historyRestoreTombstone,
  historyTombstone,
  newRevAt,
} from "./key_history.ts";
import { bytesToKey, type KeySpan, keyToBytes } from "./key_bytes.ts";
import {
  decodeKeyValue,
  decodeKeyValues,
  encodeKeyValue,
  encodeKeyValueAfter,
  type KeyValueHead,
  peekKeyValue,
} from "./kv_codec.ts";
import {
  bytesToMain,
  bytesToRev,
  bytesToSub,
  isTombstone,
  mainRevBytes,
  REV_BYTES_LEN,
  revToBytes,
  revToScratch,
  writeRev,
} from "./revision.ts";
import type { LeaseHooks } from "./lease_hooks.ts";
import {
  FINISHED_COMPACT_KEY,
  KEY_BUCKET,
  META_BUCKET,
  SCHEDULED_COMPACT_KEY,
  storeConsistentIndex,
  storedConsistentIndex,
  storedConsistentIndexAndTerm,
} from "./store_buckets.ts";
import { hashBuckets, hashKV } from "./store_scans.ts";
import type { KeyValue } from "./types.ts";
import { StoreWriteTxn } from "./write_txn.ts";

// the buckets, for the importers that knew them here (lib/server/member.ts among them)
export { KEY_BUCKET, META_BUCKET, storedConsistentIndex };

const EMPTY = new Uint8Array(0);

/** Options of `MvccStore.open`. */
export interface StoreOptions {
  /** The lessor's hooks; without them, any put naming a lease fails with leaseNotFound. */
  leases?: LeaseHooks;
  /** Revisions deleted per compaction batch (etcd's CompactionBatchLimit, 1,000). */
  compactionBatchLimit?: number;
  /** Pause between compaction batches, letting writers in (etcd: 10 ms). */
  compactionPauseMs?: number;
  /** Keys of the in-memory index compacted per step before yielding (default 10,000). */
  indexCompactionStep?: number;
  /** Clock for the compaction pauses (default: real time). */
  clock?: Clock;
  /** Where operation counts and compaction durations are reported (etcd's mvcc metrics). */
  metrics?: MvccMetrics;
}

/** The store's measurements, as etcd's mvcc package exports them. */
export interface MvccMetrics {
  /** Ranges served, read-only or inside a write (etcd_mvcc_range_total). */
  ranges?: CountSink;
  /** Keys put (etcd_mvcc_put_total). */
  puts?: CountSink;
  /** Key and value bytes put (etcd_debugging_mvcc_total_put_size_in_bytes). */
  putBytes?: CountSink;
  /** Delete operations (etcd_mvcc_delete_total). */
  deletes?: CountSink;
  /** Write transactions of more than one operation (etcd_mvcc_txn_total). */
  txns?: CountSink;
  /** Milliseconds each step of the in-memory index compaction held the store. */
  indexCompactionPauseMs?: ObserveSink;
  /** Milliseconds each batch of the key bucket's compaction held the store. */
  dbCompactionPauseMs?: ObserveSink;
  /** Milliseconds a whole compaction took. */
  dbCompactionTotalMs?: ObserveSink;
  /** Revisions removed from the key bucket by compactions. */
  dbCompactionKeys?: CountSink;
  /** Seconds a hash of the whole backend took (etcd_mvcc_hash_duration_seconds). */
  hashSeconds?: ObserveSink;
  /** Seconds a hash by revision took (etcd_mvcc_hash_rev_duration_seconds). */
  hashRevSeconds?: ObserveSink;
  /** Unix seconds of the last finished compaction. */
  dbCompactionLast?: { set(value: number): void };
}

/** Options of a raw range (etcd's mvcc.RangeOptions). */
export interface RangeOptions {
  /** Return at most this many kvs (0 = all); `count` is still the total. */
  limit?: number;
  /** Revision to read at (0 or less = the current one). */
  rev?: number;
  /** Only count, return no kvs. */
  count?: boolean;
}

/** Result of a raw range (etcd's mvcc.RangeResult). */
export interface RangeResult {
  kvs: KeyValue[];
  /** Keys in the range at the read revision, regardless of limit. */
  count: number;
  /** The store's revision the read was served at (the response header's revision). */
  rev: number;
}

/** A committed write transaction, as announced to subscribers. */
export interface Commit {
  rev: number;
  /** The changes in sub-revision order; a delete's kv has createRevision 0 and only the key. */
  changes: KeyValue[];
}

/** A view that can serve ranges: the store itself (latest) or a write transaction. */
export interface KvReader {
  /** The revision ranges in this view are served at. */
  rev(): number;
  /** The oldest revision still readable (the compacted revision). */
  firstRev(): number;
  range(span: KeySpan, ro?: RangeOptions): RangeResult;
}

/** A write transaction: all changes share one main revision. */
export interface WriteTxn extends KvReader {
  /** Puts a key; returns the txn's revision. */
  put(key: Uint8Array, value: Uint8Array, lease: LeaseId): number;
  /** Deletes every live key in the span; returns how many and the revision. */
  deleteRange(span: KeySpan): { deleted: number; rev: number };
  /** Number of changes so far. */
  changeCount(): number;
  /** Finishes: bumps the store revision if anything changed and announces the commit. */
  end(): void;
}

/** The store. */
export class MvccStore implements KvReader {
  readonly backend: Backend;
  readonly #index = new BTree<History>();
  /** Keys that carry a lease now, and the lease (etcd asks the lessor; we remember it). */
  readonly #leased = new Map<string, LeaseId>();
  readonly #hooks: LeaseHooks | undefined;
  readonly #subscribers: ((c: Commit) => void)[] = [];
  readonly #batchLimit: number;
  readonly #pauseMs: number;
  readonly #indexStep: number;
  readonly #clock: Clock;
  #currentRev = 1;
  /** Keys live now: kept up by puts and deletes, counted once on open. */
  #live = 0;
  #compactMainRev = -1;
  #writing = false;
  #closed = false;
  #compactChain: Promise<void> = Promise.resolve();
  #pauseTimer: { timer: Timer; resolve: () => void } | undefined;
  readonly #scratch = newRevAt();
  /** @internal Read by the write transactions. */
  readonly _metrics: MvccMetrics | undefined;

  private constructor(backend: Backend, opts: StoreOptions) {
    this.backend = backend;
    this.#hooks = opts.leases;
    this.#batchLimit = opts.compactionBatchLimit ?? 1000;
    this.#pauseMs = opts.compactionPauseMs ?? 10;
    this.#indexStep = opts.indexCompactionStep ?? 10_000;
    this.#clock = opts.clock ?? new RealClock();
    this._metrics = opts.metrics;
  }

  /**
   * Opens the store over `backend`: creates the buckets if new, rebuilds the key index and the
   * current and compacted revisions, attaches leased keys to the lessor, and resumes an
   * interrupted compaction in the background.
   */
  static open(backend: Backend, opts: StoreOptions = {}): MvccStore {
    const s = new MvccStore(backend, opts);
    s.#restore();
    return s;
  }

  #restore(): void {
    const w = this.backend.write;
    w.createBucket(KEY_BUCKET);
    w.createBucket(META_BUCKET);
    const r = this.backend.read;
    const finished = r.get(META_BUCKET, FINISHED_COMPACT_KEY);
    if (finished) this.#compactMainRev = bytesToRev(finished).main;
    const scheduledBytes = r.get(META_BUCKET, SCHEDULED_COMPACT_KEY);
    let scheduled = scheduledBytes ? bytesToRev(scheduledBytes).main : 0;
    let current = 1;
    const kv: KeyValueHead = { key: "", createRevision: 0, version: 0, lease: 0n };
    const leased = this.#leased;
    // Histories are gathered in a hash map, then put in the tree in key order: revisions come
    // in revision order, keys in any order, and a tree lookup and insert per revision cost
    // twice a map's (docs/perf.md, "Restart time").
    const found = new Map<string, History>();
    // one pass over the whole bucket in file order, its pages not cached (Backend.scan)
    r.scan(KEY_BUCKET, (k, v) => {
      const main = bytesToMain(k);
      if (main < 1) return; // below the first revision: nothing is ever written there
      const sub = bytesToSub(k);
      peekKeyValue(v, kv);
      const key = kv.key;
      current = main;
      const h = found.get(key);
      if (isTombstone(k)) {
        if (h !== undefined) {
          const nh = historyTombstone(h, main, sub);
          if (nh !== undefined && nh !== h) found.set(key, nh);
        } else {
          found.set(key, historyRestoreTombstone(main, sub));
        }
        if (leased.size !== 0) leased.delete(key);
        return;
      }
      if (h !== undefined) {
        const nh = historyPut(h, main, sub);
        if (nh !== h) found.set(key, nh);
      } else {
        found.set(key, historyRestore(kv.createRevision, main, sub, kv.version));
      }
      if (kv.lease !== 0n) leased.set(key, kv.lease);
      else if (leased.size !== 0) leased.delete(key);
    });
    // keys are one-byte strings: the default sort orders them as the tree's `<` does
    const keys = [...found.keys()].sort();
    for (const key of keys) this.#index.set(key, found.get(key)!);
    this.#currentRev = Math.max(current, this.#compactMainRev);
    const at = newRevAt();
    this.#index.ascend("", "", (_k, h) => {
      if (historyGet(h, this.#currentRev, at)) this.#live++;
      return true;
    });
    if (scheduled <= this.#compactMainRev) scheduled = 0;
    if (this.#hooks) {
      for (const [key, lease] of this.#leased) {
        // A key naming a lease the lessor does not know keeps its lease field but is attached
        // to nothing, as etcd does (it logs and goes on); refusing to open would lose the store.
        if (this.#hooks.exists(lease)) this.#hooks.attach(lease, keyToBytes(key));
      }
    }
    if (scheduled !== 0) {
      this.#compactMainRev = scheduled;
      this.#scheduleCompaction(scheduled);
    }
  }

  /** The current revision: that of the last committed write transaction (1 when empty). */
  rev(): number {
    return this.#currentRev;
  }

  /** The compacted revision (reads below it fail with compacted); -1 before any compaction. */
  compactRev(): number {
    return this.#compactMainRev;
  }

  /** The oldest readable revision (etcd's FirstRev: the compacted revision). */
  firstRev(): number {
    return this.#compactMainRev;
  }

  /** Number of keys in the index (live or with history kept). */
  indexSize(): number {
    return this.#index.size;
  }

  /** Keys live at the current revision (etcd_debugging_mvcc_keys_total). */
  liveKeys(): number {
    return this.#live;
  }

  /** Registers a listener for committed write transactions (the watch hub). */
  subscribe(fn: (c: Commit) => void): () => void {
    this.#subscribers.push(fn);
    return () => {
      const i = this.#subscribers.indexOf(fn);
      if (i >= 0) this.#subscribers.splice(i, 1);
    };
  }

  /** Ranges over the latest committed state. */
  range(span: KeySpan, ro: RangeOptions = {}): RangeResult {
    return this.rangeAt(span, this.#currentRev, ro);
  }

  /** etcd's rangeKeys: `curRev` is the view's revision (the header revision). */
  rangeAt(span: KeySpan, curRev: number, ro: RangeOptions): RangeResult {
    this._metrics?.ranges?.add();
    let rev = ro.rev ?? 0;
    if (rev > curRev) throw Errors.futureRev();
    if (rev <= 0) rev = curRev;
    if (rev < this.#compactMainRev) throw Errors.compacted();
    const out = this.#scratch;
    if (span.end === undefined) {
      const h = this.#index.get(span.key);
      const found = h !== undefined && historyGet(h, rev, out);
      if (ro.count) return { kvs: [], count: found ? 1 : 0, rev: curRev };
      if (!found) return { kvs: [], count: 0, rev: curRev };
      return { kvs: [this.#fetch(out.main, out.sub)], count: 1, rev: curRev };
    }
    const limit = ro.limit && ro.limit > 0 ? ro.limit : Infinity;
    const mains: number[] = [];
    const subs: number[] = [];
    let count = 0;
    const countOnly = ro.count === true;
    this.#index.ascend(span.key, span.end, (_k, h) => {
      if (historyGet(h, rev, out)) {
        if (!countOnly && count < limit) {
          mains.push(out.main);
          subs.push(out.sub);
        }
        count++;
      }
      return true;
    });
    if (countOnly) return { kvs: [], count, rev: curRev };
    const raw: Uint8Array[] = new Array(mains.length);
    for (let i = 0; i < mains.length; i++) raw[i] = this._fetchRaw(mains[i], subs[i]);
    return { kvs: decodeKeyValues(raw), count, rev: curRev };
  }

  /** @internal The key index (key -> packed revision history), for store_scans.ts's readers. */
  get _index(): BTree<History> {
    return this.#index;
  }

  #fetch(main: number, sub: number): KeyValue {
    return decodeKeyValue(this._fetchRaw(main, sub));
  }

  /** @internal The stored KeyValue of a revision the index holds (raw, a view). */
  _fetchRaw(main: number, sub: number): Uint8Array {
    const v = this.backend.read.get(KEY_BUCKET, revToScratch(main, sub));
    if (v === undefined) {
      throw new Error(`mvcc: revision {${main} ${sub}} is in the index but not in the backend`);
    }
    return v;
  }

  /** The live keys of `span` at `rev`, in key order (for deletes). */
  #liveKeys(span: KeySpan, rev: number): string[] {
    const out = this.#scratch;
    if (span.end === undefined) {
      const h = this.#index.get(span.key);
      return h !== undefined && historyGet(h, rev, out) ? [span.key] : [];
    }
    const keys: string[] = [];
    this.#index.ascend(span.key, span.end, (k, h) => {
      if (historyGet(h, rev, out)) keys.push(k);
      return true;
    });
    return keys;
  }

  /** The lease a key carries now (0n for none). */
  leaseOf(key: Uint8Array): LeaseId {
    return this.#leased.get(bytesToKey(key)) ?? 0n;
  }

  /** True when the lessor knows `lease` (always false without lease hooks). */
  leaseExists(lease: LeaseId): boolean {
    return this.#hooks !== undefined && this.#hooks.exists(lease);
  }

  /** Starts the (single) write transaction. Call `end()` before the next await. */
  beginWrite(): WriteTxn {
    if (this.#writing) throw new Error("mvcc: a write transaction is already open");
    if (this.#closed) throw Errors.stopped();
    this.#writing = true;
    return new StoreWriteTxn(this, this.#currentRev);
  }

  /** @internal The put of a write transaction at revision `rev`, sub revision `sub`. */
  _put(rev: number, sub: number, key: Uint8Array, value: Uint8Array, lease: LeaseId): KeyValue {
    // Checked before anything is written: the lessor's attach below must not be the first to
    // notice, or the record and the index would already hold the put.
    if (lease !== 0n && !this.leaseExists(lease)) throw Errors.leaseNotFound();
    const k = bytesToKey(key);
    const h = this.#index.get(k);
    const out = this.#scratch;
    let created = rev;
    let ver = 0;
    let oldLease: LeaseId = 0n;
    if (h !== undefined && historyGet(h, rev, out)) {
      created = out.created;
      ver = out.ver;
      oldLease = this.#leased.get(k) ?? 0n;
    } else this.#live++;
    const kv: KeyValue = {
      key,
      value,
      createRevision: created,
      modRevision: rev,
      version: ver + 1,
      lease,
    };
    const buf = encodeKeyValueAfter(kv, REV_BYTES_LEN);
    writeRev(buf, rev, sub);
    this.backend.write.put(KEY_BUCKET, buf.subarray(0, REV_BYTES_LEN), buf.subarray(REV_BYTES_LEN));
    const nh = historyPut(h, rev, sub);
    if (nh !== h) this.#index.set(k, nh);
    if (oldLease !== 0n) {
      this.#leased.delete(k);
      this.#hooks?.detach(oldLease, key);
    }
    if (lease !== 0n) {
      this.#leased.set(k, lease);
      this.#hooks?.attach(lease, key);
    }
    return kv;
  }

  /** @internal Deletes the live keys of `span` as seen at `readRev`, from sub revision `sub`. */
  _deleteRange(rev: number, sub: number, span: KeySpan, readRev: number): KeyValue[] {
    const keys = this.#liveKeys(span, readRev);
    this.#live -= keys.length;
    const changes: KeyValue[] = [];
    for (const k of keys) {
      const key = keyToBytes(k);
      const tomb: KeyValue = {
        key,
        value: EMPTY,
        createRevision: 0,
        modRevision: 0,
        version: 0,
        lease: 0n,
      };
      this.backend.write.put(KEY_BUCKET, revToBytes(rev, sub++, true), encodeKeyValue(tomb));
      const h = this.#index.get(k);
      if (h !== undefined) {
        const nh = historyTombstone(h, rev, sub - 1);
        if (nh !== undefined) this.#index.set(k, nh);
      }
      const lease = this.#leased.get(k);
      if (lease !== undefined) {
        this.#leased.delete(k);
        this.#hooks?.detach(lease, key);
      }
      changes.push(tomb);
    }
    return changes;
  }

  /** @internal Called by the write transaction's end. */
  _endWrite(rev: number, changes: KeyValue[]): void {
    this.#writing = false;
    if (changes.length === 0) return;
    this.#currentRev = rev;
    const c: Commit = { rev, changes };
    for (const fn of this.#subscribers) fn(c);
  }

  /**
   * Stores the server's consistent index and raft term in the meta bucket. Call it in the
   * same synchronous apply step as the write it accounts for: both then land in the same
   * backend commit, so a crash keeps both or neither.
   */
  setConsistentIndex(index: number, term: number): void {
    storeConsistentIndex(this.backend, index, term);
  }

  /** The consistent index and term last stored (0 and 0 for a new store). */
  consistentIndex(): { index: number; term: number } {
    return storedConsistentIndexAndTerm(this.backend);
  }

  /**
   * Compacts history up to `rev` (etcd's Compact): reads below `rev` fail from now on; the
   * index and then the "key" bucket are pruned in the background in bounded batches, with a
   * pause and a commit between batches. `done` resolves when the pruning finished.
   * Throws compacted when `rev` is not above the compacted revision, futureRev when it is
   * above the current one.
   */
  compact(rev: number): { done: Promise<void> } {
    if (rev <= this.#compactMainRev) throw Errors.compacted();
    if (rev > this.#currentRev) throw Errors.futureRev();
    this.#compactMainRev = rev;
    this.backend.write.put(META_BUCKET, SCHEDULED_COMPACT_KEY, revToBytes(rev, 0));
    return { done: this.#scheduleCompaction(rev) };
  }

  #scheduleCompaction(rev: number): Promise<void> {
    const job = this.#compactChain.then(() => this.#runCompaction(rev));
    this.#compactChain = job.catch(() => {});
    return job;
  }

  async #pause(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = this.#clock.after(this.#pauseMs, () => {
        this.#pauseTimer = undefined;
        resolve();
      });
      this.#pauseTimer = { timer, resolve };
    });
  }

  async #runCompaction(rev: number): Promise<void> {
    if (this.#closed) return;
    const m = this._metrics;
    const started = performance.now();
    const faults = this.backend.faults;
    faults?.hit("compactBeforeCommitScheduledCompact");
    await this.backend.commit(); // the scheduled mark is durable before anything is removed
    faults?.hit("compactAfterCommitScheduledCompact");
    // 1. The in-memory index, a slice of keys at a time.
    let from = "";
    for (;;) {
      if (this.#closed) return;
      const stepStarted = performance.now();
      let n = 0;
      let next: string | undefined;
      const updates: [string, History | undefined][] = [];
      this.#index.ascend(from, "", (k, h) => {
        if (n >= this.#indexStep) {
          next = k;
          return false;
        }
        n++;
        const nh = historyCompact(h, rev);
        if (nh !== h) updates.push([k, nh]);
        return true;
      });
      for (const [k, nh] of updates) {
        if (nh === undefined) this.#index.delete(k);
        else this.#index.setExisting(k, nh);
      }
      m?.indexCompactionPauseMs?.observe(performance.now() - stepStarted);
      if (next === undefined) break;
      from = next;
      await this.#pause();
    }
    this.#index.compactIfSparse();
    // 2. The key bucket, `batchLimit` revisions at a time.
    const end = mainRevBytes(rev + 1);
    let last: Uint8Array = new Uint8Array(17);
    for (;;) {
      if (this.#closed) return;
      const batchStarted = performance.now();
      const dels: Uint8Array[] = [];
      let seen = 0;
      let lastKey: Uint8Array | undefined;
      this.backend.read.range(KEY_BUCKET, last, end, (k, v) => {
        seen++;
        lastKey = k.slice();
        const kv = decodeKeyValue(v);
        const h = this.#index.get(bytesToKey(kv.key));
        if (h === undefined || !historyHas(h, bytesToMain(k), bytesToSub(k))) dels.push(k.slice());
      }, this.#batchLimit);
      for (const k of dels) this.backend.write.delete(KEY_BUCKET, k);
      m?.dbCompactionKeys?.add(dels.length);
      m?.dbCompactionPauseMs?.observe(performance.now() - batchStarted);
      if (seen < this.#batchLimit || lastKey === undefined) {
        faults?.hit("compactBeforeSetFinishedCompact");
        this.backend.write.put(META_BUCKET, FINISHED_COMPACT_KEY, revToBytes(rev, 0));
        await this.backend.commit();
        faults?.hit("compactAfterSetFinishedCompact");
        m?.dbCompactionTotalMs?.observe(performance.now() - started);
        m?.dbCompactionLast?.set(Math.floor(Date.now() / 1000));
        return;
      }
      const lr = bytesToRev(lastKey);
      last = revToBytes(lr.main, lr.sub + 1);
      faults?.hit("compactBeforeCommitBatch");
      await this.backend.commit();
      faults?.hit("compactAfterCommitBatch");
      await this.#pause();
    }
  }

  /**
   * etcd's HashByRev: CRC-32C of the "key" bucket name and every key/value pair up to `rev`
   * (0 = current), skipping revisions a compaction at `rev` would drop and tombstones at the
   * compacted revision (store_scans.ts says why), plus the revisions.
   */
  hashKV(rev: number): { hash: number; rev: number; compactRev: number } {
    return hashKV(this, rev);
  }

  /**
   * CRC-32C over the named buckets' keys and values (etcd's backend Hash), skipping the meta
   * bucket's consistent index and term, which differ between members by design.
   */
  hash(buckets: string[] = [KEY_BUCKET, META_BUCKET]): number {
    return hashBuckets(this, buckets);
  }

  /** True once closed (a member installing a snapshot closes its store before the new one opens). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Waits for scheduled compactions to finish. */
  async settle(): Promise<void> {
    await this.#compactChain;
  }

  /** Stops background compaction (it resumes on the next open) and waits for it to stop. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#pauseTimer) {
      this.#pauseTimer.timer.cancel();
      this.#pauseTimer.resolve();
      this.#pauseTimer = undefined;
    }
    await this.#compactChain;
  }
}
