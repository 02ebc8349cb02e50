/**
 * The persisted form of users and roles: etcd's `authpb.User` and `authpb.Role` messages in
 * protobuf wire format, one per entry in the buckets "authUsers" and "authRoles" keyed by
 * name, as etcd stores them. The one difference is the content of `User.password`: a PHC
 * string naming the hash algorithm and its parameters (see password.ts) where etcd keeps a
 * bcrypt hash, so the algorithm can change without a format change.
 */
import { VarintReader, writeVarint } from "../base/varint.ts";

/** etcd's permission types (authpb.Permission.Type). */
export enum PermissionType {
  READ = 0,
  WRITE = 1,
  READWRITE = 2,
}

/** One key permission of a role: `[key, rangeEnd)`; empty rangeEnd is the single key. */
export interface Permission {
  permType: PermissionType;
  key: Uint8Array;
  /** Empty: just `key`; [0x00]: every key from `key` on; otherwise the exclusive end. */
  rangeEnd: Uint8Array;
}

/** A user as stored. */
export interface UserRecord {
  name: string;
  /** The encoded password hash; empty for a no-password user. */
  password: Uint8Array;
  /** Granted role names, sorted. */
  roles: string[];
  noPassword: boolean;
}

/** A role as stored. */
export interface RoleRecord {
  name: string;
  /** Permissions sorted by key (then range end). */
  permissions: Permission[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Collects one message's bytes; the varints are lib/base/varint.ts's, as every codec's. */
class Writer {
  out: number[] = [];
  #scratch = new Uint8Array(10);
  varint(v: number): void {
    const n = writeVarint(this.#scratch, 0, v);
    for (let i = 0; i < n; i++) this.out.push(this.#scratch[i]);
  }
  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }
  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    for (const b of data) this.out.push(b);
  }
  result(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

type FieldFn = (field: number, wire: number, r: Reader) => void;

/** The fields of one record, read with lib/base/varint.ts's reader; errors name the record. */
class Reader extends VarintReader {
  constructor(data: Uint8Array, what: string) {
    super(data, `${what} record`);
  }
  fail(why: string): never {
    throw new Error(`${this.what}: ${why}`);
  }
  /** A length-delimited field's bytes as a copy: a record keeps none of its input alive. */
  copy(): Uint8Array {
    return this.bytes().slice();
  }
  each(fn: FieldFn): void {
    while (this.at < this.b.length) {
      const tag = this.varint();
      if (!Number.isSafeInteger(tag)) this.fail("varint out of range");
      fn(tag >>> 3, tag & 7, this);
    }
  }
  text(): string {
    const raw = this.bytes();
    try {
      return decoder.decode(raw);
    } catch {
      this.fail("invalid UTF-8 in a name");
    }
  }
}

function expectWire(r: Reader, wire: number, want: number): void {
  if (wire !== want) r.fail(`wire type ${wire}, expected ${want}`);
}

/** Encodes a user as etcd's authpb.User (options always present, as etcd writes them). */
export function encodeUser(user: UserRecord): Uint8Array {
  const w = new Writer();
  if (user.name !== "") w.bytes(1, encoder.encode(user.name));
  if (user.password.length > 0) w.bytes(2, user.password);
  for (const role of user.roles) w.bytes(3, encoder.encode(role));
  w.bytes(4, user.noPassword ? Uint8Array.of(0x08, 0x01) : new Uint8Array(0));
  return w.result();
}

/** Decodes an authpb.User; malformed input throws. */
export function decodeUser(data: Uint8Array): UserRecord {
  const user: UserRecord = { name: "", password: new Uint8Array(0), roles: [], noPassword: false };
  new Reader(data, "user").each((field, wire, r) => {
    if (field === 1) {
      expectWire(r, wire, 2);
      user.name = r.text();
    } else if (field === 2) {
      expectWire(r, wire, 2);
      user.password = r.copy();
    } else if (field === 3) {
      expectWire(r, wire, 2);
      user.roles.push(r.text());
    } else if (field === 4) {
      expectWire(r, wire, 2);
      new Reader(r.bytes(), "user options").each((f, wt, o) => {
        if (f === 1 && wt === 0) user.noPassword = o.varint() !== 0;
        else o.skip(wt);
      });
    } else {
      r.skip(wire);
    }
  });
  return user;
}

function encodePermission(p: Permission): Uint8Array {
  const w = new Writer();
  if (p.permType !== PermissionType.READ) {
    w.tag(1, 0);
    w.varint(p.permType);
  }
  if (p.key.length > 0) w.bytes(2, p.key);
  if (p.rangeEnd.length > 0) w.bytes(3, p.rangeEnd);
  return w.result();
}

function decodePermission(data: Uint8Array): Permission {
  const p: Permission = {
    permType: PermissionType.READ,
    key: new Uint8Array(0),
    rangeEnd: new Uint8Array(0),
  };
  new Reader(data, "permission").each((field, wire, r) => {
    if (field === 1) {
      expectWire(r, wire, 0);
      const t = r.varint();
      if (t > PermissionType.READWRITE) r.fail(`unknown permission type ${t}`);
      p.permType = t;
    } else if (field === 2) {
      expectWire(r, wire, 2);
      p.key = r.copy();
    } else if (field === 3) {
      expectWire(r, wire, 2);
      p.rangeEnd = r.copy();
    } else {
      r.skip(wire);
    }
  });
  return p;
}

/** Encodes a role as etcd's authpb.Role. */
export function encodeRole(role: RoleRecord): Uint8Array {
  const w = new Writer();
  if (role.name !== "") w.bytes(1, encoder.encode(role.name));
  for (const p of role.permissions) w.bytes(2, encodePermission(p));
  return w.result();
}

/** Decodes an authpb.Role; malformed input throws. */
export function decodeRole(data: Uint8Array): RoleRecord {
  const role: RoleRecord = { name: "", permissions: [] };
  new Reader(data, "role").each((field, wire, r) => {
    if (field === 1) {
      expectWire(r, wire, 2);
      role.name = r.text();
    } else if (field === 2) {
      expectWire(r, wire, 2);
      role.permissions.push(decodePermission(r.bytes()));
    } else {
      r.skip(wire);
    }
  });
  return role;
}
