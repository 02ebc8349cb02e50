/**
 * The internal request: what a raft entry's data holds for a normal entry. Each proposal is
 * one etcd request message, encoded as protobuf exactly as on the wire, behind a 9-byte
 * prefix: the kind (1 byte) and the proposer's request id (8 bytes, big-endian) that the
 * proposer waits on. docs/formats.md describes the layout.
 */
import {
  type DescMessage,
  fromBinary,
  type Message,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { decodePutBody, putBodySize, writePutBody } from "./put_entry_codec.ts";

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
  /**
   * A member publishes its name and client URLs once it has started (etcd's
   * ClusterMemberAttrSetRequest): an etcd `Member` message with ID, name and clientURLs.
   */
  MemberAttrSet = 21,
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
  [RequestKind.MemberAttrSet]: pb.MemberSchema,
} as const;

type Schemas = typeof SCHEMAS;

/**
 * Who proposed a request while auth was enabled: the apply checks permissions again with it,
 * so a change of users or roles ordered before the request in the log is respected (etcd's
 * RequestHeader username and auth_revision).
 */
export interface RequestAuth {
  username: string;
  revision: number;
}

/** A decoded internal request. */
export type InternalRequest = {
  [K in RequestKind]: {
    kind: K;
    id: bigint;
    req: MessageShape<Schemas[K]>;
    auth?: RequestAuth;
  };
}[RequestKind];

const HEADER = 9;
/** Set in the kind byte when the auth trailer follows the header. */
const AUTH_FLAG = 0x80;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a request as raft entry data. */
export function encodeRequest(r: InternalRequest): Uint8Array {
  // a put (most entries) is written straight into the entry (put_entry_codec.ts)
  const putSize = r.kind === RequestKind.Put ? putBodySize(r.req) : -1;
  const b = putSize >= 0 ? null : toBinary(SCHEMAS[r.kind] as DescMessage, r.req as Message);
  const user = r.auth ? encoder.encode(r.auth.username) : null;
  if (user !== null && user.length > 0xffff) throw new RangeError("user name is too long");
  const trailer = user === null ? 0 : 2 + user.length + 8;
  const out = new Uint8Array(HEADER + trailer + (b === null ? putSize : b.length));
  const view = new DataView(out.buffer);
  out[0] = r.kind | (user === null ? 0 : AUTH_FLAG);
  view.setBigUint64(1, r.id, false);
  if (user !== null) {
    view.setUint16(HEADER, user.length, false);
    out.set(user, HEADER + 2);
    view.setBigUint64(HEADER + 2 + user.length, BigInt(r.auth!.revision), false);
  }
  if (b === null) writePutBody(out, HEADER + trailer, r.req as pb.PutRequest);
  else out.set(b, HEADER + trailer);
  return out;
}

/** Decodes raft entry data; throws RangeError on an unknown kind or a short entry. */
export function decodeRequest(data: Uint8Array): InternalRequest {
  if (data.length < HEADER) throw new RangeError(`request entry is ${data.length} bytes`);
  const kind = (data[0] & ~AUTH_FLAG) as RequestKind;
  const schema = SCHEMAS[kind] as DescMessage | undefined;
  if (schema === undefined) throw new RangeError(`unknown request kind ${data[0]}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const id = view.getBigUint64(1, false);
  let at = HEADER;
  let auth: RequestAuth | undefined;
  if (data[0] & AUTH_FLAG) {
    if (data.length < at + 2) throw new RangeError("request entry: short auth trailer");
    const n = view.getUint16(at, false);
    if (data.length < at + 2 + n + 8) throw new RangeError("request entry: short auth trailer");
    const username = decoder.decode(data.subarray(at + 2, at + 2 + n));
    const revision = Number(view.getBigUint64(at + 2 + n, false));
    at += 2 + n + 8;
    auth = { username, revision };
  }
  const body = data.subarray(at);
  const req = (kind === RequestKind.Put ? decodePutBody(body) : undefined) ??
    fromBinary(schema, body);
  return (auth ? { kind, id, req, auth } : { kind, id, req }) as InternalRequest;
}
