/**
 * A compact binary encoding of raft `Message`s for the transport (layout in
 * docs/formats.md). Counters travel as uint64 and are refused on decode if they exceed
 * 2^53-1 (the counter policy of lib/base/types.ts); every length is bounds-checked, so a
 * truncated or corrupted frame is a RangeError, never a crash or a silently wrong message.
 *
 * Decoded byte fields (entry data, context, snapshot data) are views into the input buffer:
 * the caller hands over the buffer and must not reuse it.
 */
import type { ConfState, Entry, NodeId, Snapshot } from "../base/raftpb.ts";
import { type Message, MessageType, newMessage } from "./messages.ts";

/** The format version byte at the start of every encoded message. */
export const MESSAGE_FORMAT = 1;

const TWO32 = 4294967296;
const FLAG_REJECT = 1;
const FLAG_SNAPSHOT = 2;
const FLAG_CONTEXT = 4;
const FLAG_AUTO_LEAVE = 1;
const HEADER = 3 + 8 * 2 + 8 * 5 + 4; // version, type, flags; to, from; counters; entry count

function idsSize(ids: readonly NodeId[]): number {
  return 4 + 8 * ids.length;
}

/** The exact number of bytes encodeMessage produces for m. */
export function encodedSize(m: Message): number {
  let n = HEADER;
  for (let i = 0; i < m.entries.length; i++) n += 8 + 8 + 1 + 4 + m.entries[i].data.length;
  if (m.context !== null) n += 4 + m.context.length;
  const s = m.snapshot;
  if (s !== null) {
    const cs = s.metadata.confState;
    n += 8 + 8 + idsSize(cs.voters) + idsSize(cs.learners) + idsSize(cs.votersOutgoing) +
      idsSize(cs.learnersNext) + 1 + 4 + s.data.length;
  }
  return n;
}

class Writer {
  readonly buf: Uint8Array;
  readonly view: DataView;
  pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }
  u8(v: number): void {
    this.view.setUint8(this.pos, v);
    this.pos += 1;
  }
  u32(v: number): void {
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  /** A counter (non-negative safe integer) as uint64, without bigint arithmetic. */
  counter(v: number, what: string): void {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new RangeError(`raft codec: ${what} ${v} is not a non-negative safe integer`);
    }
    this.view.setUint32(this.pos, v >>> 0, true);
    this.view.setUint32(this.pos + 4, Math.floor(v / TWO32), true);
    this.pos += 8;
  }
  id(v: NodeId): void {
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, v), true);
    this.pos += 8;
  }
  ids(v: readonly NodeId[]): void {
    this.u32(v.length);
    for (const id of v) this.id(id);
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

/** Encodes a message (see docs/formats.md). Throws RangeError on out-of-range values. */
export function encodeMessage(m: Message): Uint8Array {
  const w = new Writer(encodedSize(m));
  w.u8(MESSAGE_FORMAT);
  w.u8(m.type);
  w.u8(
    (m.reject ? FLAG_REJECT : 0) | (m.snapshot !== null ? FLAG_SNAPSHOT : 0) |
      (m.context !== null ? FLAG_CONTEXT : 0),
  );
  w.id(m.to);
  w.id(m.from);
  w.counter(m.term, "term");
  w.counter(m.logTerm, "logTerm");
  w.counter(m.index, "index");
  w.counter(m.commit, "commit");
  w.counter(m.rejectHint, "rejectHint");
  w.u32(m.entries.length);
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i];
    w.counter(e.term, "entry term");
    w.counter(e.index, "entry index");
    w.u8(e.type);
    w.bytes(e.data);
  }
  if (m.context !== null) w.bytes(m.context);
  const s = m.snapshot;
  if (s !== null) {
    w.counter(s.metadata.index, "snapshot index");
    w.counter(s.metadata.term, "snapshot term");
    const cs = s.metadata.confState;
    w.ids(cs.voters);
    w.ids(cs.learners);
    w.ids(cs.votersOutgoing);
    w.ids(cs.learnersNext);
    w.u8(cs.autoLeave ? FLAG_AUTO_LEAVE : 0);
    w.bytes(s.data);
  }
  if (w.pos !== w.buf.length) throw new Error("raft codec: size mismatch (bug)");
  return w.buf;
}

class Reader {
  readonly buf: Uint8Array;
  readonly view: DataView;
  pos = 0;
  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) {
      throw new RangeError(
        `raft codec: truncated message: ${what} needs ${n} bytes at offset ${this.pos}, ` +
          `${this.buf.length - this.pos} left`,
      );
    }
  }
  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  counter(what: string): number {
    this.need(8, what);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    if (hi > 0x1fffff) throw new RangeError(`raft codec: ${what} exceeds 2^53-1`);
    return hi * TWO32 + lo;
  }
  id(what: string): NodeId {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  ids(what: string): NodeId[] {
    const n = this.u32(`${what} count`);
    this.need(8 * n, what);
    const out: NodeId[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.id(what);
    return out;
  }
  bytes(what: string): Uint8Array {
    const n = this.u32(`${what} length`);
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** Decodes a message made by encodeMessage. Throws RangeError on any malformed input. */
export function decodeMessage(buf: Uint8Array): Message {
  const r = new Reader(buf);
  const version = r.u8("version");
  if (version !== MESSAGE_FORMAT) throw new RangeError(`raft codec: unknown format ${version}`);
  const type = r.u8("type");
  if (!(type in MessageType)) throw new RangeError(`raft codec: unknown message type ${type}`);
  const flags = r.u8("flags");
  if ((flags & ~(FLAG_REJECT | FLAG_SNAPSHOT | FLAG_CONTEXT)) !== 0) {
    throw new RangeError(`raft codec: unknown flags ${flags}`);
  }
  const to = r.id("to");
  const from = r.id("from");
  const term = r.counter("term");
  const logTerm = r.counter("logTerm");
  const index = r.counter("index");
  const commit = r.counter("commit");
  const rejectHint = r.counter("rejectHint");
  const count = r.u32("entry count");
  // each entry takes at least 21 bytes: refuse absurd counts before allocating
  r.need(count * 21, "entries");
  const entries: Entry[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const eterm = r.counter("entry term");
    const eindex = r.counter("entry index");
    const etype = r.u8("entry type");
    if (etype > 2) throw new RangeError(`raft codec: unknown entry type ${etype}`);
    entries[i] = { term: eterm, index: eindex, type: etype, data: r.bytes("entry data") };
  }
  const context = (flags & FLAG_CONTEXT) !== 0 ? r.bytes("context") : null;
  let snapshot: Snapshot | null = null;
  if ((flags & FLAG_SNAPSHOT) !== 0) {
    const sindex = r.counter("snapshot index");
    const sterm = r.counter("snapshot term");
    const confState: ConfState = {
      voters: r.ids("voters"),
      learners: r.ids("learners"),
      votersOutgoing: r.ids("votersOutgoing"),
      learnersNext: r.ids("learnersNext"),
      autoLeave: (r.u8("autoLeave") & FLAG_AUTO_LEAVE) !== 0,
    };
    snapshot = { metadata: { index: sindex, term: sterm, confState }, data: r.bytes("snapshot") };
  }
  if (r.pos !== buf.length) {
    throw new RangeError(`raft codec: ${buf.length - r.pos} trailing bytes after the message`);
  }
  return newMessage({
    type,
    to,
    from,
    term,
    logTerm,
    index,
    entries,
    commit,
    snapshot,
    reject: (flags & FLAG_REJECT) !== 0,
    rejectHint,
    context,
  });
}
