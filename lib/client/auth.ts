/** The auth namespace: etcd's Auth service (users, roles, permissions), typed. */
import {
  Auth,
  type AuthDisableResponse,
  type AuthEnableResponse,
  type AuthenticateResponse,
  type AuthRoleAddResponse,
  type AuthRoleDeleteResponse,
  type AuthRoleGetResponse,
  type AuthRoleGrantPermissionResponse,
  type AuthRoleListResponse,
  type AuthRoleRevokePermissionResponse,
  type AuthStatusResponse,
  type AuthUserAddResponse,
  type AuthUserChangePasswordResponse,
  type AuthUserDeleteResponse,
  type AuthUserGetResponse,
  type AuthUserGrantRoleResponse,
  type AuthUserListResponse,
  type AuthUserRevokeRoleResponse,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Permission_Type } from "../../proto/gen/authpb/auth_pb.ts";
import { type Bytes, toBytes } from "./bytes.ts";
import type { Client } from "@connectrpc/connect";
import type { CallOptions, Connection, Endpoint } from "./connection.ts";
import type { KeySpan } from "./ops.ts";
import { rangeRequest } from "./ops.ts";

/** A permission's kind. */
export type PermissionType = "read" | "write" | "readwrite";

const PERM: Record<PermissionType, Permission_Type> = {
  read: Permission_Type.READ,
  write: Permission_Type.WRITE,
  readwrite: Permission_Type.READWRITE,
};

/**
 * Users, roles and their permissions. Management calls are not retried once sent (a second
 * add would fail as "already exists"); reads are.
 */
export class AuthClient {
  readonly #conn: Connection;

  /** Made by the Client. */
  constructor(conn: Connection) {
    this.#conn = conn;
  }

  #auth(): (ep: Endpoint) => Client<typeof Auth> {
    return (ep) => this.#conn.client(ep, Auth);
  }

  /** Turns authentication on (a root user with the root role must exist). */
  enable(opts?: CallOptions): Promise<AuthEnableResponse> {
    return this.#conn.call("write", opts, (ep, a) => this.#auth()(ep).authEnable({}, a));
  }
  /** Turns authentication off. */
  disable(opts?: CallOptions): Promise<AuthDisableResponse> {
    return this.#conn.call("write", opts, (ep, a) => this.#auth()(ep).authDisable({}, a));
  }
  /** Whether authentication is on, and the auth store's revision (etcd 3.5+; 3.4 answers Unimplemented). */
  status(opts?: CallOptions): Promise<AuthStatusResponse> {
    return this.#conn.call("read", opts, (ep, a) => this.#auth()(ep).authStatus({}, a));
  }
  /** A token for a user (the client does this itself when given a username and password). */
  authenticate(name: string, password: string, opts?: CallOptions): Promise<AuthenticateResponse> {
    return this.#conn.call(
      "read",
      opts,
      (ep, a) => this.#auth()(ep).authenticate({ name, password }, a),
    );
  }

  /** Adds a user; `noPassword` makes one that can only authenticate by TLS certificate. */
  userAdd(
    name: string,
    password: string,
    opts?: { noPassword?: boolean } & CallOptions,
  ): Promise<AuthUserAddResponse> {
    const req = { name, password, options: { noPassword: opts?.noPassword ?? false } };
    return this.#conn.call("write", opts, (ep, a) => this.#auth()(ep).userAdd(req, a));
  }
  /** A user's roles. */
  userGet(name: string, opts?: CallOptions): Promise<AuthUserGetResponse> {
    return this.#conn.call("read", opts, (ep, a) => this.#auth()(ep).userGet({ name }, a));
  }
  /** Every user's name. */
  userList(opts?: CallOptions): Promise<AuthUserListResponse> {
    return this.#conn.call("read", opts, (ep, a) => this.#auth()(ep).userList({}, a));
  }
  /** Deletes a user. */
  userDelete(name: string, opts?: CallOptions): Promise<AuthUserDeleteResponse> {
    return this.#conn.call("write", opts, (ep, a) => this.#auth()(ep).userDelete({ name }, a));
  }
  /** Sets a user's password. */
  userChangePassword(
    name: string,
    password: string,
    opts?: CallOptions,
  ): Promise<AuthUserChangePasswordResponse> {
    return this.#conn.call(
      "write",
      opts,
      (ep, a) => this.#auth()(ep).userChangePassword({ name, password }, a),
    );
  }
  /** Grants a role to a user. */
  userGrantRole(
    user: string,
    role: string,
    opts?: CallOptions,
  ): Promise<AuthUserGrantRoleResponse> {
    return this.#conn.call(
      "write",
      opts,
      (ep, a) => this.#auth()(ep).userGrantRole({ user, role }, a),
    );
  }
  /** Revokes a role from a user. */
  userRevokeRole(
    name: string,
    role: string,
    opts?: CallOptions,
  ): Promise<AuthUserRevokeRoleResponse> {
    return this.#conn.call(
      "write",
      opts,
      (ep, a) => this.#auth()(ep).userRevokeRole({ name, role }, a),
    );
  }

  /** Adds a role. */
  roleAdd(name: string, opts?: CallOptions): Promise<AuthRoleAddResponse> {
    return this.#conn.call("write", opts, (ep, a) => this.#auth()(ep).roleAdd({ name }, a));
  }
  /** A role's permissions. */
  roleGet(role: string, opts?: CallOptions): Promise<AuthRoleGetResponse> {
    return this.#conn.call("read", opts, (ep, a) => this.#auth()(ep).roleGet({ role }, a));
  }
  /** Every role's name. */
  roleList(opts?: CallOptions): Promise<AuthRoleListResponse> {
    return this.#conn.call("read", opts, (ep, a) => this.#auth()(ep).roleList({}, a));
  }
  /** Deletes a role. */
  roleDelete(role: string, opts?: CallOptions): Promise<AuthRoleDeleteResponse> {
    return this.#conn.call("write", opts, (ep, a) => this.#auth()(ep).roleDelete({ role }, a));
  }
  /** Lets a role read and/or write a key or range (granting again is harmless: retried). */
  roleGrantPermission(
    role: string,
    type: PermissionType,
    key: Bytes,
    opts?: KeySpan & CallOptions,
  ): Promise<AuthRoleGrantPermissionResponse> {
    const req = {
      name: role,
      perm: { permType: PERM[type], key: toBytes(key), rangeEnd: rangeRequest(key, opts).rangeEnd },
    };
    return this.#conn.call("read", opts, (ep, a) => this.#auth()(ep).roleGrantPermission(req, a));
  }
  /** Takes a permission on a key or range away from a role. */
  roleRevokePermission(
    role: string,
    key: Bytes,
    opts?: KeySpan & CallOptions,
  ): Promise<AuthRoleRevokePermissionResponse> {
    const req = { role, key: toBytes(key), rangeEnd: rangeRequest(key, opts).rangeEnd };
    return this.#conn.call(
      "write",
      opts,
      (ep, a) => this.#auth()(ep).roleRevokePermission(req, a),
    );
  }
}
