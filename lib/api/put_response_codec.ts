/**
 * Put's gRPC answer written by hand: the enveloped PutResponse for the common case of a
 * header and nothing else (no prev_kv). protobuf-es's `create` + `toBinary` + a copy into the
 * envelope were 5 % of a lone member's busy time under put-1000 (docs/perf.md, "One member
 * put-1000 and memory, fourth session") for a message of about 30 bytes, two fields of which
 * (the cluster and member ids) never change: their bytes are encoded once and reused. The
 * output is byte-identical to `envelope(toBinary(PutResponseSchema, res))`
 * (tests/api/put_response_codec_test.ts); any other shape answers undefined and is encoded by
 * protobuf-es.
 */
import type { PutResponse, ResponseHeader } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { varint64Size, writeVarint64 } from "../base/varint.ts";

/** Fields 1 and 2 of a ResponseHeader (cluster and member id), encoded once per pair. */
let idsCluster = -1n;
let idsMember = -1n;
let ids = new Uint8Array(0);

function idBytes(cluster: bigint, member: bigint): Uint8Array {
  if (cluster === idsCluster && member === idsMember) return ids;
  const out = new Uint8Array(22);
  let at = 0;
  if (cluster !== 0n) {
    out[at++] = 0x08;
    at = writeVarint64(out, at, cluster);
  }
  if (member !== 0n) {
    out[at++] = 0x10;
    at = writeVarint64(out, at, member);
  }
  ids = out.slice(0, at);
  idsCluster = cluster;
  idsMember = member;
  return ids;
}

function hasUnknown(m: { $unknown?: unknown[] }): boolean {
  return m.$unknown !== undefined && m.$unknown.length > 0;
}

/**
 * The gRPC envelope (flag byte, length, message) of `res` when it is a PutResponse with a
 * header and no prev_kv; undefined for anything else.
 */
export function envelopePutResponse(res: unknown): Uint8Array | undefined {
  const r = res as Partial<PutResponse> | null;
  if (r === null || typeof r !== "object" || r.$typeName !== "etcdserverpb.PutResponse") {
    return undefined;
  }
  const h = r.header as ResponseHeader | undefined;
  if (h === undefined || r.prevKv !== undefined || hasUnknown(r) || hasUnknown(h)) {
    return undefined;
  }
  const idPart = idBytes(h.clusterId, h.memberId);
  const revSize = h.revision === 0n ? 0 : 1 + varint64Size(h.revision);
  const termSize = h.raftTerm === 0n ? 0 : 1 + varint64Size(h.raftTerm);
  const headerLen = idPart.length + revSize + termSize;
  // a header is at most 44 bytes: its length is a one-byte varint
  const msgLen = 2 + headerLen;
  const out = new Uint8Array(5 + msgLen);
  out[4] = msgLen;
  out[5] = 0x0a;
  out[6] = headerLen;
  out.set(idPart, 7);
  let at = 7 + idPart.length;
  if (revSize > 0) {
    out[at++] = 0x18;
    at = writeVarint64(out, at, h.revision);
  }
  if (termSize > 0) {
    out[at++] = 0x20;
    at = writeVarint64(out, at, h.raftTerm);
  }
  return out;
}
