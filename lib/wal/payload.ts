/**
 * Decodes the data of each WAL record type (the encoding side is `RecordEncoder`). A record
 * whose CRC is right but whose data has the wrong shape is corruption, reported by the caller
 * with the file and offset; these functions only say what is wrong.
 */
import type { ConfState, Entry, EntryType, HardState, NodeId } from "../base/raftpb.ts";
import { CRC_SIZE, ENTRY_PREFIX, METADATA_SIZE, STATE_SIZE } from "./encoder.ts";
import type { WalMetadata, WalSnapshot } from "./encoder.ts";
import { readId, readU32, readU64 } from "./record.ts";

/** A record's data does not have the shape its type requires. */
export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PayloadError";
  }
}

function counter(data: Uint8Array, at: number, what: string): number {
  const v = readU64(data, at);
  if (v < 0) throw new PayloadError(`${what} does not fit in 2^53`);
  return v;
}

function size(data: Uint8Array, want: number, what: string): void {
  if (data.length !== want) {
    throw new PayloadError(`${what} record has ${data.length} bytes of data, expected ${want}`);
  }
}

/** Decodes an entry record; the entry's data is copied out of the segment buffer. */
export function decodeEntry(data: Uint8Array): Entry {
  if (data.length < ENTRY_PREFIX) throw new PayloadError("entry record too short");
  const type = data[16];
  if (type > 2) throw new PayloadError(`unknown entry type ${type}`);
  return {
    index: counter(data, 0, "entry index"),
    term: counter(data, 8, "entry term"),
    type: type as EntryType,
    data: data.slice(ENTRY_PREFIX),
  };
}

/** Reads only an entry record's index (for dumps and scans that skip the data). */
export function entryIndex(data: Uint8Array): number {
  if (data.length < ENTRY_PREFIX) throw new PayloadError("entry record too short");
  return counter(data, 0, "entry index");
}

/** Decodes a HardState record. */
export function decodeState(data: Uint8Array): HardState {
  size(data, STATE_SIZE, "state");
  return {
    term: counter(data, 0, "term"),
    vote: readId(data, 8),
    commit: counter(data, 16, "commit"),
  };
}

/** Decodes a metadata record. */
export function decodeMetadata(data: Uint8Array): WalMetadata {
  size(data, METADATA_SIZE, "metadata");
  return { nodeId: readId(data, 0), clusterId: readId(data, 8) };
}

/** Decodes a CRC record: the chain value it carries and the format version. */
export function decodeCrc(data: Uint8Array): { crc: number; version: number } {
  size(data, CRC_SIZE, "crc");
  return { crc: readU32(data, 0), version: readU32(data, 4) };
}

/** Decodes a snapshot marker record. */
export function decodeSnapshot(data: Uint8Array): WalSnapshot {
  if (data.length < 33) throw new PayloadError("snapshot record too short");
  const index = counter(data, 0, "snapshot index");
  const term = counter(data, 8, "snapshot term");
  let at = 16;
  const autoLeave = data[at++];
  if (autoLeave > 1) throw new PayloadError("bad autoLeave flag in snapshot record");
  const lists: NodeId[][] = [];
  for (let l = 0; l < 4; l++) {
    if (at + 4 > data.length) throw new PayloadError("snapshot record truncated");
    const n = readU32(data, at);
    at += 4;
    if (at + n * 8 > data.length) throw new PayloadError("snapshot record truncated");
    const ids: NodeId[] = [];
    for (let i = 0; i < n; i++, at += 8) ids.push(readId(data, at));
    lists.push(ids);
  }
  if (at !== data.length) throw new PayloadError("trailing bytes in snapshot record");
  const confState: ConfState = {
    voters: lists[0],
    learners: lists[1],
    votersOutgoing: lists[2],
    learnersNext: lists[3],
    autoLeave: autoLeave === 1,
  };
  return { index, term, confState };
}
