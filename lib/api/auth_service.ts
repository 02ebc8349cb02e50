/**
 * etcd's Auth service over a member: changes go through raft (passwords hashed before
 * proposing, so the log never holds one); reads serve the local store after a ReadIndex
 * round; Authenticate checks the password, then replicates the token's issue.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Auth } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { PermissionSchema } from "../../proto/gen/authpb/auth_pb.ts";
import { hashPassword } from "../auth/password.ts";
import { Errors } from "../base/errors.ts";
import type { Member, Proposal } from "../server/member.ts";
import { RequestKind } from "../server/request.ts";
import { authInfo, checkAdmin } from "./request_auth.ts";
import { requestAuth } from "../server/auth_check.ts";
import { newSimpleTokenPrefix } from "../server/token_simple.ts";

/** The Auth service implementation for createApiHandler. */
export function authService(m: Member): Partial<ServiceImpl<typeof Auth>> {
  /** Proposes an admin change and answers with the header of its apply. */
  async function change(ctx: HandlerContext, p: Proposal): Promise<pb.ResponseHeader> {
    await checkAdmin(m, ctx);
    const a = await m.propose(p, requestAuth(await authInfo(m, ctx)));
    if (a.kind !== "revision") throw new Error(`auth change applied as ${a.kind}`);
    return m.header(a.revision);
  }
  async function read(ctx: HandlerContext): Promise<void> {
    await checkAdmin(m, ctx);
    await m.linearizableRead();
  }
  /**
   * A read a user may make about itself without the root role: etcd's authApplierV3 lets
   * UserGet name the caller and RoleGet name one of the caller's roles.
   */
  async function readOwn(ctx: HandlerContext, mine: (username: string) => boolean) {
    const info = await authInfo(m, ctx);
    if (m.auth.enabled) {
      try {
        m.auth.checkAdmin(info);
      } catch (err) {
        if (info === undefined || !mine(info.username)) throw err;
      }
    }
    await m.linearizableRead();
  }
  return {
    async authEnable(req, ctx) {
      // enabling needs no permission (nobody can be checked yet), as in etcd
      const a = await m.propose(
        { kind: RequestKind.AuthEnable, req },
        requestAuth(await authInfo(m, ctx)),
      );
      if (a.kind !== "revision") throw new Error(`auth enable applied as ${a.kind}`);
      return create(pb.AuthEnableResponseSchema, { header: m.header(a.revision) });
    },
    async authDisable(req, ctx) {
      const header = await change(ctx, { kind: RequestKind.AuthDisable, req });
      return create(pb.AuthDisableResponseSchema, { header });
    },
    async authStatus(_req, ctx) {
      await m.linearizableRead();
      void ctx;
      return create(pb.AuthStatusResponseSchema, {
        header: m.header(),
        enabled: m.auth.enabled,
        authRevision: BigInt(m.auth.revision),
      });
    },
    async authenticate(req, ctx) {
      await m.auth.authenticate(req.name, req.password); // authNotEnabled, authFailed
      await authInfo(m, ctx); // then etcd's proposal resolves a token the request carries
      const a = await m.propose({
        kind: RequestKind.Authenticate,
        req: create(pb.AuthenticateRequestSchema, {
          name: req.name,
          password: newSimpleTokenPrefix(),
        }),
      });
      if (a.kind !== "token") throw new Error(`authenticate applied as ${a.kind}`);
      return create(pb.AuthenticateResponseSchema, {
        header: m.header(a.revision),
        token: await a.token,
      });
    },
    async userAdd(req, ctx) {
      await checkAdmin(m, ctx);
      if (req.name === "") throw Errors.userEmpty();
      const noPassword = req.options?.noPassword === true;
      const hashed = noPassword ? "" : req.hashedPassword || await hashPassword(req.password);
      const header = await change(ctx, {
        kind: RequestKind.UserAdd,
        req: create(pb.AuthUserAddRequestSchema, {
          name: req.name,
          options: req.options,
          hashedPassword: hashed,
        }),
      });
      return create(pb.AuthUserAddResponseSchema, { header });
    },
    async userGet(req, ctx) {
      await readOwn(ctx, (user) => user === req.name);
      const u = m.auth.userGet(req.name);
      return create(pb.AuthUserGetResponseSchema, { header: m.header(), roles: u.roles });
    },
    async userList(_req, ctx) {
      await read(ctx);
      return create(pb.AuthUserListResponseSchema, {
        header: m.header(),
        users: m.auth.userList(),
      });
    },
    async userDelete(req, ctx) {
      const header = await change(ctx, { kind: RequestKind.UserDelete, req });
      return create(pb.AuthUserDeleteResponseSchema, { header });
    },
    async userChangePassword(req, ctx) {
      await checkAdmin(m, ctx);
      const hashed = req.hashedPassword || await hashPassword(req.password);
      const header = await change(ctx, {
        kind: RequestKind.UserChangePassword,
        req: create(pb.AuthUserChangePasswordRequestSchema, {
          name: req.name,
          hashedPassword: hashed,
        }),
      });
      return create(pb.AuthUserChangePasswordResponseSchema, { header });
    },
    async userGrantRole(req, ctx) {
      const header = await change(ctx, { kind: RequestKind.UserGrantRole, req });
      return create(pb.AuthUserGrantRoleResponseSchema, { header });
    },
    async userRevokeRole(req, ctx) {
      const header = await change(ctx, { kind: RequestKind.UserRevokeRole, req });
      return create(pb.AuthUserRevokeRoleResponseSchema, { header });
    },
    async roleAdd(req, ctx) {
      const header = await change(ctx, { kind: RequestKind.RoleAdd, req });
      return create(pb.AuthRoleAddResponseSchema, { header });
    },
    async roleGet(req, ctx) {
      await readOwn(ctx, (user) => m.auth.hasRole(user, req.role));
      const perms = m.auth.roleGet(req.role);
      return create(pb.AuthRoleGetResponseSchema, {
        header: m.header(),
        perm: perms.map((p) =>
          create(PermissionSchema, {
            permType: p.permType as number,
            key: p.key,
            rangeEnd: p.rangeEnd,
          })
        ),
      });
    },
    async roleList(_req, ctx) {
      await read(ctx);
      return create(pb.AuthRoleListResponseSchema, {
        header: m.header(),
        roles: m.auth.roleList(),
      });
    },
    async roleDelete(req, ctx) {
      const header = await change(ctx, { kind: RequestKind.RoleDelete, req });
      return create(pb.AuthRoleDeleteResponseSchema, { header });
    },
    async roleGrantPermission(req, ctx) {
      // etcd 3.4 has no answer for this (it would dereference nil)
      if (!req.perm) {
        throw new ConnectError("concord: a role grant needs a permission", Code.InvalidArgument);
      }
      const header = await change(ctx, { kind: RequestKind.RoleGrantPermission, req });
      return create(pb.AuthRoleGrantPermissionResponseSchema, { header });
    },
    async roleRevokePermission(req, ctx) {
      const header = await change(ctx, { kind: RequestKind.RoleRevokePermission, req });
      return create(pb.AuthRoleRevokePermissionResponseSchema, { header });
    },
  };
}
