/**
 * The persisted form of users and roles: etcd's `authpb.User` and `authpb.Role` messages in
 * protobuf wire format, one per entry in the buckets "authUsers" and "authRoles" keyed by
 * name, as etcd stores them. The one difference is the content of `User.password`: a PHC
 * string naming the hash algorithm and its parameters (see password.ts) where etcd keeps a
 * bcrypt hash, so the algorithm can change without a format change.
 */

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

class Writer {
  out: number[] = [];
  varint(v: number): void {
    while (v >= 0x80) {
      this.out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.out.push(v);
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

class Reader {
  pos = 0;
  constructor(readonly data: Uint8Array, readonly what: string) {}
  fail(why: string): never {
    throw new Error(`${this.what} record: ${why}`);
  }
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.data.length) this.fail("truncated varint");
      const b = this.data[this.pos++];
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) this.fail("varint out of range");
        return result;
      }
      mul *= 0x80;
    }
    this.fail("varint too long");
  }
  bytes(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.data.length) this.fail("truncated field");
    const out = this.data.slice(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 2) this.bytes();
    else if (wire === 1) this.pos += 8;
    else if (wire === 5) this.pos += 4;
    else this.fail(`unsupported wire type ${wire}`);
    if (this.pos > this.data.length) this.fail("truncated field");
  }
  each(fn: FieldFn): void {
    while (this.pos < this.data.length) {
      const tag = this.varint();
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
      user.password = r.bytes();
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
      p.key = r.bytes();
    } else if (field === 3) {
      expectWire(r, wire, 2);
      p.rangeEnd = r.bytes();
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
