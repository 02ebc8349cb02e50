/**
 * A hand-written protobuf codec for PutRequest, the body of most raft entries. Every put is
 * encoded once into its entry and decoded once when it is applied; protobuf-es's reflective
 * writer grows its buffer by doubling and copies the result out (7.5 % of a lone member's busy
 * time under put-1000, docs/perf.md "One member put-1000 and memory, fourth session"), where
 * the size of a PutRequest is known before a byte is written. The output is byte-identical to
 * `toBinary(PutRequestSchema, …)` (tests/server/put_entry_codec_test.ts checks it on random
 * messages), so entries written either way read the same. Anything this codec does not
 * handle (unknown fields, a lease or length that needs a long varint, an unexpected wire type)
 * is left to protobuf-es: `putBodySize` answers -1 and `decodePutBody` undefined.
 */
import type { PutRequest } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { varint64Size, varintSize, writeVarint, writeVarint64 } from "../base/varint.ts";

const TWO_28 = 1 << 28;
const TWO_53 = 2n ** 53n;
const U64_MASK = (1n << 64n) - 1n;

/** The two's complement image of an int64 as protobuf writes it (a uint64). */
function leaseBits(lease: bigint): bigint {
  return lease < 0n ? lease & U64_MASK : lease;
}

/** The encoded size of `req`, or -1 when it carries unknown fields (toBinary writes those). */
export function putBodySize(req: PutRequest): number {
  if (req.$unknown !== undefined && req.$unknown.length > 0) return -1;
  let size = 0;
  const k = req.key.length;
  if (k > 0) size += 1 + varintSize(k) + k;
  const v = req.value.length;
  if (v > 0) size += 1 + varintSize(v) + v;
  if (req.lease !== 0n) {
    const bits = leaseBits(req.lease);
    size += 1 + (bits < TWO_53 ? varintSize(Number(bits)) : varint64Size(bits));
  }
  if (req.prevKv) size += 2;
  if (req.ignoreValue) size += 2;
  if (req.ignoreLease) size += 2;
  return size;
}

/**
 * Writes `req` at `out[at]` (exactly `putBodySize(req)` bytes, which must not be -1); returns
 * the index after it.
 */
export function writePutBody(out: Uint8Array, at: number, req: PutRequest): number {
  const key = req.key;
  if (key.length > 0) {
    out[at++] = 0x0a;
    at = writeVarint(out, at, key.length);
    out.set(key, at);
    at += key.length;
  }
  const value = req.value;
  if (value.length > 0) {
    out[at++] = 0x12;
    at = writeVarint(out, at, value.length);
    out.set(value, at);
    at += value.length;
  }
  if (req.lease !== 0n) {
    out[at++] = 0x18;
    const bits = leaseBits(req.lease);
    at = bits < TWO_53 ? writeVarint(out, at, Number(bits)) : writeVarint64(out, at, bits);
  }
  if (req.prevKv) {
    out[at++] = 0x20;
    out[at++] = 1;
  }
  if (req.ignoreValue) {
    out[at++] = 0x28;
    out[at++] = 1;
  }
  if (req.ignoreLease) {
    out[at++] = 0x30;
    out[at++] = 1;
  }
  return at;
}

/**
 * Decodes a PutRequest body as `fromBinary(PutRequestSchema, data)` would (bytes fields are
 * views into `data`, as protobuf-es's), or undefined for anything outside the common shape:
 * unknown or repeated-with-other-wire-type fields, varints of 5 bytes or more, a truncated
 * field. The caller then decodes with protobuf-es, which also reports malformed input.
 */
export function decodePutBody(data: Uint8Array): PutRequest | undefined {
  let key: Uint8Array = EMPTY;
  let value: Uint8Array = EMPTY;
  let lease = 0n;
  let prevKv = false;
  let ignoreValue = false;
  let ignoreLease = false;
  const end = data.length;
  let at = 0;
  while (at < end) {
    const tag = data[at++];
    // a varint of up to 4 bytes (< 2^28), else -1
    let n = 0;
    let shift = 1;
    let ok = false;
    for (let i = 0; i < 4 && at < end; i++) {
      const b = data[at++];
      n += (b & 0x7f) * shift;
      if (b < 0x80) {
        ok = true;
        break;
      }
      shift *= 128;
    }
    if (!ok || n >= TWO_28) return undefined;
    switch (tag) {
      case 0x0a:
      case 0x12: {
        if (at + n > end) return undefined;
        const bytes = data.subarray(at, at + n);
        at += n;
        if (tag === 0x0a) key = bytes;
        else value = bytes;
        break;
      }
      case 0x18:
        lease = BigInt(n);
        break;
      case 0x20:
        prevKv = n !== 0;
        break;
      case 0x28:
        ignoreValue = n !== 0;
        break;
      case 0x30:
        ignoreLease = n !== 0;
        break;
      default:
        return undefined;
    }
  }
  return {
    $typeName: "etcdserverpb.PutRequest",
    key: key === EMPTY ? new Uint8Array(0) : key,
    value: value === EMPTY ? new Uint8Array(0) : value,
    lease,
    prevKv,
    ignoreValue,
    ignoreLease,
  };
}

const EMPTY: Uint8Array = new Uint8Array(0);
