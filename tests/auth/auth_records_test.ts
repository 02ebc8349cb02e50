import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import {
  decodeRole,
  decodeUser,
  encodeRole,
  encodeUser,
  PermissionType,
  type RoleRecord,
  type UserRecord,
} from "../../lib/auth/auth_records.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("auth records: bytes match etcd's authpb encoding", () => {
  // authpb.User{Name: "root", Roles: ["root"], Options: &UserAddOptions{}}
  const root: UserRecord = {
    name: "root",
    password: new Uint8Array(0),
    roles: ["root"],
    noPassword: false,
  };
  assert.deepEqual(
    [...encodeUser(root)],
    [0x0a, 4, ...enc("root"), 0x1a, 4, ...enc("root"), 0x22, 0],
  );
  // Options{NoPassword: true} is 08 01.
  const np: UserRecord = { name: "u", password: new Uint8Array(0), roles: [], noPassword: true };
  assert.deepEqual([...encodeUser(np)], [0x0a, 1, 0x75, 0x22, 2, 8, 1]);
  // authpb.Role{Name: "r", KeyPermission: [{PermType: READWRITE, Key: "a", RangeEnd: "b"}]}
  const role: RoleRecord = {
    name: "r",
    permissions: [{ permType: PermissionType.READWRITE, key: enc("a"), rangeEnd: enc("b") }],
  };
  assert.deepEqual(
    [...encodeRole(role)],
    [0x0a, 1, 0x72, 0x12, 8, 0x08, 2, 0x12, 1, 0x61, 0x1a, 1, 0x62],
  );
  // READ is proto3's default and is omitted.
  const read: RoleRecord = {
    name: "r",
    permissions: [{ permType: PermissionType.READ, key: enc("a"), rangeEnd: new Uint8Array(0) }],
  };
  assert.deepEqual([...encodeRole(read)], [0x0a, 1, 0x72, 0x12, 3, 0x12, 1, 0x61]);
  assert.deepEqual(decodeRole(encodeRole(read)), read);
  assert.deepEqual(decodeUser(encodeUser(root)), root);
});

Deno.test("auth records: random round trips; damage is an error, not a wrong record", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const name = () =>
    String.fromCodePoint(...Array.from({ length: 1 + rand.int(8) }, () => 0x20 + rand.int(0x3000)));
  for (let i = 0; i < 300; i++) {
    const user: UserRecord = {
      name: name(),
      password: rand.bytes(rand.int(3) * 40),
      roles: Array.from({ length: rand.int(4) }, name).sort(),
      noPassword: rand.chance(0.3),
    };
    assert.deepEqual(decodeUser(encodeUser(user)), user);
    const role: RoleRecord = {
      name: name(),
      permissions: Array.from({ length: rand.int(5) }, () => ({
        permType: rand.int(3) as PermissionType,
        key: rand.bytes(rand.int(10)),
        rangeEnd: rand.bytes(rand.int(3)),
      })),
    };
    assert.deepEqual(decodeRole(encodeRole(role)), role);
    const data = encodeRole(role);
    assert.throws(() => decodeRole(data.subarray(0, data.length - 1)), /role|permission/);
  }
  assert.throws(() => decodeRole(Uint8Array.of(0x12, 3, 0x08, 9, 0)), /unknown permission type/);
  assert.throws(() => decodeUser(Uint8Array.of(0x0a, 1, 0xff)), /UTF-8/);
});

Deno.test("auth records: multi-byte lengths and tags are etcd's varints; damage names the record", () => {
  // authpb.User{Name: "u", Password: 200 bytes, Options: {}}: the length 200 is c8 01
  const password = new Uint8Array(200).fill(7);
  const user: UserRecord = { name: "u", password, roles: [], noPassword: false };
  assert.deepEqual(
    [...encodeUser(user)],
    [0x0a, 1, 0x75, 0x12, 0xc8, 0x01, ...password, 0x22, 0],
  );
  assert.deepEqual(decodeUser(encodeUser(user)), user);
  // authpb.Role{KeyPermission: [{PermType: WRITE, Key: 300 bytes}]}: 300 is ac 02, the
  // permission's 2 + 3 + 300 = 305 bytes are b1 02
  const key = new Uint8Array(300).fill(9);
  const role: RoleRecord = {
    name: "",
    permissions: [{ permType: PermissionType.WRITE, key, rangeEnd: new Uint8Array(0) }],
  };
  assert.deepEqual(
    [...encodeRole(role)],
    [0x12, 0xb1, 0x02, 0x08, 1, 0x12, 0xac, 0x02, ...key],
  );
  assert.deepEqual(decodeRole(encodeRole(role)), role);
  // a field number past 15 takes a two-byte tag; an unknown one is skipped
  assert.deepEqual(decodeUser(Uint8Array.of(0x80, 0x01, 5, 0x0a, 1, 0x75)).name, "u");
  assert.throws(
    () => decodeUser(Uint8Array.of(0x0a)),
    /user record: truncated varint/,
  );
  assert.throws(() => decodeUser(Uint8Array.of(0x0a, 2, 0x75)), /user record: truncated field/);
  assert.throws(
    () => decodeUser(Uint8Array.of(0x22, 1, 0x08)),
    /user options record: truncated varint/,
  );
  assert.throws(() => decodeRole(Uint8Array.of(0x1d, 1, 2)), /role record: truncated field/);
  assert.throws(() => decodeRole(Uint8Array.of(0x1b)), /role record: unsupported wire type 3/);
  // a decoded record keeps none of its input: the caller may reuse the buffer
  const data = encodeUser(user);
  const decoded = decodeUser(data);
  data.fill(0);
  assert.deepEqual(decoded.password, password);
});
