/**
 * A hand-written encoder for `etcdserverpb.WatchResponse`, the one message a busy server sends
 * more than any other (one per event batch per watcher). protobuf-es's reflective `toBinary`
 * walks the schema for every field of every event; this encoder knows the layout (etcd's
 * rpc.proto and kv.proto field numbers) and writes the same bytes: fields in number order,
 * proto3 defaults omitted, int64 as two's-complement varints. The generic `toBinary` stays the
 * reference, and tests/api/watch_codec_test.ts checks the two agree byte for byte.
 */
import type { ResponseHeader, WatchResponse } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { KeyValue } from "../../proto/gen/mvccpb/kv_pb.ts";
import { varint64Size, varintSize, writeVarint, writeVarint64 } from "../base/varint.ts";

const encoder = new TextEncoder();

class Writer {
  readonly buf: Uint8Array;
  pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }
  byte(b: number): void {
    this.buf[this.pos++] = b;
  }
  /** A non-negative safe integer, or a negative int32/enum (sign-extended to 64 bits). */
  varint(v: number): void {
    this.pos = writeVarint(this.buf, this.pos, v);
  }
  varint64(v: bigint): void {
    this.pos = writeVarint64(this.buf, this.pos, v);
  }
  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** Tag byte (field numbers below 16) then a varint. */
  field64(tag: number, v: bigint): void {
    this.buf[this.pos++] = tag;
    this.varint64(v);
  }
}

function headerSize(h: ResponseHeader): number {
  let n = 0;
  if (h.clusterId !== 0n) n += 1 + varint64Size(h.clusterId);
  if (h.memberId !== 0n) n += 1 + varint64Size(h.memberId);
  if (h.revision !== 0n) n += 1 + varint64Size(h.revision);
  if (h.raftTerm !== 0n) n += 1 + varint64Size(h.raftTerm);
  return n;
}

function writeHeader(w: Writer, h: ResponseHeader): void {
  if (h.clusterId !== 0n) w.field64(0x08, h.clusterId);
  if (h.memberId !== 0n) w.field64(0x10, h.memberId);
  if (h.revision !== 0n) w.field64(0x18, h.revision);
  if (h.raftTerm !== 0n) w.field64(0x20, h.raftTerm);
}

function kvSize(kv: KeyValue): number {
  let n = 0;
  if (kv.key.length > 0) n += 1 + varintSize(kv.key.length) + kv.key.length;
  if (kv.createRevision !== 0n) n += 1 + varint64Size(kv.createRevision);
  if (kv.modRevision !== 0n) n += 1 + varint64Size(kv.modRevision);
  if (kv.version !== 0n) n += 1 + varint64Size(kv.version);
  if (kv.value.length > 0) n += 1 + varintSize(kv.value.length) + kv.value.length;
  if (kv.lease !== 0n) n += 1 + varint64Size(kv.lease);
  return n;
}

function writeKv(w: Writer, kv: KeyValue): void {
  if (kv.key.length > 0) {
    w.byte(0x0a);
    w.bytes(kv.key);
  }
  if (kv.createRevision !== 0n) w.field64(0x10, kv.createRevision);
  if (kv.modRevision !== 0n) w.field64(0x18, kv.modRevision);
  if (kv.version !== 0n) w.field64(0x20, kv.version);
  if (kv.value.length > 0) {
    w.byte(0x2a);
    w.bytes(kv.value);
  }
  if (kv.lease !== 0n) w.field64(0x30, kv.lease);
}

/** `toBinary(WatchResponseSchema, r)`, without the reflection. */
export function encodeWatchResponse(r: WatchResponse): Uint8Array {
  // sizes first, so the message is written into one exactly sized array
  const h = r.header;
  const hs = h === undefined ? -1 : headerSize(h);
  const reason = r.cancelReason.length > 0 ? encoder.encode(r.cancelReason) : undefined;
  let size = 0;
  if (hs >= 0) size += 1 + varintSize(hs) + hs;
  if (r.watchId !== 0n) size += 1 + varint64Size(r.watchId);
  if (r.created) size += 2;
  if (r.canceled) size += 2;
  if (r.compactRevision !== 0n) size += 1 + varint64Size(r.compactRevision);
  if (reason !== undefined) size += 1 + varintSize(reason.length) + reason.length;
  if (r.fragment) size += 2;
  const sizes: number[] = [];
  for (const e of r.events) {
    let n = 0;
    if (e.type !== 0) n += 1 + varintSize(e.type);
    if (e.kv !== undefined) {
      const k = kvSize(e.kv);
      sizes.push(k);
      n += 1 + varintSize(k) + k;
    }
    if (e.prevKv !== undefined) {
      const k = kvSize(e.prevKv);
      sizes.push(k);
      n += 1 + varintSize(k) + k;
    }
    sizes.push(n);
    size += 1 + varintSize(n) + n;
  }
  const w = new Writer(size);
  if (h !== undefined) {
    w.byte(0x0a);
    w.varint(hs);
    writeHeader(w, h);
  }
  if (r.watchId !== 0n) w.field64(0x10, r.watchId);
  if (r.created) {
    w.byte(0x18);
    w.byte(1);
  }
  if (r.canceled) {
    w.byte(0x20);
    w.byte(1);
  }
  if (r.compactRevision !== 0n) w.field64(0x28, r.compactRevision);
  if (reason !== undefined) {
    w.byte(0x32);
    w.bytes(reason);
  }
  if (r.fragment) {
    w.byte(0x38);
    w.byte(1);
  }
  let i = 0;
  for (const e of r.events) {
    const kvLen = e.kv !== undefined ? sizes[i++] : 0;
    const prevLen = e.prevKv !== undefined ? sizes[i++] : 0;
    w.byte(0x5a); // field 11, length-delimited
    w.varint(sizes[i++]);
    if (e.type !== 0) {
      w.byte(0x08);
      w.varint(e.type);
    }
    if (e.kv !== undefined) {
      w.byte(0x12);
      w.varint(kvLen);
      writeKv(w, e.kv);
    }
    if (e.prevKv !== undefined) {
      w.byte(0x1a);
      w.varint(prevLen);
      writeKv(w, e.prevKv);
    }
  }
  if (w.pos !== size) throw new Error(`watch codec: wrote ${w.pos} bytes of ${size}`);
  return w.buf;
}
