/**
 * The internal request: what a raft entry's data holds for a normal entry. Each proposal is
 * one etcd request message, encoded as protobuf exactly as on the wire, behind a 9-byte
 * prefix: the kind (1 byte) and the proposer's request id (8 bytes, big-endian) that the
 * proposer waits on. docs/formats-server.md describes the layout.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";

/** The format byte values; never renumber (they are in every WAL). */
export enum RequestKind {
  Put = 1,
  DeleteRange = 2,
  Txn = 3,
  Compaction = 4,
  LeaseGrant = 5,
  LeaseRevoke = 6,
  LeaseCheckpoint = 7,
  Alarm = 8,
}

/** A decoded internal request. */
export type InternalRequest =
  | { kind: RequestKind.Put; id: bigint; req: pb.PutRequest }
  | { kind: RequestKind.DeleteRange; id: bigint; req: pb.DeleteRangeRequest }
  | { kind: RequestKind.Txn; id: bigint; req: pb.TxnRequest }
  | { kind: RequestKind.Compaction; id: bigint; req: pb.CompactionRequest }
  | { kind: RequestKind.LeaseGrant; id: bigint; req: pb.LeaseGrantRequest }
  | { kind: RequestKind.LeaseRevoke; id: bigint; req: pb.LeaseRevokeRequest }
  | { kind: RequestKind.LeaseCheckpoint; id: bigint; req: pb.LeaseCheckpointRequest }
  | { kind: RequestKind.Alarm; id: bigint; req: pb.AlarmRequest };

const HEADER = 9;

function body(r: InternalRequest): Uint8Array {
  switch (r.kind) {
    case RequestKind.Put:
      return toBinary(pb.PutRequestSchema, r.req);
    case RequestKind.DeleteRange:
      return toBinary(pb.DeleteRangeRequestSchema, r.req);
    case RequestKind.Txn:
      return toBinary(pb.TxnRequestSchema, r.req);
    case RequestKind.Compaction:
      return toBinary(pb.CompactionRequestSchema, r.req);
    case RequestKind.LeaseGrant:
      return toBinary(pb.LeaseGrantRequestSchema, r.req);
    case RequestKind.LeaseRevoke:
      return toBinary(pb.LeaseRevokeRequestSchema, r.req);
    case RequestKind.LeaseCheckpoint:
      return toBinary(pb.LeaseCheckpointRequestSchema, r.req);
    case RequestKind.Alarm:
      return toBinary(pb.AlarmRequestSchema, r.req);
  }
}

/** Encodes a request as raft entry data. */
export function encodeRequest(r: InternalRequest): Uint8Array {
  const b = body(r);
  const out = new Uint8Array(HEADER + b.length);
  out[0] = r.kind;
  new DataView(out.buffer).setBigUint64(1, r.id, false);
  out.set(b, HEADER);
  return out;
}

/** Decodes raft entry data; throws RangeError on an unknown kind or a short entry. */
export function decodeRequest(data: Uint8Array): InternalRequest {
  if (data.length < HEADER) throw new RangeError(`request entry is ${data.length} bytes`);
  const id = new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(1, false);
  const b = data.subarray(HEADER);
  switch (data[0]) {
    case RequestKind.Put:
      return { kind: RequestKind.Put, id, req: fromBinary(pb.PutRequestSchema, b) };
    case RequestKind.DeleteRange:
      return {
        kind: RequestKind.DeleteRange,
        id,
        req: fromBinary(pb.DeleteRangeRequestSchema, b),
      };
    case RequestKind.Txn:
      return { kind: RequestKind.Txn, id, req: fromBinary(pb.TxnRequestSchema, b) };
    case RequestKind.Compaction:
      return {
        kind: RequestKind.Compaction,
        id,
        req: fromBinary(pb.CompactionRequestSchema, b),
      };
    case RequestKind.LeaseGrant:
      return {
        kind: RequestKind.LeaseGrant,
        id,
        req: fromBinary(pb.LeaseGrantRequestSchema, b),
      };
    case RequestKind.LeaseRevoke:
      return {
        kind: RequestKind.LeaseRevoke,
        id,
        req: fromBinary(pb.LeaseRevokeRequestSchema, b),
      };
    case RequestKind.LeaseCheckpoint:
      return {
        kind: RequestKind.LeaseCheckpoint,
        id,
        req: fromBinary(pb.LeaseCheckpointRequestSchema, b),
      };
    case RequestKind.Alarm:
      return { kind: RequestKind.Alarm, id, req: fromBinary(pb.AlarmRequestSchema, b) };
    default:
      throw new RangeError(`unknown request kind ${data[0]}`);
  }
}
