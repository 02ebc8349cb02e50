/**
 * The stored form of a key-value: etcd's mvccpb.KeyValue protobuf message, byte for byte
 * (fields 1 key, 2 create_revision, 3 mod_revision, 4 version, 5 value, 6 lease; zero values
 * omitted, ascending field order as gogoproto writes them). Keeping etcd's encoding means the
 * "key" bucket holds exactly what etcd's does, so HashKV compares like for like.
 */

import { toCounter } from "../base/types.ts";
import {
  varint64Size,
  VarintReader,
  varintSize,
  writeVarint,
  writeVarint64,
} from "../base/varint.ts";
import { bytesToKey as keyString } from "./key_bytes.ts";
import type { KeyValue } from "./types.ts";

const EMPTY = new Uint8Array(0);
/** What the reader names in its errors. */
const KEY_VALUE = "mvcc KeyValue";

/** Encodes a KeyValue as mvccpb.KeyValue. */
export function encodeKeyValue(kv: KeyValue): Uint8Array {
  return encodeKeyValueAfter(kv, 0);
}

/**
 * Encodes a KeyValue after `room` free leading bytes of a new buffer (the caller writes the
 * revision key there: one allocation per stored change instead of two).
 */
export function encodeKeyValueAfter(kv: KeyValue, room: number): Uint8Array {
  let size = 0;
  if (kv.key.length) size += 1 + varintSize(kv.key.length) + kv.key.length;
  if (kv.createRevision) size += 1 + varintSize(kv.createRevision);
  if (kv.modRevision) size += 1 + varintSize(kv.modRevision);
  if (kv.version) size += 1 + varintSize(kv.version);
  if (kv.value.length) size += 1 + varintSize(kv.value.length) + kv.value.length;
  if (kv.lease !== 0n) size += 1 + varint64Size(kv.lease);
  const out = new Uint8Array(room + size);
  let at = room;
  if (kv.key.length) {
    out[at++] = 0x0a;
    at = writeVarint(out, at, kv.key.length);
    out.set(kv.key, at);
    at += kv.key.length;
  }
  if (kv.createRevision) {
    out[at++] = 0x10;
    at = writeVarint(out, at, kv.createRevision);
  }
  if (kv.modRevision) {
    out[at++] = 0x18;
    at = writeVarint(out, at, kv.modRevision);
  }
  if (kv.version) {
    out[at++] = 0x20;
    at = writeVarint(out, at, kv.version);
  }
  if (kv.value.length) {
    out[at++] = 0x2a;
    at = writeVarint(out, at, kv.value.length);
    out.set(kv.value, at);
    at += kv.value.length;
  }
  if (kv.lease !== 0n) {
    out[at++] = 0x30;
    at = writeVarint64(out, at, kv.lease);
  }
  return out;
}

/**
 * Decodes mvccpb.KeyValue bytes. The key and value are views into one private copy of `b`
 * (one allocation instead of two), so `b` may be reused by its owner afterwards.
 */
export function decodeKeyValue(b: Uint8Array): KeyValue {
  return decodeOwned(b.slice());
}

/**
 * Decodes many stored values with one copy for all of them (allocating a buffer per value
 * dominates a range's cost): the returned kvs' keys and values are views into that copy.
 * The inputs must stay unchanged during the call.
 */
export function decodeKeyValues(bufs: Uint8Array[]): KeyValue[] {
  let total = 0;
  for (const b of bufs) total += b.length;
  const all = new Uint8Array(total);
  let at = 0;
  const out: KeyValue[] = new Array(bufs.length);
  for (let i = 0; i < bufs.length; i++) {
    const b = bufs[i];
    all.set(b, at);
    out[i] = decodeOwned(all.subarray(at, at + b.length));
    at += b.length;
  }
  return out;
}

function decodeOwned(b: Uint8Array): KeyValue {
  const r = new VarintReader(b, KEY_VALUE);
  const kv: KeyValue = {
    key: EMPTY,
    createRevision: 0,
    modRevision: 0,
    version: 0,
    value: EMPTY,
    lease: 0n,
  };
  while (r.at < b.length) {
    const tag = r.varint();
    switch (tag) {
      case 0x0a:
        kv.key = r.bytes();
        break;
      case 0x10:
        kv.createRevision = toCounter(r.varint(), "create_revision");
        break;
      case 0x18:
        kv.modRevision = toCounter(r.varint(), "mod_revision");
        break;
      case 0x20:
        kv.version = toCounter(r.varint(), "version");
        break;
      case 0x2a:
        kv.value = r.bytes();
        break;
      case 0x30:
        kv.lease = r.varint64();
        break;
      default:
        throw new RangeError(`mvcc: unexpected field tag ${tag} in KeyValue`);
    }
  }
  return kv;
}

/** The fields of a stored KeyValue that rebuilding the index needs. */
export interface KeyValueHead {
  /** The key as a one-byte string. */
  key: string;
  createRevision: number;
  version: number;
  lease: bigint;
}

/**
 * Reads the key, create_revision, version and lease of stored KeyValue bytes without copying
 * the value (opening a store reads every stored change once).
 */
export function peekKeyValue(b: Uint8Array, out: KeyValueHead): void {
  const r = new VarintReader(b, KEY_VALUE);
  out.key = "";
  out.createRevision = 0;
  out.version = 0;
  out.lease = 0n;
  while (r.at < b.length) {
    const tag = r.varint();
    switch (tag) {
      case 0x0a: {
        const n = r.varint();
        if (r.at + n > b.length) throw new RangeError("mvcc: truncated KeyValue");
        out.key = n <= 8192
          ? String.fromCharCode.apply(null, b.subarray(r.at, r.at + n) as unknown as number[])
          : keyString(b.subarray(r.at, r.at + n));
        r.at += n;
        break;
      }
      case 0x10:
        out.createRevision = toCounter(r.varint(), "create_revision");
        break;
      case 0x18:
        r.varint();
        break;
      case 0x20:
        out.version = toCounter(r.varint(), "version");
        break;
      case 0x2a: {
        const n = r.varint();
        if (r.at + n > b.length) throw new RangeError("mvcc: truncated KeyValue");
        r.at += n;
        break;
      }
      case 0x30:
        out.lease = r.varint64();
        break;
      default:
        throw new RangeError(`mvcc: unexpected field tag ${tag} in KeyValue`);
    }
  }
}
