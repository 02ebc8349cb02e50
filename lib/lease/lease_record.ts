/**
 * The persisted form of a lease: one entry per lease in the backend bucket "lease", as etcd
 * keeps it. The key is the lease id as 8 bytes big-endian (two's complement int64), the value
 * is etcd's `leasepb.Lease` message in protobuf wire format (field 1 ID int64, 2 TTL int64,
 * 3 RemainingTTL int64), so the record is exactly what etcd writes. Only the id, the granted
 * TTL and the last checkpointed remaining TTL are stored; attached keys are rebuilt from the
 * KV store on recovery, and expiry is re-derived when a lessor is promoted.
 */
import type { LeaseId } from "../base/types.ts";
import {
  varint64Size,
  VarintReader,
  varintSize,
  writeVarint,
  writeVarint64,
} from "../base/varint.ts";

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

/** Encodes a lease as etcd's `leasepb.Lease` (zero fields omitted, as proto3 does). */
export function encodeLease(rec: LeaseRecord): Uint8Array {
  let size = 0;
  if (rec.id !== 0n) size += 1 + varint64Size(rec.id);
  if (rec.ttl !== 0) size += 1 + varintSize(rec.ttl);
  if (rec.remainingTtl !== 0) size += 1 + varintSize(rec.remainingTtl);
  const out = new Uint8Array(size);
  let pos = 0;
  if (rec.id !== 0n) {
    out[pos++] = 0x08;
    pos = writeVarint64(out, pos, rec.id);
  }
  if (rec.ttl !== 0) {
    out[pos++] = 0x10;
    pos = writeVarint(out, pos, rec.ttl);
  }
  if (rec.remainingTtl !== 0) {
    out[pos++] = 0x18;
    writeVarint(out, pos, rec.remainingTtl);
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
  const r = new VarintReader(data, "lease record");
  while (r.at < data.length) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire !== 0) r.skip(wire);
    else if (field === 1) rec.id = r.varint64();
    else if (field === 2) rec.ttl = ttlNumber(r.varint64(), "TTL");
    else if (field === 3) rec.remainingTtl = ttlNumber(r.varint64(), "RemainingTTL");
    else r.varint();
  }
  return rec;
}
