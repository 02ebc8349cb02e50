/**
 * Every name the client exports in both entry points (mod.ts for Deno, browser.ts for
 * browsers).
 * @module
 */
export { Client, type ClientOptions } from "./client.ts";
export type { CallOptions, MemberCallOptions, RetryPolicy } from "./connection.ts";
export { type Bytes, FROM_KEY, rangeEndOfPrefix, text, toBytes } from "./bytes.ts";
export {
  cmp,
  type CompareOp,
  type DeleteOptions,
  type KeySpan,
  op,
  type PutOptions,
  type RangeOptions,
  type SortTarget,
} from "./ops.ts";
export { Txn } from "./txn.ts";
export { KVClient } from "./kv.ts";
export { KeepAlive, LeaseClient, type LeaseId } from "./lease.ts";
export { isProgressNotify, Watch, WatchCompactedError, type WatchOptions } from "./watch.ts";
export { ClusterClient } from "./cluster.ts";
export { MaintenanceClient, type SnapshotProgress } from "./maintenance.ts";
export { AuthClient, type PermissionType } from "./auth.ts";
export { LockClient } from "./lock.ts";
export { ElectionClient } from "./election.ts";
export { type EndpointTransport, type TransportFactory, webTransport } from "./transport.ts";
export { Errors, EtcdError, GrpcCode } from "../base/errors.ts";
export { Session, type SessionOptions } from "./recipes/session.ts";
export { Mutex } from "./recipes/mutex.ts";
export { Election } from "./recipes/election.ts";
export { type Isolation, runStm, type Stm, type StmOptions } from "./recipes/stm.ts";
export { Namespace, NamespacedWatch } from "./recipes/namespace.ts";
export { mutexLocked, sessionExpired } from "./recipes/errors.ts";
// the wire types the client's calls take and return, etcd's own
export type {
  AlarmResponse,
  AuthDisableResponse,
  AuthEnableResponse,
  AuthenticateResponse,
  AuthRoleAddResponse,
  AuthRoleDeleteResponse,
  AuthRoleGetResponse,
  AuthRoleGrantPermissionResponse,
  AuthRoleListResponse,
  AuthRoleRevokePermissionResponse,
  AuthStatusResponse,
  AuthUserAddResponse,
  AuthUserChangePasswordResponse,
  AuthUserDeleteResponse,
  AuthUserGetResponse,
  AuthUserGrantRoleResponse,
  AuthUserListResponse,
  AuthUserRevokeRoleResponse,
  CompactionResponse,
  Compare,
  DefragmentResponse,
  DeleteRangeResponse,
  HashKVResponse,
  HashResponse,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveResponse,
  Member,
  MemberAddResponse,
  MemberListResponse,
  MemberPromoteResponse,
  MemberRemoveResponse,
  MemberUpdateResponse,
  MoveLeaderResponse,
  PutResponse,
  RangeResponse,
  RequestOp,
  ResponseHeader,
  ResponseOp,
  StatusResponse,
  TxnRequest,
  TxnResponse,
  WatchResponse,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
export { AlarmType } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
export { type Event, Event_EventType, type KeyValue } from "../../proto/gen/mvccpb/kv_pb.ts";
export type { LockResponse, UnlockResponse } from "../../proto/gen/v3lockpb/v3lock_pb.ts";
export type {
  CampaignResponse,
  LeaderKey,
  LeaderResponse,
  ProclaimResponse,
  ResignResponse,
} from "../../proto/gen/v3electionpb/v3election_pb.ts";
export type { Transport } from "@connectrpc/connect";
