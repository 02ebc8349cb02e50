/**
 * The raft log as raft sees it: the durable part (Storage) followed by the unstable tail,
 * with the commit and apply cursors. Invariant: applied <= committed <= lastIndex().
 */
import type { Entry, Snapshot } from "../base/raftpb.ts";
import { CompactedError, RaftInvariantError, UnavailableError } from "./errors.ts";
import { Unstable } from "./log_unstable.ts";
import { limitSize, type Storage } from "./storage.ts";

/** The combined log. Terms are -1 where unknown (compacted or beyond the end). */
export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  /** The highest index known to be stored on a quorum. */
  committed: number;
  /** The highest index the application has applied. */
  applied: number;
  /** The most bytes of committed entries one Ready hands out. */
  readonly maxApplySize: number;

  constructor(storage: Storage, maxApplySize: number) {
    this.storage = storage;
    this.maxApplySize = maxApplySize;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  /**
   * A follower's append: if the entry at `index` has `logTerm`, appends `ents` after it
   * (truncating a conflicting suffix), advances commit to min(committed, last new index) and
   * returns the last new index; returns -1 when the log does not match.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number {
    if (!this.matchTerm(index, logTerm)) return -1;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) {
        throw new RaftInvariantError(
          `entry ${ci} conflicts with committed entry (committed ${this.committed})`,
        );
      }
      const from = ci - (index + 1);
      this.append(from === 0 ? ents : ents.slice(from));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  /** Appends entries (which may overwrite an uncommitted suffix); returns the last index. */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0].index - 1;
    if (after < this.committed) {
      throw new RaftInvariantError(`append after ${after} is below committed ${this.committed}`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry of `ents` whose term differs from ours, or the first new
   * index if all given entries we hold match; 0 if there is nothing new.
   */
  findConflict(ents: readonly Entry[]): number {
    for (let k = 0; k < ents.length; k++) {
      const e = ents[k];
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term: where a leader
   * whose entry at `index` has `term` can continue probing (fast log back-off, Raft §5.3).
   * Returns [index, term]; the term is 0 when unknown (compacted).
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (; index > 0; index--) {
      const t = this.term(index);
      if (t === -1) return [index, 0];
      if (t <= term) return [index, t];
    }
    return [0, 0];
  }

  /** Entries not yet persisted (a copy: the driver may hold it while raft appends). */
  unstableEntries(): Entry[] {
    return this.unstable.entries.length === 0 ? [] : this.unstable.entries.slice();
  }

  /** True when committed entries are waiting to be applied. */
  hasNextEntries(): boolean {
    const off = Math.max(this.applied + 1, this.firstIndex());
    return this.committed + 1 > off;
  }

  /** Committed entries not yet applied, up to maxApplySize bytes. */
  nextEntries(): Entry[] {
    const off = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 > off) return this.slice(off, this.committed + 1, this.maxApplySize);
    return [];
  }

  /** A snapshot received but not yet persisted, or null. */
  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== null;
  }

  /** The snapshot to send to a follower that needs compacted entries. */
  snapshot(): Snapshot {
    if (this.unstable.snapshot !== null) return this.unstable.snapshot;
    return this.storage.snapshot();
  }

  firstIndex(): number {
    const i = this.unstable.maybeFirstIndex();
    return i !== -1 ? i : this.storage.firstIndex();
  }

  lastIndex(): number {
    const i = this.unstable.maybeLastIndex();
    return i !== -1 ? i : this.storage.lastIndex();
  }

  /** Advances the commit index (never backwards). */
  commitTo(tocommit: number): void {
    if (tocommit > this.committed) {
      const last = this.lastIndex();
      if (last < tocommit) {
        throw new RaftInvariantError(
          `tocommit ${tocommit} is out of range [lastIndex ${last}]; log lost or corrupted?`,
        );
      }
      this.committed = tocommit;
    }
  }

  /** Records that entries up to i were applied. */
  appliedTo(i: number): void {
    if (i === 0) return;
    if (this.committed < i || i < this.applied) {
      throw new RaftInvariantError(
        `applied ${i} is out of range [prev applied ${this.applied}, committed ${this.committed}]`,
      );
    }
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    if (t === -1) throw new RaftInvariantError("term of the last entry is unknown");
    return t;
  }

  /** The term of entry i, or -1 if it is compacted or beyond the end. */
  term(i: number): number {
    const ut = this.unstable.maybeTerm(i);
    if (ut !== -1) return ut;
    const dummy = this.firstIndex() - 1;
    if (i < dummy || i > this.lastIndex()) return -1;
    try {
      return this.storage.term(i);
    } catch (err) {
      if (err instanceof CompactedError || err instanceof UnavailableError) return -1;
      throw err;
    }
  }

  /** Entries from i on, at most maxSize bytes (at least one). Throws CompactedError. */
  entries(i: number, maxSize: number): Entry[] {
    const last = this.lastIndex();
    if (i > last) return [];
    return this.slice(i, last + 1, maxSize);
  }

  /**
   * True if a candidate whose last entry is (lasti, term) is at least as up to date as this
   * log (Raft §5.4.1).
   */
  isUpToDate(lasti: number, term: number): boolean {
    const lt = this.lastTerm();
    return term > lt || (term === lt && lasti >= this.lastIndex());
  }

  matchTerm(i: number, term: number): boolean {
    const t = this.term(i);
    return t !== -1 && t === term;
  }

  /** Commits maxIndex if its entry is from `term` (only current-term entries commit by count). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  /** Replaces the log with a snapshot's position. */
  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /** Entries [lo, hi), at most maxSize bytes but at least one. Throws CompactedError. */
  slice(lo: number, hi: number, maxSize: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    if (lo === hi) return [];
    const uoff = this.unstable.offset;
    let ents: Entry[] = [];
    if (lo < uoff) {
      const stored = this.storage.entries(lo, Math.min(hi, uoff), maxSize);
      // the storage stopped early because of the size limit
      if (stored.length < Math.min(hi, uoff) - lo) return stored;
      ents = stored;
    }
    if (hi > uoff) {
      const unstable = this.unstable.slice(Math.max(lo, uoff), hi);
      ents = ents.length > 0 ? ents.concat(unstable) : unstable;
    }
    return limitSize(ents, maxSize);
  }

  private mustCheckOutOfBounds(lo: number, hi: number): void {
    if (lo > hi) throw new RaftInvariantError(`invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new CompactedError(lo, fi);
    const length = this.lastIndex() + 1 - fi;
    if (hi > fi + length) {
      throw new RaftInvariantError(`slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`);
    }
  }
}
