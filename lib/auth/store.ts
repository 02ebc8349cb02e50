/**
 * The auth store: users, roles and their key permissions, with etcd's rules (root user and
 * root role, enable/disable, the auth revision), persisted in the backend buckets "auth",
 * "authUsers" and "authRoles" as etcd keeps them, and the permission check every request
 * passes through when auth is enabled.
 *
 * Mutations are applied from the server's apply loop (they are replicated through raft), are
 * synchronous, validate everything before writing, and write to the backend's single write
 * batch, so they commit together with the consistent index the server writes in the same
 * batch. Each successful mutation increments the auth revision, which tokens carry so a
 * request authorized under older rules is refused with authOldRevision.
 *
 * Passwords arrive already hashed (see password.ts): the server hashes once before proposing,
 * so every member stores identical bytes. Token issuing is the server's; this store only
 * verifies passwords (`authenticate`).
 */
import type { Backend } from "../backend/backend.ts";
import { Errors } from "../base/errors.ts";
import {
  decodeRole,
  decodeUser,
  encodeRole,
  encodeUser,
  type Permission,
  PermissionType,
  type RoleRecord,
  type UserRecord,
} from "./auth_records.ts";
import { checkPasswordHash, verifyPassword } from "./password.ts";
import { compareKeys, type KeyInterval, keyInterval, KeyRangeSet } from "./range_perms.ts";

/** Bucket of the enabled flag and the revision (etcd's names). */
export const AUTH_BUCKET = "auth";
/** Bucket of users by name. */
export const AUTH_USERS_BUCKET = "authUsers";
/** Bucket of roles by name. */
export const AUTH_ROLES_BUCKET = "authRoles";
/** The user that must exist, with the root role, before auth can be enabled. */
export const ROOT_USER = "root";
/** The role that grants every permission, including administration. */
export const ROOT_ROLE = "root";

const ENABLED_KEY = new TextEncoder().encode("authEnabled");
const REVISION_KEY = new TextEncoder().encode("authRevision");
const encoder = new TextEncoder();

/** Who is asking, from their token: the user and the auth revision the token was issued at. */
export interface AuthInfo {
  username: string;
  /**
   * The auth revision the token carries (JWT) or, for simple tokens, the store's current
   * revision when the token was looked up (etcd's simple tokens do that). 0 means none.
   */
  revision: number;
}

/** The operation a permission check is for. */
export type PermissionOp = "read" | "write";

/** How to add a user: either a password hash (from `hashPassword`) or no password. */
export interface UserAddOptions {
  /** PHC string from hashPassword(); required unless `noPassword`. */
  passwordHash?: string;
  /** A user that cannot authenticate with a password (etcd 3.4's no_password option). */
  noPassword?: boolean;
}

/** A user as `userGet` shows it. */
export interface UserInfo {
  name: string;
  roles: string[];
  noPassword: boolean;
}

interface UserPerms {
  root: boolean;
  read: KeyRangeSet;
  write: KeyRangeSet;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return compareKeys(a, b) === 0;
}

function comparePerms(a: Permission, b: Permission): number {
  return compareKeys(a.key, b.key) || compareKeys(a.rangeEnd, b.rangeEnd);
}

function copyPerm(p: Permission): Permission {
  return { permType: p.permType, key: p.key.slice(), rangeEnd: p.rangeEnd.slice() };
}

/** The auth store of one member. */
export class AuthStore {
  #backend: Backend;
  #enabled = false;
  #revision = 0;
  #users = new Map<string, UserRecord>();
  #roles = new Map<string, RoleRecord>();
  /** Merged permissions per user, built on first check, dropped on any change. */
  #perms = new Map<string, UserPerms>();

  /** Opens the store over `backend`, creating its buckets and starting the revision at 1. */
  constructor(backend: Backend) {
    this.#backend = backend;
    this.#load();
  }

  /** True while auth is enabled (requests are checked). */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** The auth revision: incremented by every change of users, roles or the enabled flag. */
  get revision(): number {
    return this.#revision;
  }

  /**
   * Enables auth. Requires the root user with the root role (rootUserNotExist,
   * rootRoleNotExist). Enabling an enabled store does nothing, as in etcd.
   */
  enable(): void {
    if (this.#enabled) return;
    const root = this.#users.get(ROOT_USER);
    if (!root) throw Errors.rootUserNotExist();
    if (!root.roles.includes(ROOT_ROLE)) throw Errors.rootRoleNotExist();
    this.#backend.write.put(AUTH_BUCKET, ENABLED_KEY, Uint8Array.of(1));
    this.#enabled = true;
    this.#perms.clear();
  }

  /** Disables auth (a new revision). Disabling a disabled store does nothing. */
  disable(): void {
    if (!this.#enabled) return;
    this.#backend.write.put(AUTH_BUCKET, ENABLED_KEY, Uint8Array.of(0));
    this.#enabled = false;
    this.#bump();
  }

  /**
   * Verifies a user's password and returns the auth revision to put in the token.
   * authNotEnabled when auth is off; authFailed for an unknown user, a no-password user or a
   * wrong password (one error for all, so callers learn nothing about which).
   */
  async authenticate(username: string, password: string): Promise<number> {
    if (!this.#enabled) throw Errors.authNotEnabled();
    const user = this.#users.get(username);
    if (!user || user.noPassword || user.password.length === 0) throw Errors.authFailed();
    const revision = this.#revision;
    const ok = await verifyPassword(password, new TextDecoder().decode(user.password));
    if (!ok) throw Errors.authFailed();
    return revision;
  }

  /** Adds a user. userEmpty, userAlreadyExist; a malformed password hash is an Error. */
  userAdd(name: string, options: UserAddOptions): void {
    if (name.length === 0) throw Errors.userEmpty();
    if (this.#users.has(name)) throw Errors.userAlreadyExist();
    const noPassword = options.noPassword === true;
    let password = new Uint8Array(0);
    if (!noPassword) {
      if (options.passwordHash === undefined) {
        throw new Error("auth: a user needs a password hash or the no-password option");
      }
      checkPasswordHash(options.passwordHash);
      password = encoder.encode(options.passwordHash);
    }
    this.#putUser({ name, password, roles: [], noPassword });
    this.#bump();
  }

  /** Deletes a user. invalidAuthMgmt for root while enabled; userNotFound. */
  userDelete(name: string): void {
    if (this.#enabled && name === ROOT_USER) throw Errors.invalidAuthMgmt();
    if (!this.#users.has(name)) throw Errors.userNotFound();
    this.#users.delete(name);
    this.#backend.write.delete(AUTH_USERS_BUCKET, encoder.encode(name));
    this.#bump();
  }

  /** Replaces a user's password hash. userNotFound. */
  userChangePassword(name: string, passwordHash: string): void {
    const user = this.#users.get(name);
    if (!user) throw Errors.userNotFound();
    checkPasswordHash(passwordHash);
    this.#putUser({ ...user, password: encoder.encode(passwordHash) });
    this.#bump();
  }

  /**
   * Grants a role to a user. userNotFound; roleNotFound (the root role need not exist as a
   * role entry). Granting a role the user has does nothing.
   */
  userGrantRole(name: string, role: string): void {
    const user = this.#users.get(name);
    if (!user) throw Errors.userNotFound();
    if (role !== ROOT_ROLE && !this.#roles.has(role)) throw Errors.roleNotFound();
    if (user.roles.includes(role)) return;
    this.#putUser({ ...user, roles: [...user.roles, role].sort() });
    this.#bump();
  }

  /** Revokes a role from a user. invalidAuthMgmt for root/root while enabled; userNotFound;
   * roleNotGranted. */
  userRevokeRole(name: string, role: string): void {
    if (this.#enabled && name === ROOT_USER && role === ROOT_ROLE) throw Errors.invalidAuthMgmt();
    const user = this.#users.get(name);
    if (!user) throw Errors.userNotFound();
    if (!user.roles.includes(role)) throw Errors.roleNotGranted();
    this.#putUser({ ...user, roles: user.roles.filter((r) => r !== role) });
    this.#bump();
  }

  /** A user's roles. userNotFound. */
  userGet(name: string): UserInfo {
    const user = this.#users.get(name);
    if (!user) throw Errors.userNotFound();
    return { name, roles: [...user.roles], noPassword: user.noPassword };
  }

  /** Every user name, sorted bytewise (etcd lists the bucket in key order). */
  userList(): string[] {
    return this.#sortedNames(this.#users.keys());
  }

  /** True when the user exists and has the role. */
  hasRole(name: string, role: string): boolean {
    return this.#users.get(name)?.roles.includes(role) ?? false;
  }

  /** Adds a role with no permissions. roleEmpty, roleAlreadyExist. */
  roleAdd(name: string): void {
    if (name.length === 0) throw Errors.roleEmpty();
    if (this.#roles.has(name)) throw Errors.roleAlreadyExist();
    this.#putRole({ name, permissions: [] });
    this.#bump();
  }

  /** A role's permissions, sorted by key. roleNotFound. */
  roleGet(name: string): Permission[] {
    const role = this.#roles.get(name);
    if (!role) throw Errors.roleNotFound();
    return role.permissions.map(copyPerm);
  }

  /** Every role name, sorted bytewise. */
  roleList(): string[] {
    return this.#sortedNames(this.#roles.keys());
  }

  /**
   * Deletes a role and revokes it from every user. invalidAuthMgmt for root while enabled;
   * roleNotFound.
   */
  roleDelete(name: string): void {
    if (this.#enabled && name === ROOT_ROLE) throw Errors.invalidAuthMgmt();
    if (!this.#roles.has(name)) throw Errors.roleNotFound();
    this.#roles.delete(name);
    this.#backend.write.delete(AUTH_ROLES_BUCKET, encoder.encode(name));
    for (const user of this.#users.values()) {
      if (user.roles.includes(name)) {
        this.#putUser({ ...user, roles: user.roles.filter((r) => r !== name) });
      }
    }
    this.#bump();
  }

  /**
   * Grants a permission on `[key, rangeEnd)` to a role; a permission on exactly the same
   * key and range end has its type replaced. roleNotFound.
   */
  roleGrantPermission(name: string, perm: Permission): void {
    const role = this.#roles.get(name);
    if (!role) throw Errors.roleNotFound();
    if (!(perm.permType in PermissionType)) {
      throw new RangeError(`unknown permission type ${perm.permType}`);
    }
    const fresh = copyPerm(perm);
    const permissions = role.permissions.filter((p) => comparePerms(p, fresh) !== 0);
    permissions.push(fresh);
    permissions.sort(comparePerms);
    this.#putRole({ name, permissions });
    this.#bump();
  }

  /** Revokes the permission on exactly `[key, rangeEnd)`. roleNotFound, permissionNotGranted. */
  roleRevokePermission(name: string, key: Uint8Array, rangeEnd: Uint8Array): void {
    const role = this.#roles.get(name);
    if (!role) throw Errors.roleNotFound();
    const permissions = role.permissions.filter(
      (p) => !(sameBytes(p.key, key) && sameBytes(p.rangeEnd, rangeEnd)),
    );
    if (permissions.length === role.permissions.length) throw Errors.permissionNotGranted();
    this.#putRole({ name, permissions });
    this.#bump();
  }

  /**
   * The permission check itself, ignoring whether auth is enabled: may `username` do `op` on
   * every key of `[key, rangeEnd)` (etcd's encoding: empty rangeEnd is one key, "\0" is every
   * key from `key` on)? Unknown users may do nothing; the root role may do everything. An
   * empty range (rangeEnd at or before key) is checked as the single key `key`.
   * Cost: one map lookup and a binary search over the user's merged intervals.
   */
  permitted(username: string, key: Uint8Array, rangeEnd: Uint8Array, op: PermissionOp): boolean {
    let perms = this.#perms.get(username);
    if (!perms) {
      const built = this.#buildPerms(username);
      if (!built) return false;
      perms = built;
    }
    if (perms.root) return true;
    const set = op === "read" ? perms.read : perms.write;
    if (rangeEnd.length === 0) return set.hasKey(key);
    const iv = keyInterval(key, rangeEnd);
    if (!iv) return set.hasKey(key);
    return set.covers(iv.begin, iv.end);
  }

  /** Range (read) check for a request: throws when not permitted (see `#checkOp`). */
  checkRange(info: AuthInfo | undefined, key: Uint8Array, rangeEnd: Uint8Array): void {
    this.#checkOp(info, key, rangeEnd, "read");
  }

  /** Put (write of one key) check for a request. */
  checkPut(info: AuthInfo | undefined, key: Uint8Array): void {
    this.#checkOp(info, key, new Uint8Array(0), "write");
  }

  /** Delete-range (write) check for a request. */
  checkDeleteRange(info: AuthInfo | undefined, key: Uint8Array, rangeEnd: Uint8Array): void {
    this.#checkOp(info, key, rangeEnd, "write");
  }

  /**
   * Administration check (user, role, auth and cluster management) when auth is enabled:
   * userEmpty without a user, userNotFound for an unknown one, permissionDenied unless the
   * user has the root role.
   */
  checkAdmin(info: AuthInfo | undefined): void {
    if (!this.#enabled) return;
    if (!info || info.username === "") throw Errors.userEmpty();
    const user = this.#users.get(info.username);
    if (!user) throw Errors.userNotFound();
    if (!user.roles.includes(ROOT_ROLE)) throw Errors.permissionDenied();
  }

  /** Reloads everything from `backend` (after a snapshot was restored into it). */
  recover(backend: Backend): void {
    this.#backend = backend;
    this.#users = new Map();
    this.#roles = new Map();
    this.#perms.clear();
    this.#load();
  }

  /**
   * etcd's request check: nothing when auth is disabled; userEmpty without a token
   * (revision 0); authOldRevision when the token predates the current rules;
   * permissionDenied when the user is unknown or lacks the permission.
   */
  #checkOp(
    info: AuthInfo | undefined,
    key: Uint8Array,
    rangeEnd: Uint8Array,
    op: PermissionOp,
  ): void {
    if (!this.#enabled) return;
    if (!info || info.revision === 0) throw Errors.userEmpty();
    if (info.revision < this.#revision) throw Errors.authOldRevision();
    if (!this.permitted(info.username, key, rangeEnd, op)) throw Errors.permissionDenied();
  }

  #buildPerms(username: string): UserPerms | undefined {
    const user = this.#users.get(username);
    if (!user) return undefined;
    const read: KeyInterval[] = [];
    const write: KeyInterval[] = [];
    for (const roleName of user.roles) {
      const role = this.#roles.get(roleName);
      if (!role) continue;
      for (const p of role.permissions) {
        const iv = keyInterval(p.key, p.rangeEnd);
        if (!iv) continue;
        if (p.permType !== PermissionType.WRITE) read.push(iv);
        if (p.permType !== PermissionType.READ) write.push(iv);
      }
    }
    const perms: UserPerms = {
      root: user.roles.includes(ROOT_ROLE),
      read: KeyRangeSet.union(read),
      write: KeyRangeSet.union(write),
    };
    this.#perms.set(username, perms);
    return perms;
  }

  #sortedNames(names: Iterable<string>): string[] {
    return [...names].sort((a, b) => compareKeys(encoder.encode(a), encoder.encode(b)));
  }

  #putUser(user: UserRecord): void {
    this.#users.set(user.name, user);
    this.#backend.write.put(AUTH_USERS_BUCKET, encoder.encode(user.name), encodeUser(user));
  }

  #putRole(role: RoleRecord): void {
    this.#roles.set(role.name, role);
    this.#backend.write.put(AUTH_ROLES_BUCKET, encoder.encode(role.name), encodeRole(role));
  }

  /** A new auth revision, persisted; every cached permission set is dropped. */
  #bump(): void {
    this.#revision++;
    this.#perms.clear();
    const rev = new Uint8Array(8);
    new DataView(rev.buffer).setBigUint64(0, BigInt(this.#revision));
    this.#backend.write.put(AUTH_BUCKET, REVISION_KEY, rev);
  }

  #load(): void {
    const tx = this.#backend.write;
    tx.createBucket(AUTH_BUCKET);
    tx.createBucket(AUTH_USERS_BUCKET);
    tx.createBucket(AUTH_ROLES_BUCKET);
    const flag = tx.get(AUTH_BUCKET, ENABLED_KEY);
    this.#enabled = flag !== undefined && flag.length === 1 && flag[0] === 1;
    const rev = tx.get(AUTH_BUCKET, REVISION_KEY);
    if (rev !== undefined) {
      if (rev.length !== 8) throw new Error(`auth revision must be 8 bytes, got ${rev.length}`);
      const v = new DataView(rev.buffer, rev.byteOffset, 8).getBigUint64(0);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`auth revision ${v} out of range`);
      this.#revision = Number(v);
    } else {
      this.#revision = 0;
    }
    loadRecords(tx, AUTH_USERS_BUCKET, decodeUser, "user", this.#users);
    loadRecords(tx, AUTH_ROLES_BUCKET, decodeRole, "role", this.#roles);
    if (this.#revision === 0) this.#bump(); // a fresh store starts at revision 1, as etcd's
  }
}

/**
 * Reads every record of `bucket` into `into` under its name; a record whose name is not its
 * key throws (the bucket was not written by an auth store).
 */
function loadRecords<T extends { name: string }>(
  tx: Backend["write"],
  bucket: string,
  decode: (v: Uint8Array) => T,
  what: string,
  into: Map<string, T>,
): void {
  const decoder = new TextDecoder();
  tx.range(bucket, new Uint8Array(0), undefined, (k, v) => {
    const rec = decode(v);
    if (rec.name !== decoder.decode(k)) {
      throw new Error(
        `auth: ${what} record under ${JSON.stringify(decoder.decode(k))} is named ${
          JSON.stringify(rec.name)
        }`,
      );
    }
    into.set(rec.name, rec);
  });
}
