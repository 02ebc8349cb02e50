/**
 * Encodes a batch of WAL records into one reusable buffer, chaining the CRC, so that a
 * `save` is one `writeAt` and one `fdatasync` and allocates nothing per entry beyond the
 * record bytes themselves.
 */
import type { ConfState, Entry, HardState } from "../base/raftpb.ts";
import type { ClusterId, Index, MemberId, Term } from "../base/types.ts";
import {
  frameSize,
  HEADER_SIZE,
  MAX_RECORD_DATA,
  RecordType,
  sealFrame,
  setHeaderFlags,
  WAL_FORMAT_VERSION,
  WRITE_END,
  writeHeader,
  writeId,
  writeU32,
  writeU64,
} from "./record.ts";

/** Bytes of an entry record's data before the entry's own data. */
export const ENTRY_PREFIX = 17;
/** Bytes of a state record's data. */
export const STATE_SIZE = 24;
/** Bytes of a metadata record's data. */
export const METADATA_SIZE = 16;
/** Bytes of a CRC record's data. */
export const CRC_SIZE = 8;

/** Who a WAL belongs to; written at the start of every segment and checked on open. */
export interface WalMetadata {
  nodeId: MemberId;
  clusterId: ClusterId;
}

/** A snapshot marker in the WAL: where a snapshot sits, and the membership it carries. */
export interface WalSnapshot {
  index: Index;
  term: Term;
  confState: ConfState;
}

function checkCounter(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(`wal: ${what} ${v} is not a non-negative safe integer`);
  }
}

function confStateSize(cs: ConfState): number {
  return 1 + 16 + 8 *
      (cs.voters.length + cs.learners.length + cs.votersOutgoing.length + cs.learnersNext.length);
}

/** Appends records to a growable buffer, chaining each record's CRC to the one before. */
export class RecordEncoder {
  #buf: Uint8Array;
  #len = 0;
  /** The CRC of the last record encoded (or the chain's starting value). */
  crc: number;
  readonly #sealed = { crc: 0 };
  #lastAt = -1;
  #lastLen = 0;
  #lastSeed = 0;

  constructor(crc: number, initialCapacity = 64 * 1024) {
    this.crc = crc;
    this.#buf = new Uint8Array(initialCapacity);
  }

  /** Bytes encoded since the last `reset`. */
  get length(): number {
    return this.#len;
  }

  /** The encoded bytes; valid until the next call that encodes. */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }

  /** Forgets the encoded bytes (the chain value stays). */
  reset(): void {
    this.#len = 0;
    this.#lastAt = -1;
  }

  /** Makes room for `extra` more bytes. */
  reserve(extra: number): void {
    const need = this.#len + extra;
    if (need <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < need) cap *= 2;
    const grown = new Uint8Array(cap);
    grown.set(this.#buf.subarray(0, this.#len));
    this.#buf = grown;
  }

  #begin(type: RecordType, dataLen: number): number {
    if (dataLen > MAX_RECORD_DATA) {
      throw new RangeError(
        `wal: a record of ${dataLen} bytes exceeds the limit ${MAX_RECORD_DATA}`,
      );
    }
    this.reserve(frameSize(dataLen));
    const at = this.#len;
    writeHeader(this.#buf, at, type, dataLen);
    return at;
  }

  #end(at: number, dataLen: number, seed = this.crc): void {
    this.#lastAt = at;
    this.#lastLen = dataLen;
    this.#lastSeed = seed;
    this.#len = sealFrame(this.#buf, at, dataLen, seed, this.#sealed);
    this.crc = this.#sealed.crc;
  }

  /**
   * Marks the last record encoded as the end of a write (the WRITE_END header flag), which
   * lets recovery tell a torn final write from damage to an earlier, acknowledged one.
   * Call once per `writeAt`, after its last record.
   */
  endWrite(): void {
    if (this.#lastAt < 0 || this.#lastAt >= this.#len) return;
    setHeaderFlags(this.#buf, this.#lastAt, WRITE_END);
    this.#len = sealFrame(this.#buf, this.#lastAt, this.#lastLen, this.#lastSeed, this.#sealed);
    this.crc = this.#sealed.crc;
  }

  /** Appends entry records; reserves the whole batch first so the buffer grows at most once. */
  entries(entries: readonly Entry[]): void {
    let total = 0;
    for (const e of entries) total += frameSize(ENTRY_PREFIX + e.data.length);
    this.reserve(total);
    for (const e of entries) this.entry(e);
  }

  /** Appends one entry record. */
  entry(e: Entry): void {
    checkCounter(e.index, "entry index");
    checkCounter(e.term, "entry term");
    const dataLen = ENTRY_PREFIX + e.data.length;
    const at = this.#begin(RecordType.Entry, dataLen);
    const d = at + HEADER_SIZE;
    const buf = this.#buf;
    writeU64(buf, d, e.index);
    writeU64(buf, d + 8, e.term);
    buf[d + 16] = e.type;
    buf.set(e.data, d + ENTRY_PREFIX);
    this.#end(at, dataLen);
  }

  /** Appends a HardState record. */
  state(s: HardState): void {
    checkCounter(s.term, "term");
    checkCounter(s.commit, "commit");
    const at = this.#begin(RecordType.State, STATE_SIZE);
    const d = at + HEADER_SIZE;
    writeU64(this.#buf, d, s.term);
    writeId(this.#buf, d + 8, s.vote);
    writeU64(this.#buf, d + 16, s.commit);
    this.#end(at, STATE_SIZE);
  }

  /** Appends a metadata record. */
  metadata(m: WalMetadata): void {
    const at = this.#begin(RecordType.Metadata, METADATA_SIZE);
    const d = at + HEADER_SIZE;
    writeId(this.#buf, d, m.nodeId);
    writeId(this.#buf, d + 8, m.clusterId);
    this.#end(at, METADATA_SIZE);
  }

  /**
   * Appends a CRC record carrying `prevCrc` into a new segment. Its own CRC is seeded with
   * the value it carries, so a reader can start the chain at any segment.
   */
  crcRecord(prevCrc: number): void {
    const at = this.#begin(RecordType.Crc, CRC_SIZE);
    const d = at + HEADER_SIZE;
    writeU32(this.#buf, d, prevCrc);
    writeU32(this.#buf, d + 4, WAL_FORMAT_VERSION);
    this.#end(at, CRC_SIZE, prevCrc);
  }

  /** Appends a snapshot marker record. */
  snapshot(s: WalSnapshot): void {
    checkCounter(s.index, "snapshot index");
    checkCounter(s.term, "snapshot term");
    const cs = s.confState;
    const dataLen = 16 + confStateSize(cs);
    const at = this.#begin(RecordType.Snapshot, dataLen);
    const buf = this.#buf;
    let d = at + HEADER_SIZE;
    writeU64(buf, d, s.index);
    writeU64(buf, d + 8, s.term);
    d += 16;
    buf[d++] = cs.autoLeave ? 1 : 0;
    for (const list of [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext]) {
      writeU32(buf, d, list.length);
      d += 4;
      for (const id of list) {
        writeId(buf, d, id);
        d += 8;
      }
    }
    this.#end(at, dataLen);
  }
}
