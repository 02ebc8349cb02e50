/**
 * The watchable store (etcd's watchableStore, watchStream and the ordering parts of its
 * watch server), in one event loop.
 *
 * Every watcher is in exactly one state:
 * - synced: caught up; each committed write transaction is matched against the synced group
 *   and its events for the watcher are queued on the watcher's stream at once, all events of
 *   one revision in one response;
 * - unsynced: behind (it asked for an old start revision, or came back from being a victim);
 *   a background task replays its history from the backend's "key" bucket, at most
 *   `syncRevs` revisions and `syncWatchers` watchers per step, yielding to writers between
 *   steps, until it reaches the current revision and joins the synced group in the same
 *   synchronous step, so nothing is missed or repeated;
 * - victim: its stream's queue was full; it holds that one undelivered response and gets no
 *   more events until the consumer drains the queue, then it goes back to unsynced (or synced)
 *   and catches up from the backend.
 *
 * Memory is thus bounded per stream by `bufferSize` queued responses plus one held response
 * per victim watcher; a slow consumer never slows writers or other streams.
 */

import type { CountSink } from "../base/metric_sink.ts";
import { delayAt, type FaultPoints, OrderedDelay } from "../base/fault_points.ts";
import type { Clock, Timer } from "../io/clock.ts";
import { RealClock } from "../io/clock.ts";
import { bytesToKey, type KeySpan, spanOf } from "./key_bytes.ts";
import { decodeKeyValue } from "./kv_codec.ts";
import { type Commit, KEY_BUCKET, type MvccStore } from "./kv_store.ts";
import { bytesToMain, isTombstone, revToBytes } from "./revision.ts";
import { type Event, EventType, type KeyValue } from "./types.ts";
import { prefixOfSpan, WatcherGroup, type Watching } from "./watcher_group.ts";
import {
  eventsResponse,
  PROGRESS_ALL_WATCH_ID,
  type WatchCreateRequest,
  WatchFilter,
  type WatchResponse,
  watchResponse,
} from "./watch_types.ts";

/** etcd's mvcc.ErrWatcherDuplicateID message (a create's cancel_reason). */
export const ERR_WATCHER_DUPLICATE_ID = "mvcc: duplicate watch ID provided on the WatchStream";
/** etcd's mvcc.ErrEmptyWatcherRange message. */
export const ERR_EMPTY_WATCHER_RANGE = "mvcc: watcher range is empty";

/** Options of the hub. */
export interface WatchHubOptions {
  /** Timers for catch-up steps and periodic progress (default: real time). */
  clock?: Clock;
  /** Periodic progress interval for progress_notify watchers (etcd default 10 minutes). */
  progressIntervalMs?: number;
  /** Watchers caught up per step (etcd's maxWatchersPerSync, 512). */
  syncWatchers?: number;
  /** Revisions read from the backend per catch-up step (etcd's watchBatchMaxRevs, 1,000). */
  syncRevs?: number;
  /** Counts events queued to watch streams (etcd_debugging_mvcc_events_total). */
  events?: CountSink;
  /**
   * Fault points for tests (lib/base/fault_points.ts): beforeSendWatchResponse, hit by every
   * response a stream is given; a delay there holds it, and the stream's later responses behind
   * it, on the clock. None in production.
   */
  faults?: FaultPoints;
}

/** Options of a stream. */
export interface WatchStreamOptions {
  /** Responses queued before watchers become victims (etcd's chanBufLen, 128). */
  bufferSize?: number;
}

const enum State {
  Synced,
  Unsynced,
  Victim,
  Gone,
}

class Watcher implements Watching {
  readonly span: KeySpan;
  readonly prefix: string | undefined;
  state = State.Synced;
  sentSinceTick = false;
  /** The response held while a victim. */
  held: WatchResponse | undefined;
  constructor(
    readonly id: number,
    readonly stream: WatchStream,
    span: KeySpan,
    public minRev: number,
    readonly noPut: boolean,
    readonly noDelete: boolean,
    readonly prevKv: boolean,
    readonly progressNotify: boolean,
  ) {
    this.span = span;
    this.prefix = prefixOfSpan(span);
  }

  filter(evs: Event[]): Event[] {
    if (!this.noPut && !this.noDelete) return evs;
    return evs.filter((e) => e.type === EventType.PUT ? !this.noPut : !this.noDelete);
  }
}

/**
 * One client watch stream: many watchers, one ordered queue of responses. The API layer
 * calls `watch`, `cancel` and `requestProgress` as requests arrive and sends what `next()`
 * yields.
 */
export class WatchStream implements AsyncIterable<WatchResponse> {
  readonly #hub: WatchHub;
  readonly capacity: number;
  readonly watchers = new Map<number, Watcher>();
  readonly victims: Watcher[] = [];
  #queue: WatchResponse[] = [];
  #head = 0;
  #waiter: ((r: WatchResponse | undefined) => void) | undefined;
  #nextId = 0;
  #closed = false;
  /** Responses held at beforeSendWatchResponse (made at its first delay). */
  #delayed: OrderedDelay<WatchResponse> | null = null;
  progressPending = false;

  constructor(hub: WatchHub, opts: WatchStreamOptions) {
    this.#hub = hub;
    this.capacity = opts.bufferSize ?? 128;
  }

  /** Responses queued and not yet taken. */
  get pending(): number {
    return this.#queue.length - this.#head + (this.#delayed?.held ?? 0);
  }

  /** True when the queue can take a response. */
  hasRoom(): boolean {
    return this.pending < this.capacity;
  }

  /**
   * Creates a watcher and queues its "created" response (canceled, with etcd's reason, when
   * the id is taken or the range is empty). Returns the id, or -1 on failure.
   */
  watch(req: WatchCreateRequest): number {
    if (this.#closed) throw new Error("mvcc: watch stream is closed");
    const span = spanOf(req.key, req.rangeEnd);
    let id = req.watchId ?? 0;
    let err = "";
    if (span.end !== undefined && span.end !== "" && span.key >= span.end) {
      err = ERR_EMPTY_WATCHER_RANGE;
    } else if (id !== 0 && this.watchers.has(id)) {
      err = ERR_WATCHER_DUPLICATE_ID;
    }
    const rev = this.#hub.store.rev();
    if (err) {
      this.push(
        watchResponse({
          watchId: -1,
          revision: rev,
          created: true,
          canceled: true,
          cancelReason: err,
        }),
        true,
      );
      return -1;
    }
    if (id === 0) {
      while (this.watchers.has(this.#nextId)) this.#nextId++;
      id = this.#nextId++;
    }
    const filters = req.filters ?? [];
    const w = new Watcher(
      id,
      this,
      span,
      req.startRevision ?? 0,
      filters.includes(WatchFilter.NOPUT),
      filters.includes(WatchFilter.NODELETE),
      req.prevKv === true,
      req.progressNotify === true,
    );
    this.watchers.set(id, w);
    this.push(watchResponse({ watchId: id, revision: rev, created: true }), true);
    this.#hub._add(w);
    return id;
  }

  /** Cancels a watcher and queues its canceled response; false when the id is unknown. */
  cancel(id: number): boolean {
    const w = this.watchers.get(id);
    if (!w) return false;
    this.#hub._remove(w);
    this.push(
      watchResponse({ watchId: id, revision: this.#hub.store.rev(), canceled: true }),
      true,
    );
    return true;
  }

  /**
   * Asks for a progress notification (etcd 3.5's RequestProgressAll): sent with watch id -1
   * at the current revision once every watcher of the stream is caught up.
   */
  requestProgress(): void {
    this.progressPending = true;
    this.#hub._maybeProgress(this);
  }

  /** @internal Queues a response; control responses are never refused. */
  push(r: WatchResponse, control = false): boolean {
    if (this.#closed) return true;
    if (!control && !this.hasRoom()) return false;
    const ms = this.#hub._sendDelay();
    if (ms > 0 || this.#delayed !== null) {
      this.#delayed ??= this.#hub._ordered((rs) => {
        if (!this.#closed) { for (const x of rs) this.#hand(x); }
      });
      if (this.#delayed.offer(r, ms)) return true;
    }
    this.#hand(r);
    return true;
  }

  /** Gives `r` to the waiting reader, or queues it (and tells the listener). */
  #hand(r: WatchResponse): void {
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w(r);
      return;
    }
    this.#queue.push(r);
    this.#listener?.();
  }

  #listener: (() => void) | undefined;

  /**
   * Calls `fn` synchronously each time a response is queued while no reader waits in
   * `next()`, and once when the stream closes: a consumer that takes responses with
   * `tryNext` (the watch service pushing them to its connection) learns of them in the
   * commit's own turn.
   */
  listen(fn: () => void): void {
    this.#listener = fn;
  }

  /** True once the stream was closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Takes the next response without waiting (undefined when none is queued). */
  tryNext(): WatchResponse | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const r = this.#queue[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#hub._drained(this);
    return r;
  }

  /** The next response, waiting for one; undefined once the stream is closed. */
  next(): Promise<WatchResponse | undefined> {
    const r = this.tryNext();
    if (r !== undefined || this.#closed) return Promise.resolve(r);
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchResponse> {
    for (;;) {
      const r = await this.next();
      if (r === undefined) return;
      yield r;
    }
  }

  /** Removes every watcher and ends the iteration. */
  close(): void {
    if (this.#closed) return;
    for (const w of [...this.watchers.values()]) this.#hub._remove(w);
    this.#closed = true;
    this.#delayed?.clear();
    this.#queue = [];
    this.#head = 0;
    this.#hub._closeStream(this);
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.(undefined);
    const l = this.#listener;
    this.#listener = undefined;
    l?.();
  }
}

/** The watchable side of a store: streams of watchers fed from its commits and history. */
export class WatchHub {
  #store: MvccStore;
  readonly #clock: Clock;
  readonly #synced = new WatcherGroup<Watcher>();
  readonly #unsynced = new WatcherGroup<Watcher>();
  readonly #streams = new Set<WatchStream>();
  readonly #syncWatchers: number;
  readonly #syncRevs: number;
  readonly #progressMs: number;
  readonly #events: CountSink | undefined;
  readonly #faults: FaultPoints | undefined;
  #unsubscribe: () => void;
  #syncTimer: Timer | undefined;
  #progressTimer: Timer | undefined;
  #closed = false;

  constructor(store: MvccStore, opts: WatchHubOptions = {}) {
    this.#store = store;
    this.#clock = opts.clock ?? new RealClock();
    this.#syncWatchers = opts.syncWatchers ?? 512;
    this.#syncRevs = opts.syncRevs ?? 1000;
    this.#progressMs = opts.progressIntervalMs ?? 10 * 60 * 1000;
    this.#events = opts.events;
    this.#faults = opts.faults;
    this.#unsubscribe = store.subscribe((c) => this.#notify(c));
  }

  /** @internal The ms a response waits at beforeSendWatchResponse (0 without points). */
  _sendDelay(): number {
    return this.#faults === undefined ? 0 : delayAt(this.#faults, "beforeSendWatchResponse");
  }

  /** @internal An ordered delay on the hub's clock, for a stream's held responses. */
  _ordered(release: (rs: WatchResponse[]) => void): OrderedDelay<WatchResponse> {
    return new OrderedDelay((ms, fn) => this.#clock.after(ms, fn), release);
  }

  /** The store the hub watches. */
  get store(): MvccStore {
    return this.#store;
  }

  /**
   * Switches to another store (the server installed a snapshot and reopened the store over
   * the new backend; etcd's watchableStore.Restore). Every live watcher goes back to catching
   * up from its next revision against the new store's history.
   */
  restore(store: MvccStore): void {
    // a synced watcher was given every event up to the old store's revision as it was made
    // (its minRev is not moved per event): it resumes after that, not from where it started
    // (etcd #15271: without this, every event since the watch began came again)
    const caughtUp = this.#store.rev();
    this.#unsubscribe();
    this.#store = store;
    this.#unsubscribe = store.subscribe((c) => this.#notify(c));
    for (const w of [...this.#synced.all]) {
      if (w.minRev <= caughtUp) w.minRev = caughtUp + 1;
      this.#synced.delete(w);
      w.state = State.Unsynced;
      this.#unsynced.add(w);
    }
    this.#scheduleSync();
  }

  /** True once the hub was closed (its member stopped): no stream can be opened. */
  get closed(): boolean {
    return this.#closed;
  }

  /** A new stream. */
  newStream(opts: WatchStreamOptions = {}): WatchStream {
    if (this.#closed) throw new Error("mvcc: watch hub is closed");
    const s = new WatchStream(this, opts);
    this.#streams.add(s);
    return s;
  }

  /** Watchers caught up / catching up / held as victims (for metrics and tests). */
  counts(): { synced: number; unsynced: number; victims: number } {
    let victims = 0;
    for (const s of this.#streams) victims += s.victims.length;
    return { synced: this.#synced.size, unsynced: this.#unsynced.size, victims };
  }

  /** Open streams (etcd_debugging_mvcc_watch_stream_total). */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** Events victims hold until their streams have room (etcd's pending events). */
  pendingEvents(): number {
    let n = 0;
    for (const s of this.#streams) for (const w of s.victims) n += w.held?.events.length ?? 0;
    return n;
  }

  /** @internal */
  _add(w: Watcher): void {
    const cur = this.#store.rev();
    const start = w.minRev;
    if (start === 0 || start > cur) {
      w.minRev = Math.max(cur + 1, start);
      w.state = State.Synced;
      this.#synced.add(w);
    } else {
      w.state = State.Unsynced;
      this.#unsynced.add(w);
      this.#scheduleSync();
    }
    if (w.progressNotify && !this.#progressTimer) {
      this.#progressTimer = this.#clock.every(this.#progressMs, () => this.#progressTick());
    }
  }

  /** @internal */
  _remove(w: Watcher): void {
    this.#synced.delete(w);
    this.#unsynced.delete(w);
    const vi = w.stream.victims.indexOf(w);
    if (vi >= 0) w.stream.victims.splice(vi, 1);
    w.state = State.Gone;
    w.held = undefined;
    w.stream.watchers.delete(w.id);
  }

  /** @internal */
  _closeStream(s: WatchStream): void {
    this.#streams.delete(s);
  }

  /** @internal A consumer took a response: hand over held responses, resume catch-up. */
  _drained(s: WatchStream): void {
    while (s.victims.length > 0 && s.hasRoom()) {
      const w = s.victims.shift()!;
      const r = w.held!;
      w.held = undefined;
      this.#deliver(w, r);
      if (w.minRev <= this.#store.rev()) {
        w.state = State.Unsynced;
        this.#unsynced.add(w);
        this.#scheduleSync();
      } else {
        w.state = State.Synced;
        this.#synced.add(w);
      }
    }
    if (this.#unsynced.size > 0) this.#scheduleSync();
    if (s.progressPending) this._maybeProgress(s);
  }

  /** @internal Sends the stream-wide progress notification if every watcher is synced. */
  _maybeProgress(s: WatchStream): void {
    for (const w of s.watchers.values()) {
      if (w.state !== State.Synced && w.state !== State.Gone) return;
    }
    if (s.push(watchResponse({ watchId: PROGRESS_ALL_WATCH_ID, revision: this.#store.rev() }))) {
      s.progressPending = false;
    }
  }

  #progressTick(): void {
    const rev = this.#store.rev();
    for (const s of this.#streams) {
      for (const w of s.watchers.values()) {
        if (!w.progressNotify) continue;
        if (!w.sentSinceTick && w.state === State.Synced) {
          s.push(watchResponse({ watchId: w.id, revision: rev }));
        }
        w.sentSinceTick = false;
      }
    }
  }

  /** Queues `r` for `w`, adding previous values when asked; false when the queue is full. */
  #deliver(w: Watcher, r: WatchResponse, force = false): boolean {
    if (!force && !w.stream.hasRoom()) return false;
    if (w.prevKv) r.events = this.#withPrevs(r.events);
    w.sentSinceTick = true;
    const queued = w.stream.push(r, force);
    if (queued && r.events.length > 0) this.#events?.add(r.events.length);
    return queued;
  }

  /**
   * `evs` with previous values. The events of a revision are one array shared by every watcher
   * that takes them all (the common case), so the previous values are read once for all of
   * them: the last array and its answer are kept, and shared in turn (nobody mutates either).
   */
  #withPrevs(evs: Event[]): Event[] {
    if (evs === this.#prevOf) return this.#prevs;
    const out = evs.map((e) => this.#withPrev(e));
    this.#prevOf = evs;
    this.#prevs = out;
    return out;
  }

  #prevOf: Event[] | undefined;
  #prevs: Event[] = [];

  #withPrev(e: Event): Event {
    // A creation has no previous value; etcd does not look (even when a delete of the key
    // earlier in the same revision left one at the previous revision).
    if (e.type === EventType.PUT && e.kv.createRevision === e.kv.modRevision) return e;
    try {
      const kv = this.#store.range({ key: bytesToKey(e.kv.key), end: undefined }, {
        rev: e.kv.modRevision - 1,
      }).kvs[0];
      return kv ? { type: e.type, kv: e.kv, prevKv: kv } : e;
    } catch {
      return e; // compacted: etcd sends the event without its previous value
    }
  }

  #notify(c: Commit): void {
    if (this.#synced.size === 0) return;
    const rev = c.rev;
    const evs: Event[] = new Array(c.changes.length);
    const keys: string[] = new Array(c.changes.length);
    for (let i = 0; i < c.changes.length; i++) {
      const kv = c.changes[i];
      keys[i] = bytesToKey(kv.key);
      evs[i] = kv.createRevision === 0
        ? { type: EventType.DELETE, kv: { ...kv, modRevision: rev } }
        : { type: EventType.PUT, kv };
    }
    if (evs.length === 1) {
      // The common case: one event, shared by every watcher that wants it. Delivering inside
      // the lookup is safe: a watcher that becomes a victim leaves a set already visited.
      const one = evs;
      this.#synced.forKey(keys[0], (w) => {
        if (w.minRev > rev) return;
        const events = w.filter(one);
        if (events.length === 0) return;
        const r = eventsResponse(w.id, rev, events);
        if (!this.#deliver(w, r)) this.#victimize(w, r, rev + 1, this.#synced);
      });
      return;
    }
    const batches = new Map<Watcher, Event[]>();
    for (let i = 0; i < evs.length; i++) {
      const e = evs[i];
      this.#synced.forKey(keys[i], (w) => {
        if (w.minRev > rev) return;
        const b = batches.get(w);
        if (b) b.push(e);
        else batches.set(w, [e]);
      });
    }
    for (const [w, list] of batches) {
      const events = w.filter(list);
      if (events.length === 0) continue;
      const r = eventsResponse(w.id, rev, events);
      if (!this.#deliver(w, r)) this.#victimize(w, r, rev + 1, this.#synced);
    }
  }

  #victimize(w: Watcher, r: WatchResponse, minRev: number, from: WatcherGroup<Watcher>): void {
    w.minRev = minRev;
    r.revision = minRev - 1;
    from.delete(w);
    w.state = State.Victim;
    w.held = r;
    w.stream.victims.push(w);
  }

  #scheduleSync(): void {
    if (this.#syncTimer || this.#closed || this.#unsynced.size === 0) return;
    this.#syncTimer = this.#clock.after(0, () => {
      this.#syncTimer = undefined;
      // a member installing a snapshot closed the store under the hub: the catch-up waits for
      // restore(), which schedules it again over the new store (reading the closed one threw
      // 'backend is closed' out of the timer: found by the whole-cluster simulation)
      if (this.#store.closed) return;
      this.#sync();
    });
  }

  /** One catch-up step. */
  #sync(): void {
    if (this.#closed) return;
    const curRev = this.#store.rev();
    const compactRev = this.#store.compactRev();
    const chosen: Watcher[] = [];
    for (const w of this.#unsynced.all) {
      if (chosen.length >= this.#syncWatchers) break;
      if (!w.stream.hasRoom()) continue; // resumes when its consumer drains the queue
      chosen.push(w);
    }
    const group = new WatcherGroup<Watcher>();
    let minRev = Infinity;
    for (const w of chosen) {
      if (w.minRev < compactRev) {
        // Out of every group for good; the id stays on the stream until canceled, as in etcd.
        this.#unsynced.delete(w);
        w.state = State.Gone;
        w.stream.push(
          watchResponse({ watchId: w.id, compactRevision: compactRev, canceled: true }),
          true,
        );
        continue;
      }
      if (w.minRev < 0) {
        // A negative start revision (not below the compacted one): etcd reads the history
        // from the revision's bytes as uint64, past every revision, so it finds nothing and
        // the watcher is caught up.
        w.minRev = curRev + 1;
        this.#unsynced.delete(w);
        w.state = State.Synced;
        this.#synced.add(w);
        if (w.stream.progressPending) this._maybeProgress(w.stream);
        continue;
      }
      group.add(w);
      if (w.minRev < minRev) minRev = w.minRev;
    }
    if (group.size > 0) {
      const hi = Math.min(curRev + 1, minRev + this.#syncRevs);
      const batches = new Map<Watcher, Event[]>();
      this.#store.backend.read.range(
        KEY_BUCKET,
        revToBytes(minRev, 0),
        revToBytes(hi, 0),
        (k, v) => {
          const kv: KeyValue = decodeKeyValue(v);
          const key = bytesToKey(kv.key);
          if (!group.contains(key)) return;
          let e: Event;
          if (isTombstone(k)) {
            kv.modRevision = bytesToMain(k);
            e = { type: EventType.DELETE, kv };
          } else {
            e = { type: EventType.PUT, kv };
          }
          group.forKey(key, (w) => {
            if (kv.modRevision < w.minRev) return;
            const b = batches.get(w);
            if (b) b.push(e);
            else batches.set(w, [e]);
          });
        },
      );
      const caughtUp = hi > curRev;
      for (const w of group.all) {
        if (hi > w.minRev) w.minRev = caughtUp ? curRev + 1 : hi;
        const events = w.filter(batches.get(w) ?? []);
        if (events.length > 0) {
          const r = eventsResponse(w.id, curRev, events);
          if (!this.#deliver(w, r)) {
            this.#victimize(w, r, w.minRev, this.#unsynced);
            continue;
          }
        }
        if (w.minRev > curRev) {
          this.#unsynced.delete(w);
          w.state = State.Synced;
          this.#synced.add(w);
          if (w.stream.progressPending) this._maybeProgress(w.stream);
        }
      }
    }
    for (const w of this.#unsynced.all) {
      if (w.stream.hasRoom()) {
        this.#scheduleSync();
        break;
      }
    }
  }

  /** Stops background work and detaches from the store; streams end. */
  close(): void {
    this.#closed = true;
    this.#syncTimer?.cancel();
    this.#syncTimer = undefined;
    this.#progressTimer?.cancel();
    this.#progressTimer = undefined;
    this.#unsubscribe();
    for (const s of [...this.#streams]) s.close();
  }
}
