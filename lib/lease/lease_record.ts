/**
 * The persisted form of a lease: one entry per lease in the backend bucket "lease", as etcd
 * keeps it. The key is the lease id as 8 bytes big-endian (two's complement int64), the value
 * is etcd's `leasepb.Lease` message in protobuf wire format (field 1 ID int64, 2 TTL int64,
 * 3 RemainingTTL int64), so the record is exactly what etcd writes. Only the id, the granted
 * TTL and the last checkpointed remaining TTL are stored; attached keys are rebuilt from the
 * KV store on recovery, and expiry is re-derived when a lessor is promoted.
 */
import type { LeaseId } from "../base/types.ts";

/** The backend bucket holding leases (etcd's name). */
export const LEASE_BUCKET = "lease";

/** A lease as stored: id, granted TTL and checkpointed remaining TTL (0 = none), in seconds. */
export interface LeaseRecord {
  id: LeaseId;
  ttl: number;
  remainingTtl: number;
}

/** The bucket key of a lease: its int64 id, 8 bytes big-endian. */
export function leaseKey(id: LeaseId): Uint8Array {
  const key = new Uint8Array(8);
  new DataView(key.buffer).setBigUint64(0, BigInt.asUintN(64, id));
  return key;
}

/** The lease id encoded in a bucket key; throws on a key that is not 8 bytes. */
export function leaseIdFromKey(key: Uint8Array): LeaseId {
  if (key.length !== 8) throw new Error(`lease key must be 8 bytes, got ${key.length}`);
  return new DataView(key.buffer, key.byteOffset, 8).getBigInt64(0);
}

/** Bytes of `n` (a non-negative safe integer) as a varint. */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/** Writes non-negative safe integer `n` as a varint at `pos`; returns the next position. */
function putNumber(out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[pos++] = n;
  return pos;
}

/** The uint64 varint bytes of an int64 (ten bytes for negatives), for values beyond 2^53. */
function bigVarint(value: bigint): number[] {
  const bytes: number[] = [];
  let v = BigInt.asUintN(64, value);
  while (v >= 0x80n) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return bytes;
}

/** Encodes a lease as etcd's `leasepb.Lease` (zero fields omitted, as proto3 does). */
export function encodeLease(rec: LeaseRecord): Uint8Array {
  // Ids are usually positive and below 2^53; then no bigint arithmetic is needed.
  const small = rec.id > 0n && rec.id <= 0x1fffffffffffffn;
  const idNum = small ? Number(rec.id) : 0;
  const idBig = !small && rec.id !== 0n ? bigVarint(rec.id) : undefined;
  const ttlBig = rec.ttl < 0 ? bigVarint(BigInt(rec.ttl)) : undefined;
  const remBig = rec.remainingTtl < 0 ? bigVarint(BigInt(rec.remainingTtl)) : undefined;
  let size = 0;
  if (rec.id !== 0n) size += 1 + (idBig ? idBig.length : varintSize(idNum));
  if (rec.ttl !== 0) size += 1 + (ttlBig ? ttlBig.length : varintSize(rec.ttl));
  if (rec.remainingTtl !== 0) {
    size += 1 + (remBig ? remBig.length : varintSize(rec.remainingTtl));
  }
  const out = new Uint8Array(size);
  let pos = 0;
  if (rec.id !== 0n) {
    out[pos++] = 0x08;
    if (idBig) {
      out.set(idBig, pos);
      pos += idBig.length;
    } else pos = putNumber(out, pos, idNum);
  }
  if (rec.ttl !== 0) {
    out[pos++] = 0x10;
    if (ttlBig) {
      out.set(ttlBig, pos);
      pos += ttlBig.length;
    } else pos = putNumber(out, pos, rec.ttl);
  }
  if (rec.remainingTtl !== 0) {
    out[pos++] = 0x18;
    if (remBig) out.set(remBig, pos);
    else putNumber(out, pos, rec.remainingTtl);
  }
  return out;
}

function ttlNumber(v: bigint, what: string): number {
  const n = BigInt.asIntN(64, v);
  if (n < BigInt(Number.MIN_SAFE_INTEGER) || n > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new Error(`lease record: ${what} ${n} out of range`);
  }
  return Number(n);
}

/**
 * Decodes a `leasepb.Lease`. Unknown fields are skipped (a newer writer may add some);
 * truncated or malformed input throws instead of yielding a wrong lease.
 */
export function decodeLease(data: Uint8Array): LeaseRecord {
  const rec: LeaseRecord = { id: 0n, ttl: 0, remainingTtl: 0 };
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= data.length) throw new Error("lease record: truncated varint");
      const b = data[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new Error("lease record: varint too long");
    }
  };
  while (pos < data.length) {
    const tag = Number(varint());
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) {
      const v = varint();
      if (field === 1) rec.id = BigInt.asIntN(64, v);
      else if (field === 2) rec.ttl = ttlNumber(v, "TTL");
      else if (field === 3) rec.remainingTtl = ttlNumber(v, "RemainingTTL");
    } else if (wire === 2) {
      const len = Number(varint());
      if (pos + len > data.length) throw new Error("lease record: truncated field");
      pos += len;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else {
      throw new Error(`lease record: unsupported wire type ${wire}`);
    }
  }
  if (pos > data.length) throw new Error("lease record: truncated field");
  return rec;
}
