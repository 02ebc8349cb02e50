/**
 * The lessor: owns every lease of a member, as etcd's lessor does. Leases are granted,
 * revoked and checkpointed only by applying replicated entries (the server calls `grant`,
 * `revoke` and `checkpoint` from its apply loop), so every member holds the same leases.
 * Time matters only on the primary (the raft leader's lessor): it renews leases on
 * keep-alive, notices expiry and reports it, and produces checkpoints of remaining TTLs.
 * It never revokes on its own: the owner proposes the revoke through raft and applies it.
 *
 * All time comes from the `Clock` seam; all state that must survive a restart (id, granted
 * TTL, checkpointed remaining TTL) is written to the backend bucket "lease" in the same write
 * batch as the change that caused it.
 */
import type { Backend } from "../backend/backend.ts";
import { Errors } from "../base/errors.ts";
import type { LeaseId, Revision } from "../base/types.ts";
import type { CountSink, ObserveSink } from "../base/metric_sink.ts";
import type { Clock, Timer } from "../io/clock.ts";
import type { LeaseHooks } from "../mvcc/lease_hooks.ts";
import { LeaseTimeIndex } from "./lease_queue.ts";
import {
  decodeLease,
  encodeLease,
  LEASE_BUCKET,
  leaseIdFromKey,
  leaseKey,
} from "./lease_record.ts";

/** The id meaning "no lease". */
export const NO_LEASE: LeaseId = 0n;

/** The largest TTL a lease may be granted, in seconds (etcd's MaxLeaseTTL). */
export const MAX_LEASE_TTL = 9_000_000_000;

/** etcd's default interval between checkpoints of one lease: 5 minutes. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5 * 60 * 1000;

/** etcd's default wait before an expired, not yet revoked lease is reported again: 3 s. */
export const DEFAULT_EXPIRED_RETRY_INTERVAL_MS = 3000;

/** etcd's limit on leases reported for revocation per second. */
export const DEFAULT_REVOKE_RATE = 1000;

/** etcd's limit on lease checkpoints produced per second. */
export const DEFAULT_CHECKPOINT_RATE = 1000;

/** etcd's largest number of checkpoints in one batch (one raft entry). */
export const MAX_CHECKPOINT_BATCH = 1000;

/** How often the primary looks for expired leases and due checkpoints (etcd: 500 ms). */
export const DEFAULT_LOOP_INTERVAL_MS = 500;

/**
 * The smallest TTL the server grants, in seconds, derived from raft timing as etcd does:
 * one and a half election timeouts, rounded up, so a lease cannot expire merely because
 * a leader election was in progress. Shorter requested TTLs are raised to it.
 */
export function minLeaseTtlSeconds(electionTicks: number, heartbeatMs: number): number {
  return Math.ceil((Math.floor((3 * electionTicks) / 2) * heartbeatMs) / 1000);
}

/** One lease's remaining TTL, recorded through raft (etcd's LeaseCheckpoint). */
export interface LeaseCheckpoint {
  id: LeaseId;
  /** Seconds left when the checkpoint was taken; 0 clears an earlier checkpoint. */
  remainingTtl: number;
}

/**
 * What revoke needs from the KV store: delete these keys in one write transaction, that is
 * one new revision, writing to the same backend batch as the lessor, and return the revision
 * (etcd's RangeDeleter/TxnDelete). Keys come sorted bytewise so every member deletes them
 * in the same order. Called only with at least one key.
 */
export interface LeaseKeyDeleter {
  deleteKeys(keys: readonly Uint8Array[]): Revision;
}

/** Thrown by `renew` on a member that is not the primary: the caller forwards to the leader. */
export class NotPrimaryError extends Error {
  constructor() {
    super("lease: not a primary lessor");
    this.name = "NotPrimaryError";
  }
}

/** Settings of a lessor. Time values are milliseconds of the given clock, TTLs seconds. */
export interface LessorOptions {
  backend: Backend;
  clock: Clock;
  /** Shorter TTLs are raised to this (see `minLeaseTtlSeconds`); default 0 (no minimum). */
  minTtl?: number;
  /** Interval between checkpoints of a lease; default 5 minutes. */
  checkpointIntervalMs?: number;
  /** Wait before an expired lease that was not revoked is reported again; default 3 s. */
  expiredRetryIntervalMs?: number;
  /** Leases reported expired per second at most; default 1000. */
  revokeRate?: number;
  /** Checkpoints produced per second at most; default 1000. */
  checkpointRate?: number;
  /** Period of the primary's expiry and checkpoint scan once `start()`ed; default 500 ms. */
  loopIntervalMs?: number;
  /**
   * Receives leases found expired on the primary. The owner proposes their revocation
   * through raft; a lease that is still there `expiredRetryIntervalMs` later is reported
   * again. Never called on a non-primary.
   */
  onExpired?: (ids: LeaseId[]) => void;
  /**
   * Receives batches of checkpoints to replicate (each to become one raft entry whose apply
   * calls `checkpoint` on every member). When absent, checkpointing is off, as in etcd.
   */
  onCheckpoint?: (batch: LeaseCheckpoint[]) => void;
  /** Where grants, revokes, renewals and granted TTLs are reported (etcd_debugging_lease_*). */
  metrics?: LessorMetrics;
}

/** The lessor's measurements, as etcd's lease package exports them. */
export interface LessorMetrics {
  granted?: CountSink;
  revoked?: CountSink;
  /** Renewals on the primary. */
  renewed?: CountSink;
  /** The TTL of each grant, in seconds. */
  ttlSeconds?: ObserveSink;
}

/** What `timeToLive` answers (etcd's LeaseTimeToLiveResponse fields). */
export interface LeaseTimeToLive {
  id: LeaseId;
  /** Whole seconds left, truncated toward zero as etcd reports them. */
  ttl: number;
  /** The TTL the lease was granted (after raising to the minimum). */
  grantedTtl: number;
  /** Attached keys, bytewise sorted; empty unless asked for. */
  keys: Uint8Array[];
}

/** A read-only view of one lease. */
export interface LeaseView {
  readonly id: LeaseId;
  /** Granted TTL in seconds. */
  readonly ttl: number;
  /** Last checkpointed remaining TTL in seconds; 0 when none. */
  readonly remainingTtl: number;
  /** Clock time of expiry in ms, or Infinity when the lessor is not primary. */
  readonly expiry: number;
  /** Number of attached keys. */
  readonly keyCount: number;
}

interface Waiter {
  resolve: (ttl: number) => void;
  reject: (err: Error) => void;
}

class Lease implements LeaseView {
  readonly id: LeaseId;
  ttl: number;
  remainingTtl: number;
  expiry = Infinity;
  /**
   * The time of this lease's entry in the expiry index, never later than `expiry` while the
   * lease lives (an expired one waits there for its retry): a renewal only moves `expiry`
   * later and leaves the entry where it is (see `renewNow`).
   */
  queuedAt = Infinity;
  /** Attached keys by their binary-string form (made on first attach). */
  keys: Map<string, Uint8Array> | undefined;
  /** Renewals of this lease waiting for its pending revocation (or a demotion). */
  waiters: Waiter[] | undefined;
  /** Its key in the lease bucket (never modified once made). */
  readonly bucketKey: Uint8Array;

  constructor(id: LeaseId, ttl: number, remainingTtl: number) {
    this.id = id;
    this.bucketKey = leaseKey(id);
    this.ttl = ttl;
    this.remainingTtl = remainingTtl;
  }

  get keyCount(): number {
    return this.keys?.size ?? 0;
  }

  /** The TTL to count from when (re)starting the clock: the checkpointed one if any. */
  startTtl(): number {
    return this.remainingTtl > 0 ? this.remainingTtl : this.ttl;
  }
}

/** A key's bytes as a string of char codes 0..255 (a Map key whose order is bytewise). */
function keyString(key: Uint8Array): string {
  if (key.length < 4096) return String.fromCharCode.apply(null, key as unknown as number[]);
  let s = "";
  for (let i = 0; i < key.length; i += 4096) {
    s += String.fromCharCode.apply(null, key.subarray(i, i + 4096) as unknown as number[]);
  }
  return s;
}

function checkId(id: LeaseId): void {
  if (id < -(1n << 63n) || id >= 1n << 63n) {
    throw new RangeError(`lease id ${id} is outside int64`);
  }
}

/**
 * The lessor of one member. It is also the KV store's `LeaseHooks` (exists, attach, detach):
 * hand it to `MvccStore.open` as `leases`, and `kvKeyDeleter(store)` to `setKeyDeleter`.
 */
export class Lessor implements LeaseHooks {
  #backend: Backend;
  readonly #clock: Clock;
  readonly #minTtl: number;
  readonly #checkpointIntervalMs: number;
  readonly #retryMs: number;
  readonly #revokeRate: number;
  readonly #checkpointRate: number;
  readonly #loopMs: number;
  readonly #onExpired?: (ids: LeaseId[]) => void;
  readonly #onCheckpoint?: (batch: LeaseCheckpoint[]) => void;
  readonly #metrics: LessorMetrics | undefined;

  #leases = new Map<LeaseId, Lease>();
  /** Attached key (binary string) to its lease. */
  #items = new Map<string, LeaseId>();
  #expiries = new LeaseTimeIndex();
  /** When each lease is next due for a checkpoint (one entry per lease). */
  #checkpoints = new LeaseTimeIndex();
  #primary = false;
  #deleter?: LeaseKeyDeleter;
  #timer?: Timer;

  /** Opens the lessor over `backend`, recovering the leases stored there (not primary). */
  constructor(options: LessorOptions) {
    this.#backend = options.backend;
    this.#clock = options.clock;
    this.#minTtl = options.minTtl ?? 0;
    this.#checkpointIntervalMs = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    this.#retryMs = options.expiredRetryIntervalMs ?? DEFAULT_EXPIRED_RETRY_INTERVAL_MS;
    this.#revokeRate = options.revokeRate ?? DEFAULT_REVOKE_RATE;
    this.#checkpointRate = options.checkpointRate ?? DEFAULT_CHECKPOINT_RATE;
    this.#loopMs = options.loopIntervalMs ?? DEFAULT_LOOP_INTERVAL_MS;
    this.#onExpired = options.onExpired;
    this.#onCheckpoint = options.onCheckpoint;
    this.#metrics = options.metrics;
    if (!Number.isSafeInteger(this.#minTtl) || this.#minTtl < 0) {
      throw new RangeError(`minTtl ${this.#minTtl} must be a non-negative integer`);
    }
    this.#load();
  }

  /** Connects the KV store that revoke deletes attached keys through. */
  setKeyDeleter(deleter: LeaseKeyDeleter): void {
    this.#deleter = deleter;
  }

  /** True while this lessor is the primary (its member leads raft). */
  get isPrimary(): boolean {
    return this.#primary;
  }

  /** The minimum TTL in seconds this lessor grants. */
  get minTtl(): number {
    return this.#minTtl;
  }

  /**
   * Applies a grant: creates lease `id` (not 0) with `ttl` seconds, raised to the minimum.
   * Throws leaseNotFound for id 0 (as etcd), leaseTTLTooLarge above MAX_LEASE_TTL and
   * leaseExist for a taken id. On the primary the lease starts counting down now.
   */
  grant(id: LeaseId, ttl: number): LeaseView {
    checkId(id);
    if (id === NO_LEASE) throw Errors.leaseNotFound();
    if (!Number.isSafeInteger(ttl)) throw new RangeError(`lease TTL ${ttl} is not an integer`);
    if (ttl > MAX_LEASE_TTL) throw Errors.leaseTTLTooLarge();
    if (this.#leases.has(id)) throw Errors.leaseExist();
    const lease = new Lease(id, Math.max(ttl, this.#minTtl), 0);
    this.#leases.set(id, lease);
    this.#persist(lease);
    this.#metrics?.granted?.add();
    this.#metrics?.ttlSeconds?.observe(lease.ttl);
    if (this.#primary) {
      this.#refresh(lease, 0, lease.ttl);
      this.#scheduleCheckpoint(lease);
    }
    return lease;
  }

  /**
   * Applies a revoke: deletes every attached key in one KV write (one revision, returned;
   * undefined when the lease had no keys) and the lease record, in the same backend batch.
   * Pending renewals of the lease fail with leaseNotFound. Throws leaseNotFound.
   */
  revoke(id: LeaseId): Revision | undefined {
    const lease = this.#leases.get(id);
    if (!lease) throw Errors.leaseNotFound();
    let rev: Revision | undefined;
    const keys = lease.keys;
    if (keys && keys.size > 0) {
      if (!this.#deleter) {
        throw new Error("lessor: lease has attached keys but no key deleter is connected");
      }
      const names = [...keys.keys()].sort();
      rev = this.#deleter.deleteKeys(names.map((k) => keys.get(k)!));
      for (const k of names) this.#items.delete(k);
    }
    this.#leases.delete(id);
    this.#expiries.delete(id);
    this.#checkpoints.delete(id);
    this.#backend.write.delete(LEASE_BUCKET, lease.bucketKey);
    const waiters = lease.waiters ?? [];
    lease.waiters = undefined;
    for (const w of waiters) w.reject(Errors.leaseNotFound());
    this.#metrics?.revoked?.add();
    return rev;
  }

  /**
   * Applies a checkpoint: records the lease's remaining TTL (0 clears it) and persists it, so
   * a restart or a new primary counts from there instead of from the full TTL. Unknown leases
   * are ignored (the lease may have been revoked after the checkpoint was proposed).
   */
  checkpoint(id: LeaseId, remainingTtl: number): void {
    const lease = this.#leases.get(id);
    if (!lease) return;
    if (!Number.isSafeInteger(remainingTtl) || remainingTtl < 0) {
      throw new RangeError(`remaining TTL ${remainingTtl} must be a non-negative integer`);
    }
    lease.remainingTtl = remainingTtl;
    this.#persist(lease);
    if (this.#primary) this.#scheduleCheckpoint(lease);
  }

  /**
   * Keep-alive on the primary: restarts the lease's full TTL and resolves to it. On a
   * non-primary rejects with NotPrimaryError (forward to the leader). A lease already expired
   * but not yet revoked is not resurrected: the call waits until it is revoked (leaseNotFound)
   * or this lessor is demoted or stopped (NotPrimaryError). Throws leaseNotFound.
   */
  renew(id: LeaseId): Promise<number> {
    const ttl = this.renewNow(id);
    if (ttl !== undefined) return Promise.resolve(ttl);
    if (!this.#primary) return Promise.reject(new NotPrimaryError());
    const lease = this.#leases.get(id);
    if (!lease) return Promise.reject(Errors.leaseNotFound());
    return new Promise((resolve, reject) => (lease.waiters ??= []).push({ resolve, reject }));
  }

  /**
   * The keep-alive of `renew` when it can be answered at once: on the primary, for a lease
   * that exists and has not expired, renews it and returns its TTL; otherwise changes nothing
   * and returns undefined (`renew` then says why, or waits). Renewal only moves the lease's
   * expiry later, so the expiry index is not touched: the lease's entry stays at its earlier
   * time, and `findExpired` moves it when it comes up (etcd's lessor fixes its heap on every
   * renewal; here a lease kept alive costs one index update per TTL, not per keep-alive).
   */
  renewNow(id: LeaseId): number | undefined {
    if (!this.#primary) return undefined;
    const lease = this.#leases.get(id);
    if (lease === undefined) return undefined;
    const now = this.#clock.now();
    if (lease.expiry - now <= 0) return undefined;
    if (this.#onCheckpoint && lease.remainingTtl > 0) {
      // The checkpointed remaining TTL no longer holds; clear it through raft (at most two
      // entries per lease per checkpoint interval, as etcd).
      this.#onCheckpoint([{ id, remainingTtl: 0 }]);
    }
    const expiry = now + lease.ttl * 1000;
    lease.expiry = expiry;
    if (expiry < lease.queuedAt) this.#queue(lease, expiry);
    this.#metrics?.renewed?.add();
    return lease.ttl;
  }

  /** The lease, or undefined. */
  lookup(id: LeaseId): LeaseView | undefined {
    return this.#leases.get(id);
  }

  /** True when the lease exists (the KV store checks this before attaching a key). */
  exists(id: LeaseId): boolean {
    return this.#leases.has(id);
  }

  /** Remaining and granted TTL of a lease, and its keys if asked. Throws leaseNotFound. */
  timeToLive(id: LeaseId, withKeys = false): LeaseTimeToLive {
    const lease = this.#leases.get(id);
    if (!lease) throw Errors.leaseNotFound();
    const remainingMs = lease.expiry === Infinity
      ? lease.startTtl() * 1000
      : lease.expiry - this.#clock.now();
    const attached = lease.keys;
    const keys = withKeys && attached
      ? [...attached.keys()].sort().map((k) => attached.get(k)!.slice())
      : [];
    return { id, ttl: Math.trunc(remainingMs / 1000), grantedTtl: lease.ttl, keys };
  }

  /** Every lease, soonest expiry first (etcd's order), ties by id. */
  leases(): LeaseView[] {
    return [...this.#leases.values()].sort((a, b) =>
      a.expiry - b.expiry || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
    );
  }

  /** Number of leases. */
  get size(): number {
    return this.#leases.size;
  }

  /** Attaches keys to a lease (a put with this lease applied). Throws leaseNotFound. */
  attach(id: LeaseId, ...keys: Uint8Array[]): void {
    const lease = this.#leases.get(id);
    if (!lease) throw Errors.leaseNotFound();
    for (const key of keys) {
      const k = keyString(key);
      const prev = this.#items.get(k);
      if (prev !== undefined && prev !== id) this.#leases.get(prev)?.keys?.delete(k);
      (lease.keys ??= new Map()).set(k, key.slice());
      this.#items.set(k, id);
    }
  }

  /** Detaches keys from a lease (key deleted or overwritten). Throws leaseNotFound. */
  detach(id: LeaseId, ...keys: Uint8Array[]): void {
    const lease = this.#leases.get(id);
    if (!lease) throw Errors.leaseNotFound();
    for (const key of keys) {
      const k = keyString(key);
      if (lease.keys?.delete(k)) this.#items.delete(k);
    }
  }

  /** The lease a key is attached to, or NO_LEASE. */
  getLease(key: Uint8Array): LeaseId {
    return this.#items.get(keyString(key)) ?? NO_LEASE;
  }

  /**
   * Makes this lessor the primary (its member became leader). Every lease restarts counting
   * from its checkpointed remaining TTL (or its full TTL) plus `extendMs`, so no lease expires
   * during the election gap; where many leases would expire within one second, later ones are
   * spread out to keep revocations under the revoke rate, as etcd does.
   */
  promote(extendMs: number): void {
    this.#primary = true;
    this.#expiries.clear();
    this.#checkpoints.clear();
    for (const lease of this.#leases.values()) {
      this.#refresh(lease, extendMs, lease.startTtl());
      this.#scheduleCheckpoint(lease);
    }
    if (this.#leases.size < this.#revokeRate) return;
    const now = this.#clock.now();
    const sorted = [...this.#leases.values()].sort((a, b) => a.expiry - b.expiry);
    let baseWindow = sorted[0].expiry - now;
    let nextWindow = baseWindow + 1000;
    let expires = 0;
    const target = Math.floor((3 * this.#revokeRate) / 4);
    for (const lease of sorted) {
      const remaining = lease.expiry - now;
      if (remaining > nextWindow) {
        baseWindow = remaining;
        nextWindow = baseWindow + 1000;
        expires = 1;
        continue;
      }
      expires++;
      if (expires <= target) continue;
      const delay = 1000 * (expires / target) - (remaining - baseWindow);
      nextWindow = baseWindow + delay;
      this.#refresh(lease, delay + extendMs, lease.startTtl());
    }
  }

  /**
   * Makes this lessor a follower: leases stop expiring here, scheduled checkpoints are
   * dropped, and renewals waiting on an expired lease fail with NotPrimaryError.
   */
  demote(): void {
    this.#primary = false;
    this.#expiries.clear();
    this.#checkpoints.clear();
    for (const lease of this.#leases.values()) {
      lease.expiry = Infinity;
      this.#failWaiters(lease);
    }
  }

  /** Starts the periodic scan (expired leases, due checkpoints) on the clock. */
  start(): void {
    if (this.#timer) return;
    this.#timer = this.#clock.every(this.#loopMs, () => this.tick());
  }

  /** Stops the periodic scan; renewals waiting on expired leases fail with NotPrimaryError. */
  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    for (const lease of this.#leases.values()) this.#failWaiters(lease);
  }

  /**
   * One scan, as the timer runs it: reports expired leases (at most half the revoke rate, as
   * etcd's twice-a-second loop) and hands due checkpoints to `onCheckpoint` in batches.
   */
  tick(): void {
    if (!this.#primary) return;
    const expired = this.findExpired(Math.max(1, Math.floor(this.#revokeRate / 2)));
    if (expired.length > 0) this.#onExpired?.(expired);
    if (!this.#onCheckpoint) return;
    for (let i = 0; i < Math.max(1, Math.floor(this.#checkpointRate / 2)); i++) {
      const batch = this.dueCheckpoints(MAX_CHECKPOINT_BATCH);
      if (batch.length > 0) this.#onCheckpoint(batch);
      if (batch.length < MAX_CHECKPOINT_BATCH) return;
    }
  }

  /**
   * Expired leases, up to `limit`, soonest first. Each is rescheduled to be reported again
   * after the retry interval in case its revocation is lost (say, the proposal is dropped).
   */
  findExpired(limit: number): LeaseId[] {
    const out: LeaseId[] = [];
    if (!this.#primary) return out;
    const now = this.#clock.now();
    while (out.length < limit) {
      const next = this.#expiries.peek();
      if (!next || next.time > now) break;
      const lease = this.#leases.get(next.id);
      if (!lease) {
        this.#expiries.delete(next.id);
        continue;
      }
      if (next.time < lease.expiry) {
        // renewed since it was queued: requeued at its expiry, and seen again in this loop
        // if that has come too (so expired leases still come out soonest first)
        this.#queue(lease, lease.expiry);
        continue;
      }
      this.#queue(lease, now + this.#retryMs);
      if (lease.expiry - now <= 0) out.push(lease.id);
    }
    return out;
  }

  /**
   * Checkpoints due now, up to `limit`: each lease whose checkpoint time came and whose
   * remaining TTL (rounded up to whole seconds) is below its granted TTL.
   */
  dueCheckpoints(limit: number): LeaseCheckpoint[] {
    const out: LeaseCheckpoint[] = [];
    if (!this.#primary || !this.#onCheckpoint) return out;
    const now = this.#clock.now();
    while (out.length < limit) {
      const next = this.#checkpoints.peek();
      if (!next || next.time > now) break;
      const id = next.id;
      this.#checkpoints.delete(id);
      const lease = this.#leases.get(id);
      if (!lease || lease.expiry <= now) continue;
      const remaining = Math.ceil((lease.expiry - now) / 1000);
      if (remaining >= lease.ttl) continue;
      out.push({ id: lease.id, remainingTtl: remaining });
    }
    return out;
  }

  /**
   * Reloads every lease from `backend` (after a snapshot was restored into it, or to switch
   * backends). Attached keys are dropped: the KV store re-attaches them as it recovers.
   */
  recover(backend: Backend): void {
    for (const lease of this.#leases.values()) this.#failWaiters(lease);
    this.#backend = backend;
    this.#leases = new Map();
    this.#items = new Map();
    this.#expiries.clear();
    this.#checkpoints.clear();
    this.#load();
    if (this.#primary) this.promote(0);
  }

  #load(): void {
    const tx = this.#backend.write;
    tx.createBucket(LEASE_BUCKET);
    tx.range(LEASE_BUCKET, new Uint8Array(0), undefined, (key, value) => {
      const rec = decodeLease(value);
      const id = leaseIdFromKey(key);
      if (rec.id !== id) throw new Error(`lease record under key ${id} holds lease ${rec.id}`);
      this.#leases.set(id, new Lease(id, Math.max(rec.ttl, this.#minTtl), rec.remainingTtl));
    });
  }

  #persist(lease: Lease): void {
    this.#backend.write.put(
      LEASE_BUCKET,
      lease.bucketKey,
      encodeLease({ id: lease.id, ttl: lease.ttl, remainingTtl: lease.remainingTtl }),
    );
  }

  #refresh(lease: Lease, extendMs: number, ttl: number): void {
    lease.expiry = this.#clock.now() + extendMs + ttl * 1000;
    this.#queue(lease, lease.expiry);
  }

  /** Puts the lease's expiry-index entry at `time`. */
  #queue(lease: Lease, time: number): void {
    lease.queuedAt = time;
    this.#expiries.set(lease.id, time);
  }

  #scheduleCheckpoint(lease: Lease): void {
    if (!this.#onCheckpoint) return;
    if (lease.startTtl() * 1000 > this.#checkpointIntervalMs) {
      this.#checkpoints.set(lease.id, this.#clock.now() + this.#checkpointIntervalMs);
    }
  }

  #failWaiters(lease: Lease): void {
    const waiters = lease.waiters ?? [];
    lease.waiters = undefined;
    for (const w of waiters) w.reject(new NotPrimaryError());
  }
}
