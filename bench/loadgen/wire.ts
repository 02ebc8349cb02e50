/**
 * Hand-written protobuf codecs for the few messages the load generator's hot loops send and
 * read: PutRequest and RangeRequest bodies encoded once into a template, and the fields of
 * PutResponse, RangeResponse and WatchResponse it checks, read in place from the receive buffer.
 * They exist because protobuf-es's create/toBinary/fromBinary took a quarter of the
 * generator's CPU per request (docs/perf.md, "Load generator, fifth session"), and the
 * generator shares the 2 cores with the server it measures. tests/bench/wire_test.ts checks
 * them against protobuf-es on random messages.
 *
 * Varints are read as numbers: exact below 2^53 (revisions, counts and ids are far below),
 * and a negative int64 (ten bytes) reads as a large positive number.
 */
import { varint64Size, varintSize, writeVarint, writeVarint64 } from "../../lib/base/varint.ts";

/** A malformed message: the generator reports it as the request's error. */
export class WireError extends Error {
  constructor(message: string) {
    super(`malformed response: ${message}`);
    this.name = "WireError";
  }
}

/** Reads a varint at `p` (before `end`) into `pos.v`; returns the next position. */
function varint(buf: Uint8Array, p: number, end: number, pos: { v: number }): number {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (p >= end) throw new WireError("truncated varint");
    const b = buf[p++];
    v += (b & 0x7f) * mul;
    if (b < 0x80) {
      pos.v = v;
      return p;
    }
    mul *= 128;
  }
  throw new WireError("varint longer than 10 bytes");
}

/** Skips a field of `wireType` at `p`; returns the next position. */
function skip(buf: Uint8Array, p: number, end: number, wireType: number, t: { v: number }): number {
  switch (wireType) {
    case 0:
      return varint(buf, p, end, t);
    case 1:
      p += 8;
      break;
    case 2:
      p = varint(buf, p, end, t);
      p += t.v;
      break;
    case 5:
      p += 4;
      break;
    default:
      throw new WireError(`wire type ${wireType}`);
  }
  if (p > end) throw new WireError("truncated field");
  return p;
}

// Scratch for varint reads: the decoders run one at a time on one thread.
const T = { v: 0 };
const L = { v: 0 };

/** Reads ResponseHeader.revision (field 3) from the header at [p, end). */
function headerRevision(buf: Uint8Array, p: number, end: number): number {
  let rev = 0;
  while (p < end) {
    p = varint(buf, p, end, T);
    const field = Math.floor(T.v / 8);
    const wt = T.v & 7;
    if (field === 3 && wt === 0) {
      p = varint(buf, p, end, L);
      rev = L.v;
    } else p = skip(buf, p, end, wt, L);
  }
  return rev;
}

/** Reads a length-delimited field's length at `p`; returns the start of its bytes (end in L). */
function lengthDelimited(buf: Uint8Array, p: number, end: number): number {
  p = varint(buf, p, end, L);
  const e = p + L.v;
  if (e > end) throw new WireError("truncated field");
  L.v = e;
  return p;
}

/** PutResponse's header revision (0 when there is no header). */
export function putRevision(buf: Uint8Array, p: number, end: number): number {
  let rev = 0;
  while (p < end) {
    p = varint(buf, p, end, T);
    const field = Math.floor(T.v / 8);
    const wt = T.v & 7;
    if (field === 1 && wt === 2) {
      const s = lengthDelimited(buf, p, end);
      p = L.v;
      rev = headerRevision(buf, s, p);
    } else p = skip(buf, p, end, wt, L);
  }
  return rev;
}

/** What the generator checks of a RangeResponse. */
export interface RangeSummary {
  /** The header's revision (0 without a header). */
  revision: number;
  /** RangeResponse.count. */
  count: number;
  /** How many kvs it holds. */
  kvs: number;
  /** How many of them have a key other than the one asked for (when one was given). */
  otherKeys: number;
  more: boolean;
}

/** Equal bytes: buf[s, e) and `want`. */
function same(buf: Uint8Array, s: number, e: number, want: Uint8Array): boolean {
  if (e - s !== want.length) return false;
  for (let i = 0; i < want.length; i++) if (buf[s + i] !== want[i]) return false;
  return true;
}

/** A KeyValue's key bounds and mod_revision, read into `kv`. */
interface KvFields {
  keyStart: number;
  keyEnd: number;
  modRevision: number;
  valueStart: number;
  valueEnd: number;
}

function keyValue(buf: Uint8Array, p: number, end: number, kv: KvFields): void {
  kv.keyStart =
    kv.keyEnd =
    kv.valueStart =
    kv.valueEnd =
      p;
  kv.modRevision = 0;
  while (p < end) {
    p = varint(buf, p, end, T);
    const field = Math.floor(T.v / 8);
    const wt = T.v & 7;
    if ((field === 1 || field === 5) && wt === 2) {
      const s = lengthDelimited(buf, p, end);
      p = L.v;
      if (field === 1) {
        kv.keyStart = s;
        kv.keyEnd = p;
      } else {
        kv.valueStart = s;
        kv.valueEnd = p;
      }
    } else if (field === 3 && wt === 0) {
      p = varint(buf, p, end, L);
      kv.modRevision = L.v;
    } else p = skip(buf, p, end, wt, L);
  }
}

const KV: KvFields = { keyStart: 0, keyEnd: 0, modRevision: 0, valueStart: 0, valueEnd: 0 };

/**
 * Reads a RangeResponse into `out`; `key`, when given, is the one key asked for, and kvs with
 * another key are counted in `out.otherKeys`.
 */
export function readRange(
  buf: Uint8Array,
  p: number,
  end: number,
  out: RangeSummary,
  key?: Uint8Array,
): void {
  out.revision =
    out.count =
    out.kvs =
    out.otherKeys =
      0;
  out.more = false;
  while (p < end) {
    p = varint(buf, p, end, T);
    const field = Math.floor(T.v / 8);
    const wt = T.v & 7;
    if ((field === 1 || field === 2) && wt === 2) {
      const s = lengthDelimited(buf, p, end);
      p = L.v;
      if (field === 1) out.revision = headerRevision(buf, s, p);
      else {
        out.kvs++;
        if (key !== undefined) {
          keyValue(buf, s, p, KV);
          if (!same(buf, KV.keyStart, KV.keyEnd, key)) out.otherKeys++;
        }
      }
    } else if ((field === 3 || field === 4) && wt === 0) {
      p = varint(buf, p, end, L);
      if (field === 3) out.more = L.v !== 0;
      else out.count = L.v;
    } else p = skip(buf, p, end, wt, L);
  }
}

/** The fields of a WatchResponse the generator checks (its events go to a callback). */
export interface WatchSummary {
  revision: number;
  watchId: number;
  created: boolean;
  canceled: boolean;
  compactRevision: number;
  events: number;
}

/**
 * Called for each event of a WatchResponse: its type (0 PUT, 1 DELETE), whether its key is
 * the one watched, its kv's mod_revision, and its value's bytes as buf[valueStart, valueEnd).
 */
export type EventVisitor = (
  type: number,
  keyMatches: boolean,
  modRevision: number,
  buf: Uint8Array,
  valueStart: number,
  valueEnd: number,
) => void;

function event(buf: Uint8Array, p: number, end: number, key: Uint8Array, visit: EventVisitor) {
  let type = 0;
  let keyMatches = false;
  let mod = 0;
  let vs = 0;
  let ve = 0;
  while (p < end) {
    p = varint(buf, p, end, T);
    const field = Math.floor(T.v / 8);
    const wt = T.v & 7;
    if (field === 1 && wt === 0) {
      p = varint(buf, p, end, L);
      type = L.v;
    } else if (field === 2 && wt === 2) {
      const s = lengthDelimited(buf, p, end);
      p = L.v;
      keyValue(buf, s, p, KV);
      keyMatches = same(buf, KV.keyStart, KV.keyEnd, key);
      mod = KV.modRevision;
      vs = KV.valueStart;
      ve = KV.valueEnd;
    } else p = skip(buf, p, end, wt, L);
  }
  visit(type, keyMatches, mod, buf, vs, ve);
}

/**
 * Reads a WatchResponse into `out`, calling `visit` for each event in order (`key` is the
 * watched key the events' keys are compared with).
 */
export function readWatch(
  buf: Uint8Array,
  p: number,
  end: number,
  out: WatchSummary,
  key: Uint8Array,
  visit: EventVisitor,
): void {
  out.revision =
    out.watchId =
    out.compactRevision =
    out.events =
      0;
  out.created = out.canceled = false;
  while (p < end) {
    p = varint(buf, p, end, T);
    const field = Math.floor(T.v / 8);
    const wt = T.v & 7;
    if ((field === 1 || field === 6 || field === 11) && wt === 2) {
      const s = lengthDelimited(buf, p, end);
      p = L.v;
      if (field === 1) out.revision = headerRevision(buf, s, p);
      else if (field === 11) {
        out.events++;
        event(buf, s, p, key, visit);
      }
    } else if (field >= 2 && field <= 5 && wt === 0) {
      p = varint(buf, p, end, L);
      if (field === 2) out.watchId = L.v;
      else if (field === 3) out.created = L.v !== 0;
      else if (field === 4) out.canceled = L.v !== 0;
      else out.compactRevision = L.v;
    } else p = skip(buf, p, end, wt, L);
  }
}

/** Writes a bytes field (proto3: nothing when empty); returns the next position. */
function bytesField(out: Uint8Array, at: number, field: number, v: Uint8Array): number {
  if (v.length === 0) return at;
  out[at++] = (field << 3) | 2;
  at = writeVarint(out, at, v.length);
  out.set(v, at);
  return at + v.length;
}

function bytesFieldSize(field: number, v: Uint8Array): number {
  return v.length === 0 ? 0 : varintSize(field << 3) + varintSize(v.length) + v.length;
}

/** A PutRequest {key, value} as protobuf-es encodes it, and where its key bytes start. */
export function encodePut(key: Uint8Array, value: Uint8Array): { msg: Uint8Array; keyAt: number } {
  if (key.length === 0) throw new RangeError("a put needs a key");
  const msg = new Uint8Array(bytesFieldSize(1, key) + bytesFieldSize(2, value));
  const keyAt = 1 + varintSize(key.length);
  const end = bytesField(msg, bytesField(msg, 0, 1, key), 2, value);
  if (end !== msg.length) throw new Error("encodePut: size mismatch");
  return { msg, keyAt };
}

/** The RangeRequest fields the generator sends. */
export interface RangeFields {
  key: Uint8Array;
  rangeEnd: Uint8Array;
  limit: number;
  serializable: boolean;
}

/** A RangeRequest as protobuf-es encodes it (fields in number order, defaults left out). */
export function encodeRange(r: RangeFields): Uint8Array {
  if (!Number.isSafeInteger(r.limit) || r.limit < 0) throw new RangeError("limit must be >= 0");
  const size = bytesFieldSize(1, r.key) + bytesFieldSize(2, r.rangeEnd) +
    (r.limit > 0 ? 1 + varintSize(r.limit) : 0) + (r.serializable ? 2 : 0);
  const msg = new Uint8Array(size);
  let at = bytesField(msg, bytesField(msg, 0, 1, r.key), 2, r.rangeEnd);
  if (r.limit > 0) {
    msg[at++] = 3 << 3;
    at = writeVarint(msg, at, r.limit);
  }
  if (r.serializable) {
    msg[at++] = 7 << 3;
    msg[at++] = 1;
  }
  if (at !== size) throw new Error("encodeRange: size mismatch");
  return msg;
}

/** What the generator checks of a LeaseKeepAliveResponse. */
export interface KeepAliveSummary {
  revision: number;
  /** The ID field's varint bytes as buf[idStart, idEnd) (an int64: compared as bytes). */
  idStart: number;
  idEnd: number;
  ttl: number;
}

/** Reads a LeaseKeepAliveResponse (header 1, ID 2, TTL 3) into `out`. */
export function readKeepAlive(
  buf: Uint8Array,
  p: number,
  end: number,
  out: KeepAliveSummary,
): void {
  out.revision = out.ttl = 0;
  out.idStart = out.idEnd = p;
  while (p < end) {
    p = varint(buf, p, end, T);
    const field = Math.floor(T.v / 8);
    const wt = T.v & 7;
    if (field === 1 && wt === 2) {
      const s = lengthDelimited(buf, p, end);
      p = L.v;
      out.revision = headerRevision(buf, s, p);
    } else if ((field === 2 || field === 3) && wt === 0) {
      const s = p;
      p = varint(buf, p, end, L);
      if (field === 2) {
        out.idStart = s;
        out.idEnd = p;
      } else out.ttl = L.v;
    } else p = skip(buf, p, end, wt, L);
  }
}

/** A LeaseKeepAliveRequest {ID} as protobuf-es encodes it; the ID's varint is msg[1, end). */
export function encodeKeepAlive(id: bigint): Uint8Array {
  if (id === 0n) throw new RangeError("a keep-alive needs a lease ID");
  const msg = new Uint8Array(1 + varint64Size(id));
  msg[0] = 1 << 3;
  writeVarint64(msg, 1, id);
  return msg;
}

/** What the generator checks of a TxnResponse. */
export interface TxnSummary {
  revision: number;
  succeeded: boolean;
  /** How many ResponseOps it holds. */
  responses: number;
}

/** Reads a TxnResponse (header 1, succeeded 2, responses 3) into `out`. */
export function readTxn(buf: Uint8Array, p: number, end: number, out: TxnSummary): void {
  out.revision = out.responses = 0;
  out.succeeded = false;
  while (p < end) {
    p = varint(buf, p, end, T);
    const field = Math.floor(T.v / 8);
    const wt = T.v & 7;
    if ((field === 1 || field === 3) && wt === 2) {
      const s = lengthDelimited(buf, p, end);
      p = L.v;
      if (field === 1) out.revision = headerRevision(buf, s, p);
      else out.responses++;
    } else if (field === 2 && wt === 0) {
      p = varint(buf, p, end, L);
      out.succeeded = L.v !== 0;
    } else p = skip(buf, p, end, wt, L);
  }
}

/**
 * A TxnRequest whose success branch puts `value` to `ops` keys of `keySize` bytes (no compares),
 * as protobuf-es encodes it, and where each key's bytes start (the keys are zeroes until
 * written in place).
 */
export function encodeTxnPuts(
  ops: number,
  keySize: number,
  value: Uint8Array,
): { msg: Uint8Array; keyAt: number[] } {
  const put = encodePut(new Uint8Array(keySize), value);
  const opSize = 1 + varintSize(put.msg.length) + put.msg.length; // RequestOp { request_put }
  const entry = 1 + varintSize(opSize) + opSize; // TxnRequest.success
  const msg = new Uint8Array(entry * ops);
  const keyAt: number[] = [];
  let at = 0;
  for (let i = 0; i < ops; i++) {
    msg[at++] = (2 << 3) | 2;
    at = writeVarint(msg, at, opSize);
    msg[at++] = (2 << 3) | 2;
    at = writeVarint(msg, at, put.msg.length);
    msg.set(put.msg, at);
    keyAt.push(at + put.keyAt);
    at += put.msg.length;
  }
  if (at !== msg.length) throw new Error("encodeTxnPuts: size mismatch");
  return { msg, keyAt };
}
