/**
 * A leader's view of one follower: how far its log is known to match (match), what to send
 * next (next), and how to send it. Probe: one append per heartbeat interval until the match
 * point is found. Replicate: stream appends optimistically within the inflight window.
 * Snapshot: wait for the snapshot to be installed before sending anything else.
 */
import { Inflights } from "./inflights.ts";

/** The replication states of a follower (etcd's StateProbe/StateReplicate/StateSnapshot). */
export enum ProgressState {
  Probe = 0,
  Replicate = 1,
  Snapshot = 2,
}

/** Per-follower replication state kept by the leader. */
export class Progress {
  match: number;
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** Snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from in the current election timeout (CheckQuorum). */
  recentActive = false;
  /** Probe state: an append was sent; wait for a response or heartbeat before the next. */
  probeSent = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(
    match: number,
    next: number,
    maxInflight: number,
    maxInflightBytes: number,
    isLearner: boolean,
  ) {
    this.match = match;
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
    this.isLearner = isLearner;
  }

  #reset(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /** Back to probing from just after the match point (or after a sent snapshot). */
  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.#reset(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.#reset(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.#reset(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.#reset(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** An append of `count` entries ending at `lastIndex` (and `bytes` bytes) was sent. */
  sentEntries(count: number, lastIndex: number, bytes: number): void {
    if (this.state === ProgressState.Replicate) {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === ProgressState.Probe) {
      this.probeSent = true;
    }
  }

  /** The follower acknowledged up to n; returns true if that is news. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < n + 1) this.next = n + 1;
    return updated;
  }

  /**
   * The follower rejected an append at `rejected`, hinting it matches at most up to
   * `matchHint`. Returns false if the rejection is stale (an old message).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** True when no append should be sent now. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      default:
        return true;
    }
  }

  toString(): string {
    return `${ProgressState[this.state]} match=${this.match} next=${this.next}` +
      (this.isLearner ? " learner" : "") +
      (this.pendingSnapshot ? ` pendingSnap=${this.pendingSnapshot}` : "");
  }
}
