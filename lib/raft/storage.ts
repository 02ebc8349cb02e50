/**
 * The stable-storage contract raft reads its durable log through. The server backs it with
 * the WAL; `MemoryStorage` (memory_storage.ts) is the in-memory implementation used by tests,
 * the simulator and the benchmark, and as the WAL's in-memory index.
 *
 * Indexes: entries (firstIndex()-1 .. lastIndex()] are available; the term of firstIndex()-1
 * is also available (it is the last entry covered by the snapshot).
 */
import type { ConfState, Entry, HardState, Snapshot } from "../base/raftpb.ts";

/** What a node restarts from. */
export interface InitialState {
  hardState: HardState;
  confState: ConfState;
}

/** Raft's read-only view of the durable log. Errors are the classes in errors.ts. */
export interface Storage {
  /** The durable HardState and the ConfState of the latest snapshot. */
  initialState(): InitialState;
  /**
   * Entries [lo, hi), at least one if any exist in range, and otherwise stopping before the
   * total size (see entrySize) exceeds maxSize. Throws CompactedError if lo < firstIndex(),
   * UnavailableError if hi > lastIndex()+1.
   */
  entries(lo: number, hi: number, maxSize: number): Entry[];
  /**
   * The term of entry i, for firstIndex()-1 <= i <= lastIndex(). Throws CompactedError or
   * UnavailableError outside that range.
   */
  term(i: number): number;
  /** The index of the first entry still available (snapshot index + 1). */
  firstIndex(): number;
  /** The index of the last entry. */
  lastIndex(): number;
  /** The latest snapshot; may throw SnapshotTemporarilyUnavailableError. */
  snapshot(): Snapshot;
}

/** The size an entry counts for in message and batch limits (payload plus header). */
export function entrySize(e: Entry): number {
  return e.data.length + 24;
}

/**
 * Trims `ents` in place-free fashion to a prefix whose total size stays within maxSize,
 * always keeping at least one entry.
 */
export function limitSize(ents: Entry[], maxSize: number): Entry[] {
  if (ents.length <= 1) return ents;
  let size = entrySize(ents[0]);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]);
    if (size > maxSize) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

/** The sum of entry payload sizes (what the uncommitted-size limit counts). */
export function payloadSize(ents: readonly Entry[]): number {
  let s = 0;
  for (let i = 0; i < ents.length; i++) s += ents[i].data.length;
  return s;
}
