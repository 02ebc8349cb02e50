/**
 * A hand-written codec for the two messages of a LeaseKeepAlive stream, the busiest stream a
 * client with leases keeps open: every keep-alive is one LeaseKeepAliveRequest in (an id) and
 * one LeaseKeepAliveResponse out (header, id, TTL). protobuf-es's reflective reader and writer
 * took about 6 µs of a keep-alive's ~32 µs on the server's thread (docs/perf.md, "Lease
 * keep-alive, sixth session"); this codec knows the layout (etcd's rpc.proto: the request's
 * field 1 ID int64; the response's 1 header, 2 ID int64, 3 TTL int64; the header's 1
 * cluster_id, 2 member_id uint64, 3 revision int64, 4 raft_term uint64) and writes the bytes
 * `toBinary` writes: fields in number order, zero scalars omitted, the header always present.
 * tests/api/lease_keepalive_codec_test.ts checks both directions against protobuf-es on seeded
 * random messages. A request this decoder does not take (unknown fields, another wire type, a
 * truncated varint) is left to protobuf-es, which also reports malformed input.
 */
import type { LeaseKeepAliveRequest } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { varint64Size, varintSize, writeVarint, writeVarint64 } from "../base/varint.ts";
import { EncodedMessages } from "./encoded_messages.ts";

const TYPE_NAME = "etcdserverpb.LeaseKeepAliveRequest";

/**
 * Decodes a LeaseKeepAliveRequest body as `fromBinary` would (a repeated field: the last one
 * wins), or undefined for anything but varints of field 1.
 */
export function decodeKeepAliveRequest(data: Uint8Array): LeaseKeepAliveRequest | undefined {
  let id = 0n;
  let at = 0;
  const end = data.length;
  while (at < end) {
    if (data[at++] !== 0x08) return undefined;
    // the low 28 bits from up to 4 bytes, then the high 36 bits from up to 6 more (exact as
    // numbers); an int64 varint is at most 10 bytes
    let lo = 0;
    let hi = 0;
    let done = false;
    for (let shift = 0; shift < 28; shift += 7) {
      if (at >= end) return undefined;
      const b = data[at++];
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        done = true;
        break;
      }
    }
    if (!done) {
      let mul = 1;
      for (let i = 0; i < 6; i++) {
        if (at >= end) return undefined;
        const b = data[at++];
        hi += (b & 0x7f) * mul;
        if (b < 0x80) {
          done = true;
          break;
        }
        mul *= 128;
      }
      if (!done) return undefined;
    }
    id = hi === 0 ? BigInt(lo) : BigInt.asIntN(64, (BigInt(hi) << 28n) | BigInt(lo));
  }
  return { $typeName: TYPE_NAME, ID: id };
}

/** The response header's two fields that never change on a member: cluster and member id. */
export function keepAliveHeaderPrefix(clusterId: bigint, memberId: bigint): Uint8Array {
  let size = 0;
  if (clusterId !== 0n) size += 1 + varint64Size(clusterId);
  if (memberId !== 0n) size += 1 + varint64Size(memberId);
  const out = new Uint8Array(size);
  let at = 0;
  if (clusterId !== 0n) {
    out[at++] = 0x08;
    at = writeVarint64(out, at, clusterId);
  }
  if (memberId !== 0n) {
    out[at++] = 0x10;
    writeVarint64(out, at, memberId);
  }
  return out;
}

/**
 * The enveloped LeaseKeepAliveResponse {header: prefix + revision + term, ID, TTL}. `revision`,
 * `term` and `ttl` are non-negative safe integers.
 */
export function encodeKeepAliveResponse(
  prefix: Uint8Array,
  revision: number,
  term: number,
  id: bigint,
  ttl: number,
): Uint8Array {
  const headerLen = prefix.length + (revision !== 0 ? 1 + varintSize(revision) : 0) +
    (term !== 0 ? 1 + varintSize(term) : 0);
  const len = 1 + varintSize(headerLen) + headerLen + (id !== 0n ? 1 + varint64Size(id) : 0) +
    (ttl !== 0 ? 1 + varintSize(ttl) : 0);
  const out = new Uint8Array(5 + len);
  out[1] = len >>> 24;
  out[2] = (len >>> 16) & 0xff;
  out[3] = (len >>> 8) & 0xff;
  out[4] = len & 0xff;
  out[5] = 0x0a;
  let at = writeVarint(out, 6, headerLen);
  out.set(prefix, at);
  at += prefix.length;
  if (revision !== 0) {
    out[at++] = 0x18;
    at = writeVarint(out, at, revision);
  }
  if (term !== 0) {
    out[at++] = 0x20;
    at = writeVarint(out, at, term);
  }
  if (id !== 0n) {
    out[at++] = 0x10;
    at = writeVarint64(out, at, id);
  }
  if (ttl !== 0) {
    out[at++] = 0x18;
    writeVarint(out, at, ttl);
  }
  return out;
}

/**
 * The responses of one keep-alive stream, as EncodedMessages for the direct gRPC path. A
 * client keeps one lease alive per stream, and between writes the revision, term and TTL stay
 * the same, so the last answer is handed out again while they do: its bytes are never written
 * to after they are made (lib/http copies them into its frame buffer).
 */
export class KeepAliveResponses {
  readonly #prefix: Uint8Array;
  #last: EncodedMessages | undefined;
  #revision = -1;
  #term = -1;
  #id = 0n;
  #ttl = -1;

  constructor(prefix: Uint8Array) {
    this.#prefix = prefix;
  }

  /** The enveloped answer for lease `id` renewed to `ttl` seconds, at `revision` and `term`. */
  encode(revision: number, term: number, id: bigint, ttl: number): EncodedMessages {
    if (
      this.#last !== undefined && revision === this.#revision && term === this.#term &&
      id === this.#id && ttl === this.#ttl
    ) {
      return this.#last;
    }
    const bytes = encodeKeepAliveResponse(this.#prefix, revision, term, id, ttl);
    this.#revision = revision;
    this.#term = term;
    this.#id = id;
    this.#ttl = ttl;
    this.#last = new EncodedMessages(bytes, 1);
    return this.#last;
  }
}
