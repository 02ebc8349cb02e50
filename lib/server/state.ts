/**
 * The applied state of a member, all of it read from one backend: the MVCC store, the lessor,
 * users and roles, alarms and the membership. It is opened as a whole and, when the member
 * installs a raft snapshot from the leader, replaced as a whole by one opened over the
 * received page file (etcd's applySnapshot: kv.Restore, lessor.Recover, authStore.Recover,
 * cluster.Recover).
 */
import type { Backend } from "../backend/backend.ts";
import type { BatchBackend } from "../backend/batch_backend.ts";
import type { Clock } from "../io/clock.ts";
import { type MvccMetrics, MvccStore } from "../mvcc/kv_store.ts";
import { type LeaseCheckpoint, Lessor, type LessorMetrics } from "../lease/lessor.ts";
import { kvKeyDeleter } from "../lease/kv_deleter.ts";
import { AuthStore } from "../auth/store.ts";
import { AlarmStore } from "./alarms.ts";
import { Membership } from "./membership.ts";

/** What opening the state needs besides the backend. */
export interface StateOptions {
  clock: Clock;
  /** Shortest lease TTL in seconds (etcd: from the election timeout). */
  minLeaseTtl: number;
  /** Expired leases (on the leader): revoke them through raft. */
  onLeasesExpired: (ids: bigint[]) => void;
  /** Remaining TTLs to record through raft (on the leader). */
  onLeaseCheckpoint: (batch: LeaseCheckpoint[]) => void;
  /** Where the store and the lessor report (kept across a snapshot's reopen). */
  metrics?: { mvcc?: MvccMetrics; lessor?: LessorMetrics };
  /** Revisions a compaction deletes per commit (ServerConfig.compactionBatchLimit). */
  compactionBatchLimit?: number;
  /**
   * The backend failed (a commit that could not be made durable) while this state served:
   * the member must stop serving with that error, as etcd exits on a failed bbolt commit.
   * Not called for a failure while the state closes (a crash's own writes failing).
   */
  onBackendFailure?: (err: Error) => void;
}

/** One backend and everything read from it. */
export class ServerState {
  readonly backend: Backend & BatchBackend;
  readonly store: MvccStore;
  readonly lessor: Lessor;
  readonly auth: AuthStore;
  readonly alarms: AlarmStore;
  readonly membership: Membership;

  constructor(backend: Backend & BatchBackend, opts: StateOptions) {
    this.backend = backend;
    this.lessor = new Lessor({
      backend,
      clock: opts.clock,
      minTtl: opts.minLeaseTtl,
      onExpired: opts.onLeasesExpired,
      onCheckpoint: opts.onLeaseCheckpoint,
      metrics: opts.metrics?.lessor,
    });
    this.store = MvccStore.open(backend, {
      leases: this.lessor,
      clock: opts.clock,
      metrics: opts.metrics?.mvcc,
      compactionBatchLimit: opts.compactionBatchLimit,
    });
    this.lessor.setKeyDeleter(kvKeyDeleter(this.store));
    this.auth = new AuthStore(backend);
    this.alarms = new AlarmStore(backend);
    this.membership = new Membership(backend);
    const failed = opts.onBackendFailure;
    if (failed) backend.onFailure((err) => !this.#closing && failed(err));
  }

  #closing = false;

  /** Stops the lessor and the store's background work, then commits and closes the backend. */
  async close(): Promise<void> {
    this.#closing = true;
    this.lessor.stop();
    await this.store.close();
    await this.backend.close();
  }
}
