/**
 * An in-memory `Storage`: the durable log of tests, the simulator and the benchmark, and a
 * reference for the WAL-backed storage. The driver writes to it (append, setHardState,
 * applySnapshot) after raft's Ready says so; raft only reads it.
 */
import {
  type ConfState,
  emptyConfState,
  type Entry,
  EntryType,
  type HardState,
  type Snapshot,
} from "../base/raftpb.ts";
import {
  CompactedError,
  RaftInvariantError,
  SnapshotOutOfDateError,
  UnavailableError,
} from "./errors.ts";
import { type InitialState, limitSize, type Storage } from "./storage.ts";

const EMPTY = new Uint8Array(0);

/** Deep copy of a ConfState (so callers can not alias our copy). */
export function cloneConfState(cs: ConfState): ConfState {
  return {
    voters: cs.voters.slice(),
    learners: cs.learners.slice(),
    votersOutgoing: cs.votersOutgoing.slice(),
    learnersNext: cs.learnersNext.slice(),
    autoLeave: cs.autoLeave,
  };
}

/** A Storage held in memory. */
export class MemoryStorage implements Storage {
  #hardState: HardState = { term: 0, vote: 0n, commit: 0 };
  #snapshot: Snapshot;
  /** ents[0] is a dummy entry standing for the snapshot's (index, term). */
  #ents: Entry[];

  /** An empty log; `confState` is the bootstrap membership (as if in a snapshot at 0). */
  constructor(confState: ConfState = emptyConfState()) {
    this.#snapshot = {
      data: EMPTY,
      metadata: { index: 0, term: 0, confState: cloneConfState(confState) },
    };
    this.#ents = [{ index: 0, term: 0, type: EntryType.Normal, data: EMPTY }];
  }

  initialState(): InitialState {
    return {
      hardState: { ...this.#hardState },
      confState: cloneConfState(this.#snapshot.metadata.confState),
    };
  }

  /** Records the durable HardState. */
  setHardState(hs: HardState): void {
    this.#hardState = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  /** The durable HardState. */
  hardState(): HardState {
    return { ...this.#hardState };
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const offset = this.#ents[0].index;
    if (lo <= offset) throw new CompactedError(lo, offset + 1);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    if (lo >= hi) return [];
    return limitSize(this.#ents.slice(lo - offset, hi - offset), maxSize);
  }

  term(i: number): number {
    const offset = this.#ents[0].index;
    if (i < offset) throw new CompactedError(i, offset + 1);
    if (i - offset >= this.#ents.length) throw new UnavailableError(i, this.lastIndex());
    return this.#ents[i - offset].term;
  }

  firstIndex(): number {
    return this.#ents[0].index + 1;
  }

  lastIndex(): number {
    return this.#ents[0].index + this.#ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.#snapshot;
  }

  /** Replaces the whole state with a received snapshot (the log restarts after it). */
  applySnapshot(snap: Snapshot): void {
    const have = this.#snapshot.metadata.index;
    if (snap.metadata.index < have) throw new SnapshotOutOfDateError(snap.metadata.index, have);
    this.#snapshot = {
      data: snap.data,
      metadata: {
        index: snap.metadata.index,
        term: snap.metadata.term,
        confState: cloneConfState(snap.metadata.confState),
      },
    };
    this.#ents = [{
      index: snap.metadata.index,
      term: snap.metadata.term,
      type: EntryType.Normal,
      data: EMPTY,
    }];
    if (this.#hardState.commit < snap.metadata.index) {
      this.#hardState = { ...this.#hardState, commit: snap.metadata.index };
    }
  }

  /**
   * Records a snapshot of the applied state at index i (i <= lastIndex); call compact()
   * afterwards to drop the entries it covers.
   */
  createSnapshot(i: number, confState: ConfState, data: Uint8Array): Snapshot {
    const have = this.#snapshot.metadata.index;
    if (i <= have) throw new SnapshotOutOfDateError(i, have);
    if (i > this.lastIndex()) throw new UnavailableError(i, this.lastIndex());
    this.#snapshot = {
      data,
      metadata: { index: i, term: this.term(i), confState: cloneConfState(confState) },
    };
    return this.#snapshot;
  }

  /** Discards entries before compactIndex (which becomes the dummy entry). */
  compact(compactIndex: number): void {
    const offset = this.#ents[0].index;
    if (compactIndex <= offset) throw new CompactedError(compactIndex, offset + 1);
    if (compactIndex > this.lastIndex()) {
      throw new UnavailableError(compactIndex, this.lastIndex());
    }
    const i = compactIndex - offset;
    const kept = this.#ents.slice(i);
    kept[0] = { index: kept[0].index, term: kept[0].term, type: EntryType.Normal, data: EMPTY };
    this.#ents = kept;
  }

  /**
   * Appends entries, replacing any existing entries from the first new index on (a leader
   * overwrote an uncommitted suffix). Entries must be contiguous and must not leave a gap.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0].index + entries.length - 1;
    if (last < first) return; // all already compacted
    let start = 0;
    if (first > entries[0].index) start = first - entries[0].index;
    const from = entries[start].index;
    const offset = this.#ents[0].index;
    if (from - offset > this.#ents.length) {
      throw new RaftInvariantError(
        `missing log entries [last: ${this.lastIndex()}, append at: ${from}]`,
      );
    }
    const ents = this.#ents;
    ents.length = from - offset;
    for (let k = start; k < entries.length; k++) ents.push(entries[k]);
  }
}
