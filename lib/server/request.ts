/**
 * The internal request: what a raft entry's data holds for a normal entry. Each proposal is
 * one etcd request message, encoded as protobuf exactly as on the wire, behind a 9-byte
 * prefix: the kind (1 byte) and the proposer's request id (8 bytes, big-endian) that the
 * proposer waits on. docs/formats-server.md describes the layout.
 */
import {
  type DescMessage,
  fromBinary,
  type Message,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
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
  AuthEnable = 9,
  AuthDisable = 10,
  /** AuthenticateRequest whose `password` holds the simple token prefix, never a password. */
  Authenticate = 11,
  /** AuthUserAddRequest with `hashedPassword` set and `password` empty. */
  UserAdd = 12,
  UserDelete = 13,
  /** AuthUserChangePasswordRequest with `hashedPassword` set and `password` empty. */
  UserChangePassword = 14,
  UserGrantRole = 15,
  UserRevokeRole = 16,
  RoleAdd = 17,
  RoleDelete = 18,
  RoleGrantPermission = 19,
  RoleRevokePermission = 20,
}

/** The message schema of each kind. */
const SCHEMAS = {
  [RequestKind.Put]: pb.PutRequestSchema,
  [RequestKind.DeleteRange]: pb.DeleteRangeRequestSchema,
  [RequestKind.Txn]: pb.TxnRequestSchema,
  [RequestKind.Compaction]: pb.CompactionRequestSchema,
  [RequestKind.LeaseGrant]: pb.LeaseGrantRequestSchema,
  [RequestKind.LeaseRevoke]: pb.LeaseRevokeRequestSchema,
  [RequestKind.LeaseCheckpoint]: pb.LeaseCheckpointRequestSchema,
  [RequestKind.Alarm]: pb.AlarmRequestSchema,
  [RequestKind.AuthEnable]: pb.AuthEnableRequestSchema,
  [RequestKind.AuthDisable]: pb.AuthDisableRequestSchema,
  [RequestKind.Authenticate]: pb.AuthenticateRequestSchema,
  [RequestKind.UserAdd]: pb.AuthUserAddRequestSchema,
  [RequestKind.UserDelete]: pb.AuthUserDeleteRequestSchema,
  [RequestKind.UserChangePassword]: pb.AuthUserChangePasswordRequestSchema,
  [RequestKind.UserGrantRole]: pb.AuthUserGrantRoleRequestSchema,
  [RequestKind.UserRevokeRole]: pb.AuthUserRevokeRoleRequestSchema,
  [RequestKind.RoleAdd]: pb.AuthRoleAddRequestSchema,
  [RequestKind.RoleDelete]: pb.AuthRoleDeleteRequestSchema,
  [RequestKind.RoleGrantPermission]: pb.AuthRoleGrantPermissionRequestSchema,
  [RequestKind.RoleRevokePermission]: pb.AuthRoleRevokePermissionRequestSchema,
} as const;

type Schemas = typeof SCHEMAS;

/** A decoded internal request. */
export type InternalRequest = {
  [K in RequestKind]: { kind: K; id: bigint; req: MessageShape<Schemas[K]> };
}[RequestKind];

const HEADER = 9;

/** Encodes a request as raft entry data. */
export function encodeRequest(r: InternalRequest): Uint8Array {
  const b = toBinary(SCHEMAS[r.kind] as DescMessage, r.req as Message);
  const out = new Uint8Array(HEADER + b.length);
  out[0] = r.kind;
  new DataView(out.buffer).setBigUint64(1, r.id, false);
  out.set(b, HEADER);
  return out;
}

/** Decodes raft entry data; throws RangeError on an unknown kind or a short entry. */
export function decodeRequest(data: Uint8Array): InternalRequest {
  if (data.length < HEADER) throw new RangeError(`request entry is ${data.length} bytes`);
  const kind = data[0] as RequestKind;
  const schema = SCHEMAS[kind] as DescMessage | undefined;
  if (schema === undefined) throw new RangeError(`unknown request kind ${data[0]}`);
  const id = new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(1, false);
  return { kind, id, req: fromBinary(schema, data.subarray(HEADER)) } as InternalRequest;
}
