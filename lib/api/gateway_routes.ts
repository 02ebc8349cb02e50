/**
 * The REST paths of etcd's grpc-gateway, one per RPC (plus etcd's additional bindings), as
 * etcd 3.5 registers them. Every path takes POST with the request message as JSON.
 */
import type { EtcdServices } from "./services.ts";

/** One gateway path: the service (by its `EtcdServices` key) and method it calls. */
export interface GatewayRoute {
  readonly service: keyof EtcdServices;
  /** The method's protobuf name, e.g. "Range". */
  readonly method: string;
}

/** Path (under /v3) to route. */
export const GATEWAY_ROUTES: ReadonlyMap<string, GatewayRoute> = new Map<string, GatewayRoute>([
  ["/v3/kv/range", { service: "kv", method: "Range" }],
  ["/v3/kv/put", { service: "kv", method: "Put" }],
  ["/v3/kv/deleterange", { service: "kv", method: "DeleteRange" }],
  ["/v3/kv/txn", { service: "kv", method: "Txn" }],
  ["/v3/kv/compaction", { service: "kv", method: "Compact" }],
  ["/v3/watch", { service: "watch", method: "Watch" }],
  ["/v3/lease/grant", { service: "lease", method: "LeaseGrant" }],
  ["/v3/lease/revoke", { service: "lease", method: "LeaseRevoke" }],
  ["/v3/kv/lease/revoke", { service: "lease", method: "LeaseRevoke" }],
  ["/v3/lease/keepalive", { service: "lease", method: "LeaseKeepAlive" }],
  ["/v3/lease/timetolive", { service: "lease", method: "LeaseTimeToLive" }],
  ["/v3/kv/lease/timetolive", { service: "lease", method: "LeaseTimeToLive" }],
  ["/v3/lease/leases", { service: "lease", method: "LeaseLeases" }],
  ["/v3/kv/lease/leases", { service: "lease", method: "LeaseLeases" }],
  ["/v3/cluster/member/add", { service: "cluster", method: "MemberAdd" }],
  ["/v3/cluster/member/remove", { service: "cluster", method: "MemberRemove" }],
  ["/v3/cluster/member/update", { service: "cluster", method: "MemberUpdate" }],
  ["/v3/cluster/member/list", { service: "cluster", method: "MemberList" }],
  ["/v3/cluster/member/promote", { service: "cluster", method: "MemberPromote" }],
  ["/v3/maintenance/alarm", { service: "maintenance", method: "Alarm" }],
  ["/v3/maintenance/status", { service: "maintenance", method: "Status" }],
  ["/v3/maintenance/defragment", { service: "maintenance", method: "Defragment" }],
  ["/v3/maintenance/hash", { service: "maintenance", method: "Hash" }],
  ["/v3/maintenance/hashkv", { service: "maintenance", method: "HashKV" }],
  ["/v3/maintenance/snapshot", { service: "maintenance", method: "Snapshot" }],
  ["/v3/maintenance/transfer-leadership", { service: "maintenance", method: "MoveLeader" }],
  ["/v3/maintenance/downgrade", { service: "maintenance", method: "Downgrade" }],
  ["/v3/auth/enable", { service: "auth", method: "AuthEnable" }],
  ["/v3/auth/disable", { service: "auth", method: "AuthDisable" }],
  ["/v3/auth/status", { service: "auth", method: "AuthStatus" }],
  ["/v3/auth/authenticate", { service: "auth", method: "Authenticate" }],
  ["/v3/auth/user/add", { service: "auth", method: "UserAdd" }],
  ["/v3/auth/user/get", { service: "auth", method: "UserGet" }],
  ["/v3/auth/user/list", { service: "auth", method: "UserList" }],
  ["/v3/auth/user/delete", { service: "auth", method: "UserDelete" }],
  ["/v3/auth/user/changepw", { service: "auth", method: "UserChangePassword" }],
  ["/v3/auth/user/grant", { service: "auth", method: "UserGrantRole" }],
  ["/v3/auth/user/revoke", { service: "auth", method: "UserRevokeRole" }],
  ["/v3/auth/role/add", { service: "auth", method: "RoleAdd" }],
  ["/v3/auth/role/get", { service: "auth", method: "RoleGet" }],
  ["/v3/auth/role/list", { service: "auth", method: "RoleList" }],
  ["/v3/auth/role/delete", { service: "auth", method: "RoleDelete" }],
  ["/v3/auth/role/grant", { service: "auth", method: "RoleGrantPermission" }],
  ["/v3/auth/role/revoke", { service: "auth", method: "RoleRevokePermission" }],
  ["/v3/lock/lock", { service: "lock", method: "Lock" }],
  ["/v3/lock/unlock", { service: "lock", method: "Unlock" }],
  ["/v3/election/campaign", { service: "election", method: "Campaign" }],
  ["/v3/election/proclaim", { service: "election", method: "Proclaim" }],
  ["/v3/election/leader", { service: "election", method: "Leader" }],
  ["/v3/election/observe", { service: "election", method: "Observe" }],
  ["/v3/election/resign", { service: "election", method: "Resign" }],
]);

/**
 * Older path prefixes etcd still answers: etcd 3.4 rewrites /v3beta/ to /v3/; /v3alpha/ was
 * etcd 3.2's prefix and is accepted the same way for old clients.
 */
export const GATEWAY_ALIASES: readonly string[] = ["/v3beta/", "/v3alpha/"];

/** The canonical /v3/ path for a request path, or undefined when it is not a gateway path. */
export function canonicalGatewayPath(path: string): string | undefined {
  for (const alias of GATEWAY_ALIASES) {
    if (path.startsWith(alias)) return "/v3/" + path.slice(alias.length);
  }
  return path.startsWith("/v3/") ? path : undefined;
}
