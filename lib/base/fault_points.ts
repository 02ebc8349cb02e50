/**
 * Named points on a member's paths where a test may make the process die, wait or fail (etcd's
 * gofail failpoints, by etcd's names): around the WAL save, the snapshot save and apply, the
 * WAL release, the backend commit, the online defrag, the compaction and the apply (crash
 * points); before the leader's or a follower's messages reach the transport and before a watch
 * response is handed on (delay points); the defrag's opening of its copy (an error point). The
 * code at each point calls `hit(point)` once and goes on; what a hit does is the caller's
 * choice (the whole-cluster simulation crashes the member's disk there, so nothing after the
 * point reaches it; `concord serve` takes etcd's GOFAIL_FAILPOINTS terms from the
 * CONCORD_FAILPOINTS variable, or while it runs over gofail's HTTP endpoint:
 * failpoint_terms.ts). Members built without points pay one null check per point.
 */

/** Every fault point, in the order of a write's life; the names are etcd's, typo included. */
export const FAULT_POINTS = [
  // raft loop (etcd's server/etcdserver/raft.go and server/storage/storage.go)
  "raftBeforeSaveSnap",
  "raftBeforeWALSaveSnaphot",
  "raftAfterSaveSnap",
  "raftBeforeSave",
  "raftAfterSave",
  "raftBeforeApplySnap",
  "raftAfterApplySnap",
  "raftAfterWALRelease",
  // apply (etcd's server/etcdserver/server.go)
  "applyBeforeOpenSnapshot",
  "applyAfterOpenSnapshot",
  "beforeApplyOneEntryNormal",
  "beforeApplyOneConfChange",
  // backend (etcd's server/storage/backend/batch_tx.go and backend.go)
  "beforeCommit",
  "afterCommit",
  "defragBeforeCopy",
  "defragBeforeRename",
  // compaction (etcd's server/storage/mvcc/kvstore.go and kvstore_compaction.go)
  "compactBeforeCommitScheduledCompact",
  "compactAfterCommitScheduledCompact",
  "compactBeforeCommitBatch",
  "compactAfterCommitBatch",
  "compactBeforeSetFinishedCompact",
  "compactAfterSetFinishedCompact",
  // WAL, around a save's fdatasync (etcd's server/storage/wal/wal.go Save); last, so the seeds
  // pinned per point above keep their places
  "walBeforeSync",
  "walAfterSync",
] as const;

/** One named crash point (the points the simulation's menu crashes members at). */
export type CrashPoint = typeof FAULT_POINTS[number];

/**
 * Points where the code may wait before it goes on (etcd's raft.go and v3rpc/watch.go: a
 * `sleep` there holds the raft loop's send, or the watch stream's send, in etcd): the leader's
 * messages before the transport takes them, a follower's (after its save), and a watch
 * response before it is handed to the stream's reader. A crash there is a crash point too.
 */
export const DELAY_POINTS = [
  "raftBeforeLeaderSend",
  "raftBeforeFollowerSend",
  "beforeSendWatchResponse",
] as const;

/** One point that may wait. */
export type DelayPoint = typeof DELAY_POINTS[number];

/**
 * Points where the code may fail with an error (etcd's backend.go: bolt's open of the defrag's
 * copy returns the failpoint's string as an error): the defrag fails, nothing else does.
 */
export const ERROR_POINTS = ["defragOpenFileError"] as const;

/** One point that may fail. */
export type ErrorPoint = typeof ERROR_POINTS[number];

/** One named fault point, of any kind. */
export type FaultPoint = CrashPoint | DelayPoint | ErrorPoint;

/** Every point, crash points first. */
export const ALL_FAULT_POINTS: readonly FaultPoint[] = [
  ...FAULT_POINTS,
  ...DELAY_POINTS,
  ...ERROR_POINTS,
];

/** The error an error point fails with (its message is the armed term's, as in etcd). */
export class FaultPointError extends Error {
  constructor(readonly point: FaultPoint, message: string) {
    super(message);
    this.name = "FaultPointError";
  }
}

/**
 * What the code at a fault point calls. Given through the member's options (and from there to
 * the raft loop, the backend, the store and the watch hub); absent in production.
 */
export interface FaultPoints {
  /**
   * The code reached `point`; it goes on when this returns. At an error point it may throw
   * (a FaultPointError), and the code there fails as it would on that error.
   */
  hit(point: FaultPoint): void;
  /**
   * At a delay point, after `hit`: how many ms (on the member's clock) the code waits before it
   * goes on; 0 (or no method) goes on at once.
   */
  delay?(point: DelayPoint): number;
}

/** `hit` then `delay` at a delay point: the ms to wait there (0 without points). */
export function delayAt(faults: FaultPoints | undefined, point: DelayPoint): number {
  if (faults === undefined) return 0;
  faults.hit(point);
  return faults.delay?.(point) ?? 0;
}

/**
 * Holds items in order behind a delay: an item offered with a delay, and every item offered
 * while one is held, waits; when the delay ends they all go out, in the order offered. So a
 * delay point slows a stream of messages (or responses) down without reordering it, as etcd's
 * sleeping loop does. `schedule` is the member's clock (`clock.after`).
 */
export class OrderedDelay<T> {
  readonly #schedule: (ms: number, fn: () => void) => { cancel(): void };
  readonly #release: (items: T[]) => void;
  #held: T[] | null = null;
  #timer: { cancel(): void } | null = null;

  constructor(
    schedule: (ms: number, fn: () => void) => { cancel(): void },
    release: (items: T[]) => void,
  ) {
    this.#schedule = schedule;
    this.#release = release;
  }

  /** Items waiting now. */
  get held(): number {
    return this.#held?.length ?? 0;
  }

  /**
   * Takes `item` if it must wait (a delay of `ms` > 0, or items already held): true, and it
   * goes out through `release` later. False: nothing is held, the caller hands it on now.
   */
  offer(item: T, ms: number): boolean {
    if (this.#held !== null) {
      this.#held.push(item);
      return true;
    }
    if (ms <= 0) return false;
    this.#held = [item];
    this.#timer = this.#schedule(ms, () => {
      const items = this.#held ?? [];
      this.#held = null;
      this.#timer = null;
      this.#release(items);
    });
    return true;
  }

  /** Drops what is held (the stream closed). */
  clear(): void {
    this.#timer?.cancel();
    this.#timer = null;
    this.#held = null;
  }
}
