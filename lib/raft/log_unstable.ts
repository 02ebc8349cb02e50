/**
 * The tail of the log that is not yet durable: entries raft appended (as leader, or from a
 * leader's MsgApp) and possibly an incoming snapshot, until the driver persists them and
 * acknowledges with stableTo / stableSnapTo. `entries[i]` has index `offset + i`.
 */
import type { Entry, Snapshot } from "../base/raftpb.ts";
import { RaftInvariantError } from "./errors.ts";

/** Unpersisted entries and snapshot. Lookups return -1 when they do not know. */
export class Unstable {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** The first index if a snapshot is pending, else -1 (the storage knows). */
  maybeFirstIndex(): number {
    return this.snapshot !== null ? this.snapshot.metadata.index + 1 : -1;
  }

  /** The last index held here, or -1. */
  maybeLastIndex(): number {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== null) return this.snapshot.metadata.index;
    return -1;
  }

  /** The term of entry i if held here, else -1. */
  maybeTerm(i: number): number {
    if (i < this.offset) {
      if (this.snapshot !== null && this.snapshot.metadata.index === i) {
        return this.snapshot.metadata.term;
      }
      return -1;
    }
    const k = i - this.offset;
    if (k >= this.entries.length) return -1;
    return this.entries[k].term;
  }

  /** Entries up to (i, t) are durable; forget them unless they were replaced meanwhile. */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === -1 || i < this.offset) return; // unknown, or only the snapshot matches
    if (gt !== t) return; // replaced by a newer leader's entries while being persisted
    const n = i + 1 - this.offset;
    this.entries = n >= this.entries.length ? [] : this.entries.slice(n);
    this.offset = i + 1;
  }

  /** The pending snapshot at index i is durable. */
  stableSnapTo(i: number): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === i) this.snapshot = null;
  }

  /** Replaces everything with a received snapshot. */
  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  /** Appends ents, first truncating any held entries at or after ents[0].index. */
  truncateAndAppend(ents: readonly Entry[]): void {
    const after = ents[0].index;
    const end = this.offset + this.entries.length;
    if (after === end) {
      // the common case: a plain append
    } else if (after <= this.offset) {
      // replaces everything held: the log continues from `after`
      this.offset = after;
      this.entries = [];
    } else {
      // keep [offset, after), then append
      this.entries = this.entries.slice(0, after - this.offset);
    }
    const out = this.entries;
    for (let k = 0; k < ents.length; k++) out.push(ents[k]);
  }

  /** Entries [lo, hi), which must lie within what is held. */
  slice(lo: number, hi: number): Entry[] {
    if (lo > hi || lo < this.offset || hi > this.offset + this.entries.length) {
      throw new RaftInvariantError(
        `unstable.slice[${lo},${hi}) out of bound [${this.offset},${
          this.offset + this.entries.length
        }]`,
      );
    }
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
