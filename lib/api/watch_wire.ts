/**
 * The watch hub's responses straight to enveloped gRPC `WatchResponse` messages, for the direct
 * gRPC stream path (lib/api/grpc_stream.ts). A put seen by N watchers is one revision's events
 * sent N times with only the watch id different, so the header is encoded once per revision
 * and the events once per events array (the hub shares one array between every watcher that
 * takes a revision's events whole), and each watcher's message is those bytes copied around its
 * id; no protobuf-es message is built. The bytes are those of
 * `toBinary(WatchResponseSchema, watchServer.toWire(r, ids))`, checked by
 * tests/api/watch_wire_test.ts.
 */
import { encodeKeyValue } from "../mvcc/kv_codec.ts";
import type { Event } from "../mvcc/types.ts";
import type { WatchResponse } from "../mvcc/watch_types.ts";
import { varint64Size, varintSize, writeVarint, writeVarint64 } from "../base/varint.ts";
import type { WatchIds } from "../server/convert.ts";

/** What the response header carries besides the revision (the member's, read per batch). */
export interface WatchHeaderSource {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly term: number;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const encoder = new TextEncoder();

/** An int64 field given as a number, or as a bigint beyond the safe integers. */
function int64Size(v: number | bigint): number {
  return typeof v === "number" ? varintSize(v) : varint64Size(v);
}

function writeInt64(out: Uint8Array, at: number, v: number | bigint): number {
  return typeof v === "number" ? writeVarint(out, at, v) : writeVarint64(out, at, v);
}

/** A wire watch id as a number when it is a safe integer (no bigint made on the hot path). */
function wireId(r: WatchResponse, ids: WatchIds): number | bigint {
  const id = r.watchId;
  if (Number.isInteger(id) && id >= -MAX_SAFE && id <= MAX_SAFE) return id;
  return ids.toWire(id);
}

/** The repeated `events` fields (11) of a response: tag, length and mvccpb.Event each. */
export function encodeEvents(evs: readonly Event[]): Uint8Array {
  const kvs: Uint8Array[] = new Array(evs.length * 2);
  let size = 0;
  for (let i = 0; i < evs.length; i++) {
    const e = evs[i];
    const kv = encodeKeyValue(e.kv);
    kvs[2 * i] = kv;
    let n = (e.type !== 0 ? 1 + varintSize(e.type) : 0) + 1 + varintSize(kv.length) + kv.length;
    if (e.prevKv !== undefined) {
      const p = encodeKeyValue(e.prevKv);
      kvs[2 * i + 1] = p;
      n += 1 + varintSize(p.length) + p.length;
    }
    size += 1 + varintSize(n) + n;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (let i = 0; i < evs.length; i++) {
    const e = evs[i];
    const kv = kvs[2 * i];
    const p = kvs[2 * i + 1];
    let n = (e.type !== 0 ? 1 + varintSize(e.type) : 0) + 1 + varintSize(kv.length) + kv.length;
    if (p !== undefined) n += 1 + varintSize(p.length) + p.length;
    out[at++] = 0x5a; // field 11, length-delimited
    at = writeVarint(out, at, n);
    if (e.type !== 0) {
      out[at++] = 0x08;
      at = writeVarint(out, at, e.type);
    }
    out[at++] = 0x12;
    at = writeVarint(out, at, kv.length);
    out.set(kv, at);
    at += kv.length;
    if (p !== undefined) {
      out[at++] = 0x1a;
      at = writeVarint(out, at, p.length);
      out.set(p, at);
      at += p.length;
    }
  }
  return out;
}

/**
 * Encodes hub responses as enveloped gRPC messages, sharing the encoding of headers and events
 * between the responses of every stream it serves (one per server).
 */
export class WatchWire {
  readonly #src: WatchHeaderSource;
  #hRev = -1;
  #hTerm = -1;
  #hCluster = 0n;
  #hMember = 0n;
  /** The header field (tag, length, ResponseHeader) for #hRev and #hTerm. */
  #header = new Uint8Array(0);
  readonly #events = new WeakMap<readonly Event[], Uint8Array>();
  // scratch of encode(), per response
  #ids: (number | bigint)[] = [];
  #evs: Uint8Array[] = [];
  #reasons: (Uint8Array | undefined)[] = [];

  constructor(src: WatchHeaderSource) {
    this.#src = src;
  }

  /** The encoded events of `evs`, made once per array. */
  events(evs: readonly Event[]): Uint8Array {
    let b = this.#events.get(evs);
    if (b === undefined) {
      b = encodeEvents(evs);
      this.#events.set(evs, b);
    }
    return b;
  }

  #headerFor(revision: number): Uint8Array {
    const src = this.#src;
    if (
      revision === this.#hRev && src.term === this.#hTerm && src.clusterId === this.#hCluster &&
      src.memberId === this.#hMember
    ) return this.#header;
    const term = src.term;
    let n = 0;
    if (src.clusterId !== 0n) n += 1 + varint64Size(src.clusterId);
    if (src.memberId !== 0n) n += 1 + varint64Size(src.memberId);
    if (revision !== 0) n += 1 + varintSize(revision);
    if (term !== 0) n += 1 + varintSize(term);
    const out = new Uint8Array(1 + varintSize(n) + n);
    out[0] = 0x0a;
    let at = writeVarint(out, 1, n);
    if (src.clusterId !== 0n) {
      out[at++] = 0x08;
      at = writeVarint64(out, at, src.clusterId);
    }
    if (src.memberId !== 0n) {
      out[at++] = 0x10;
      at = writeVarint64(out, at, src.memberId);
    }
    if (revision !== 0) {
      out[at++] = 0x18;
      at = writeVarint(out, at, revision);
    }
    if (term !== 0) {
      out[at++] = 0x20;
      at = writeVarint(out, at, term);
    }
    this.#hRev = revision;
    this.#hTerm = term;
    this.#hCluster = src.clusterId;
    this.#hMember = src.memberId;
    this.#header = out;
    return out;
  }

  /**
   * `rs` as consecutive gRPC messages (5-byte envelope each) in one array, watch ids mapped
   * to the client's by `ids`.
   */
  encode(rs: readonly WatchResponse[], ids: WatchIds): Uint8Array {
    const wids = this.#ids;
    const evs = this.#evs;
    const reasons = this.#reasons;
    let total = 0;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i];
      const id = wireId(r, ids);
      const ev = r.events.length > 0 ? this.events(r.events) : EMPTY;
      const reason = r.cancelReason.length > 0 ? encoder.encode(r.cancelReason) : undefined;
      wids[i] = id;
      evs[i] = ev;
      reasons[i] = reason;
      total += 5 + this.#size(r, id, ev, reason);
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < rs.length; i++) {
      at = this.#write(out, at, rs[i], wids[i], evs[i], reasons[i]);
      evs[i] = EMPTY;
      reasons[i] = undefined;
    }
    if (at !== total) throw new Error(`watch wire: wrote ${at} bytes of ${total}`);
    return out;
  }

  #size(
    r: WatchResponse,
    id: number | bigint,
    ev: Uint8Array,
    reason: Uint8Array | undefined,
  ): number {
    let n = this.#headerFor(r.revision).length + ev.length;
    if (id !== 0 && id !== 0n) n += 1 + int64Size(id);
    if (r.created) n += 2;
    if (r.canceled) n += 2;
    if (r.compactRevision !== 0) n += 1 + varintSize(r.compactRevision);
    if (reason !== undefined) n += 1 + varintSize(reason.length) + reason.length;
    if (r.fragment) n += 2;
    return n;
  }

  #write(
    out: Uint8Array,
    at: number,
    r: WatchResponse,
    id: number | bigint,
    ev: Uint8Array,
    reason: Uint8Array | undefined,
  ): number {
    const h = this.#headerFor(r.revision);
    const start = at;
    at += 5; // the envelope, filled in below
    out.set(h, at);
    at += h.length;
    if (id !== 0 && id !== 0n) {
      out[at++] = 0x10;
      at = writeInt64(out, at, id);
    }
    if (r.created) {
      out[at++] = 0x18;
      out[at++] = 1;
    }
    if (r.canceled) {
      out[at++] = 0x20;
      out[at++] = 1;
    }
    if (r.compactRevision !== 0) {
      out[at++] = 0x28;
      at = writeVarint(out, at, r.compactRevision);
    }
    if (reason !== undefined) {
      out[at++] = 0x32;
      at = writeVarint(out, at, reason.length);
      out.set(reason, at);
      at += reason.length;
    }
    if (r.fragment) {
      out[at++] = 0x38;
      out[at++] = 1;
    }
    out.set(ev, at);
    at += ev.length;
    const len = at - start - 5;
    out[start] = 0;
    out[start + 1] = len >>> 24;
    out[start + 2] = (len >>> 16) & 0xff;
    out[start + 3] = (len >>> 8) & 0xff;
    out[start + 4] = len & 0xff;
    return at;
  }
}

const EMPTY = new Uint8Array(0);
