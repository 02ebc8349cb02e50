/** etcd's Auth service: routes each call to the server's auth façade. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { Auth } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { AuthServer } from "../server/auth_server.ts";
import { callerOf } from "./request_auth.ts";

/** The Auth service implementation for createApiHandler. */
export function authService(s: AuthServer): Partial<ServiceImpl<typeof Auth>> {
  return {
    authEnable: (req, ctx) => s.enable(req, callerOf(ctx)),
    authDisable: (req, ctx) => s.disable(req, callerOf(ctx)),
    authStatus: () => s.status(),
    authenticate: (req, ctx) => s.authenticate(req, callerOf(ctx)),
    userAdd: (req, ctx) => s.userAdd(req, callerOf(ctx)),
    userGet: (req, ctx) => s.userGet(req, callerOf(ctx)),
    userList: (_req, ctx) => s.userList(callerOf(ctx)),
    userDelete: (req, ctx) => s.userDelete(req, callerOf(ctx)),
    userChangePassword: (req, ctx) => s.userChangePassword(req, callerOf(ctx)),
    userGrantRole: (req, ctx) => s.userGrantRole(req, callerOf(ctx)),
    userRevokeRole: (req, ctx) => s.userRevokeRole(req, callerOf(ctx)),
    roleAdd: (req, ctx) => s.roleAdd(req, callerOf(ctx)),
    roleGet: (req, ctx) => s.roleGet(req, callerOf(ctx)),
    roleList: (_req, ctx) => s.roleList(callerOf(ctx)),
    roleDelete: (req, ctx) => s.roleDelete(req, callerOf(ctx)),
    roleGrantPermission: (req, ctx) => s.roleGrantPermission(req, callerOf(ctx)),
    roleRevokePermission: (req, ctx) => s.roleRevokePermission(req, callerOf(ctx)),
  };
}
