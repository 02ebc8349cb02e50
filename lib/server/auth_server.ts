/**
 * The Auth part of the server façade: changes go through raft (passwords hashed before
 * proposing, so the log never holds one) and need the root role once auth is enabled; reads
 * serve the local store after a ReadIndex round; Authenticate checks the password, then
 * replicates the token's issue.
 */
import { create } from "@bufbuild/protobuf";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { PermissionSchema } from "../../proto/gen/authpb/auth_pb.ts";
import { hashPassword } from "../auth/password.ts";
import { Errors, EtcdError, GrpcCode } from "../base/errors.ts";
import type { Member, Proposal } from "./member.ts";
import { RequestKind } from "./request.ts";
import { requestAuth } from "./auth_check.ts";
import { newSimpleTokenPrefix } from "./token_simple.ts";
import { type Caller, checkAdmin, resolveCaller } from "./caller.ts";

/** An auth change request: every kind whose apply answers with the revision only. */
type AuthChange = Extract<
  Proposal,
  {
    kind:
      | RequestKind.AuthDisable
      | RequestKind.UserAdd
      | RequestKind.UserDelete
      | RequestKind.UserChangePassword
      | RequestKind.UserGrantRole
      | RequestKind.UserRevokeRole
      | RequestKind.RoleAdd
      | RequestKind.RoleDelete
      | RequestKind.RoleGrantPermission
      | RequestKind.RoleRevokePermission;
  }
>;

/** etcd's Auth calls over one member. */
export class AuthServer {
  readonly #m: Member;

  constructor(m: Member) {
    this.#m = m;
  }

  /** Proposes an admin change and answers with the header of its apply. */
  async #change(caller: Caller, p: AuthChange): Promise<pb.ResponseHeader> {
    const info = await checkAdmin(this.#m, caller);
    const a = await this.#m.propose(p, requestAuth(info));
    return this.#m.header(a.revision);
  }

  /** An admin read: root only, after a ReadIndex round. */
  async #read(caller: Caller): Promise<void> {
    await checkAdmin(this.#m, caller);
    await this.#m.linearizableRead();
  }

  /**
   * A read a user may make about itself without the root role: etcd's authApplierV3 lets
   * UserGet name the caller and RoleGet name one of the caller's roles.
   */
  async #readOwn(caller: Caller, mine: (username: string) => boolean): Promise<void> {
    const m = this.#m;
    const info = await resolveCaller(m, caller);
    if (m.auth.enabled) {
      try {
        m.auth.checkAdmin(info);
      } catch (err) {
        if (info === undefined || !mine(info.username)) throw err;
      }
    }
    await m.linearizableRead();
  }

  /** AuthEnable: needs no permission (nobody can be checked yet), as in etcd. */
  async enable(req: pb.AuthEnableRequest, caller: Caller): Promise<pb.AuthEnableResponse> {
    const m = this.#m;
    const info = await resolveCaller(m, caller);
    const a = await m.propose({ kind: RequestKind.AuthEnable, req }, requestAuth(info));
    return create(pb.AuthEnableResponseSchema, { header: m.header(a.revision) });
  }

  /** AuthDisable (root). */
  async disable(req: pb.AuthDisableRequest, caller: Caller): Promise<pb.AuthDisableResponse> {
    const header = await this.#change(caller, { kind: RequestKind.AuthDisable, req });
    return create(pb.AuthDisableResponseSchema, { header });
  }

  /** AuthStatus: whether auth is on and the auth store's revision. */
  async status(): Promise<pb.AuthStatusResponse> {
    const m = this.#m;
    await m.linearizableRead();
    return create(pb.AuthStatusResponseSchema, {
      header: m.header(),
      enabled: m.auth.enabled,
      authRevision: BigInt(m.auth.revision),
    });
  }

  /** Authenticate: the password is checked here; the token's issue is replicated. */
  async authenticate(
    req: pb.AuthenticateRequest,
    caller: Caller,
  ): Promise<pb.AuthenticateResponse> {
    const m = this.#m;
    await m.auth.authenticate(req.name, req.password); // authNotEnabled, authFailed
    await resolveCaller(m, caller); // then etcd's proposal resolves a token the request carries
    const a = await m.propose({
      kind: RequestKind.Authenticate,
      req: create(pb.AuthenticateRequestSchema, {
        name: req.name,
        password: newSimpleTokenPrefix(),
      }),
    });
    return create(pb.AuthenticateResponseSchema, {
      header: m.header(a.revision),
      token: await a.token,
    });
  }

  /** UserAdd (root): the password is hashed here, so the log never holds it. */
  async userAdd(req: pb.AuthUserAddRequest, caller: Caller): Promise<pb.AuthUserAddResponse> {
    await checkAdmin(this.#m, caller);
    if (req.name === "") throw Errors.userEmpty();
    const noPassword = req.options?.noPassword === true;
    const hashed = noPassword ? "" : req.hashedPassword || await hashPassword(req.password);
    const header = await this.#change(caller, {
      kind: RequestKind.UserAdd,
      req: create(pb.AuthUserAddRequestSchema, {
        name: req.name,
        options: req.options,
        hashedPassword: hashed,
      }),
    });
    return create(pb.AuthUserAddResponseSchema, { header });
  }

  /** UserGet: root, or the user asking about itself. */
  async userGet(req: pb.AuthUserGetRequest, caller: Caller): Promise<pb.AuthUserGetResponse> {
    await this.#readOwn(caller, (user) => user === req.name);
    const u = this.#m.auth.userGet(req.name);
    return create(pb.AuthUserGetResponseSchema, { header: this.#m.header(), roles: u.roles });
  }

  /** UserList (root). */
  async userList(caller: Caller): Promise<pb.AuthUserListResponse> {
    await this.#read(caller);
    const m = this.#m;
    return create(pb.AuthUserListResponseSchema, { header: m.header(), users: m.auth.userList() });
  }

  /** UserDelete (root). */
  async userDelete(
    req: pb.AuthUserDeleteRequest,
    caller: Caller,
  ): Promise<pb.AuthUserDeleteResponse> {
    const header = await this.#change(caller, { kind: RequestKind.UserDelete, req });
    return create(pb.AuthUserDeleteResponseSchema, { header });
  }

  /** UserChangePassword (root): hashed here, as for UserAdd. */
  async userChangePassword(
    req: pb.AuthUserChangePasswordRequest,
    caller: Caller,
  ): Promise<pb.AuthUserChangePasswordResponse> {
    await checkAdmin(this.#m, caller);
    const hashed = req.hashedPassword || await hashPassword(req.password);
    const header = await this.#change(caller, {
      kind: RequestKind.UserChangePassword,
      req: create(pb.AuthUserChangePasswordRequestSchema, {
        name: req.name,
        hashedPassword: hashed,
      }),
    });
    return create(pb.AuthUserChangePasswordResponseSchema, { header });
  }

  /** UserGrantRole (root). */
  async userGrantRole(
    req: pb.AuthUserGrantRoleRequest,
    caller: Caller,
  ): Promise<pb.AuthUserGrantRoleResponse> {
    const header = await this.#change(caller, { kind: RequestKind.UserGrantRole, req });
    return create(pb.AuthUserGrantRoleResponseSchema, { header });
  }

  /** UserRevokeRole (root). */
  async userRevokeRole(
    req: pb.AuthUserRevokeRoleRequest,
    caller: Caller,
  ): Promise<pb.AuthUserRevokeRoleResponse> {
    const header = await this.#change(caller, { kind: RequestKind.UserRevokeRole, req });
    return create(pb.AuthUserRevokeRoleResponseSchema, { header });
  }

  /** RoleAdd (root). */
  async roleAdd(req: pb.AuthRoleAddRequest, caller: Caller): Promise<pb.AuthRoleAddResponse> {
    const header = await this.#change(caller, { kind: RequestKind.RoleAdd, req });
    return create(pb.AuthRoleAddResponseSchema, { header });
  }

  /** RoleGet: root, or a user holding the role. */
  async roleGet(req: pb.AuthRoleGetRequest, caller: Caller): Promise<pb.AuthRoleGetResponse> {
    const m = this.#m;
    await this.#readOwn(caller, (user) => m.auth.hasRole(user, req.role));
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
  }

  /** RoleList (root). */
  async roleList(caller: Caller): Promise<pb.AuthRoleListResponse> {
    await this.#read(caller);
    const m = this.#m;
    return create(pb.AuthRoleListResponseSchema, { header: m.header(), roles: m.auth.roleList() });
  }

  /** RoleDelete (root). */
  async roleDelete(
    req: pb.AuthRoleDeleteRequest,
    caller: Caller,
  ): Promise<pb.AuthRoleDeleteResponse> {
    const header = await this.#change(caller, { kind: RequestKind.RoleDelete, req });
    return create(pb.AuthRoleDeleteResponseSchema, { header });
  }

  /** RoleGrantPermission (root); a request without a permission is refused. */
  async roleGrantPermission(
    req: pb.AuthRoleGrantPermissionRequest,
    caller: Caller,
  ): Promise<pb.AuthRoleGrantPermissionResponse> {
    // etcd 3.4 has no answer for this (it would dereference nil)
    if (!req.perm) {
      throw new EtcdError(GrpcCode.InvalidArgument, "concord: a role grant needs a permission");
    }
    const header = await this.#change(caller, { kind: RequestKind.RoleGrantPermission, req });
    return create(pb.AuthRoleGrantPermissionResponseSchema, { header });
  }

  /** RoleRevokePermission (root). */
  async roleRevokePermission(
    req: pb.AuthRoleRevokePermissionRequest,
    caller: Caller,
  ): Promise<pb.AuthRoleRevokePermissionResponse> {
    const header = await this.#change(caller, { kind: RequestKind.RoleRevokePermission, req });
    return create(pb.AuthRoleRevokePermissionResponseSchema, { header });
  }
}
