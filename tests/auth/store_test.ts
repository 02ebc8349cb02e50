import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import { Errors, type EtcdErrorDef } from "../../lib/base/errors.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { type Permission, PermissionType } from "../../lib/auth/auth_records.ts";
import { hashPassword } from "../../lib/auth/password.ts";
import { prefixEnd } from "../../lib/auth/range_perms.ts";
import { AUTH_USERS_BUCKET, type AuthInfo, AuthStore } from "../../lib/auth/store.ts";
import { places, simBackend, simPlace } from "../lease/backend_fixture.ts";
import { referencePermitted } from "./reference_perms.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const NONE = new Uint8Array(0);
const ITER = { iterations: 1000 }; // fast hashes for tests; the default is 600,000
const is = (def: EtcdErrorDef) => (e: unknown) => def.is(e);

async function withRoot(backend?: Backend): Promise<AuthStore> {
  const store = new AuthStore(backend ?? await simBackend());
  store.userAdd("root", { passwordHash: await hashPassword("rootpw", ITER) });
  store.userGrantRole("root", "root");
  return store;
}

const perm = (permType: PermissionType, key: string, rangeEnd: string | Uint8Array = NONE) => ({
  permType,
  key: enc(key),
  rangeEnd: typeof rangeEnd === "string" ? enc(rangeEnd) : rangeEnd,
});

Deno.test("auth store: a fresh store is at revision 1, disabled, empty", async () => {
  const store = new AuthStore(await simBackend());
  assert.equal(store.revision, 1);
  assert.equal(store.enabled, false);
  assert.deepEqual(store.userList(), []);
  assert.deepEqual(store.roleList(), []);
  // Disabled: every request passes, even without a user.
  store.checkPut(undefined, enc("k"));
  store.checkAdmin(undefined);
});

Deno.test("auth store: enable needs root with the root role", async () => {
  const store = new AuthStore(await simBackend());
  assert.throws(() => store.enable(), is(Errors.rootUserNotExist));
  store.userAdd("root", { passwordHash: await hashPassword("pw", ITER) });
  assert.throws(() => store.enable(), is(Errors.rootRoleNotExist));
  store.userGrantRole("root", "root"); // the root role need not exist as a role entry
  const rev = store.revision;
  store.enable();
  assert.equal(store.enabled, true);
  assert.equal(store.revision, rev); // enabling does not change the revision (etcd 3.4)
  store.enable(); // no-op
  store.disable();
  assert.equal(store.enabled, false);
  assert.equal(store.revision, rev + 1);
  store.disable(); // no-op
  assert.equal(store.revision, rev + 1);
});

Deno.test("auth store: root rules while enabled", async () => {
  const store = await withRoot();
  store.roleAdd("root");
  store.enable();
  assert.throws(() => store.userDelete("root"), is(Errors.invalidAuthMgmt));
  assert.throws(() => store.roleDelete("root"), is(Errors.invalidAuthMgmt));
  assert.throws(() => store.userRevokeRole("root", "root"), is(Errors.invalidAuthMgmt));
  // The root role grants everything, including administration.
  const info: AuthInfo = { username: "root", revision: store.revision };
  store.checkRange(info, enc("any"), new Uint8Array([0]));
  store.checkPut(info, enc("x"));
  store.checkDeleteRange(info, NONE, new Uint8Array([0]));
  store.checkAdmin(info);
  // Once disabled, root may be changed freely.
  store.disable();
  store.userRevokeRole("root", "root");
  store.roleDelete("root");
  store.userDelete("root");
  assert.deepEqual(store.userList(), []);
});

Deno.test("auth store: user and role errors", async () => {
  const store = await withRoot();
  const h = await hashPassword("pw", ITER);
  assert.throws(() => store.userAdd("", { passwordHash: h }), is(Errors.userEmpty));
  assert.throws(() => store.userAdd("root", { passwordHash: h }), is(Errors.userAlreadyExist));
  assert.throws(() => store.userAdd("u", {}), /password hash/);
  assert.throws(() => store.userAdd("u", { passwordHash: "plain" }), /PHC/);
  assert.throws(() => store.userDelete("nobody"), is(Errors.userNotFound));
  assert.throws(() => store.userGet("nobody"), is(Errors.userNotFound));
  assert.throws(() => store.userChangePassword("nobody", h), is(Errors.userNotFound));
  assert.throws(() => store.userGrantRole("nobody", "r"), is(Errors.userNotFound));
  assert.throws(() => store.userGrantRole("root", "missing"), is(Errors.roleNotFound));
  assert.throws(() => store.userRevokeRole("nobody", "r"), is(Errors.userNotFound));
  assert.throws(() => store.userRevokeRole("root", "r"), is(Errors.roleNotGranted));
  assert.throws(() => store.roleAdd(""), is(Errors.roleEmpty));
  store.roleAdd("r");
  assert.throws(() => store.roleAdd("r"), is(Errors.roleAlreadyExist));
  assert.throws(() => store.roleGet("missing"), is(Errors.roleNotFound));
  assert.throws(() => store.roleDelete("missing"), is(Errors.roleNotFound));
  assert.throws(
    () => store.roleGrantPermission("missing", perm(PermissionType.READ, "k")),
    is(Errors.roleNotFound),
  );
  assert.throws(
    () => store.roleRevokePermission("missing", enc("k"), NONE),
    is(Errors.roleNotFound),
  );
  assert.throws(
    () => store.roleRevokePermission("r", enc("k"), NONE),
    is(Errors.permissionNotGranted),
  );
  store.roleGrantPermission("r", perm(PermissionType.READ, "k", "l"));
  assert.throws(
    () => store.roleRevokePermission("r", enc("k"), NONE), // same key, other range end
    is(Errors.permissionNotGranted),
  );
  // Failed calls changed nothing.
  const rev = store.revision;
  assert.throws(() => store.userAdd("root", { passwordHash: h }), is(Errors.userAlreadyExist));
  assert.equal(store.revision, rev);
});

Deno.test("auth store: revisions, grants, role deletion revokes from users", async () => {
  const store = await withRoot();
  const r0 = store.revision;
  store.roleAdd("a");
  store.roleAdd("b");
  store.userAdd("u", { noPassword: true });
  store.userGrantRole("u", "b");
  store.userGrantRole("u", "a");
  assert.equal(store.revision, r0 + 5);
  store.userGrantRole("u", "a"); // already granted: no change
  assert.equal(store.revision, r0 + 5);
  assert.deepEqual(store.userGet("u"), { name: "u", roles: ["a", "b"], noPassword: true });
  assert.ok(store.hasRole("u", "a") && !store.hasRole("u", "root") && !store.hasRole("x", "a"));
  store.roleGrantPermission("a", perm(PermissionType.READ, "k"));
  store.roleGrantPermission("a", perm(PermissionType.WRITE, "j"));
  store.roleGrantPermission("a", perm(PermissionType.READWRITE, "k")); // replaces the type
  assert.deepEqual(store.roleGet("a"), [
    perm(PermissionType.WRITE, "j"),
    perm(PermissionType.READWRITE, "k"),
  ]);
  store.roleDelete("a");
  assert.deepEqual(store.userGet("u").roles, ["b"]);
  assert.deepEqual(store.roleList(), ["b"]);
  assert.deepEqual(store.userList(), ["root", "u"]);
  store.userRevokeRole("u", "b");
  assert.deepEqual(store.userGet("u").roles, []);
});

Deno.test("auth store: the permission matrix", async () => {
  const store = await withRoot();
  store.roleAdd("readKey");
  store.roleGrantPermission("readKey", perm(PermissionType.READ, "k1"));
  store.roleAdd("writeRange");
  store.roleGrantPermission("writeRange", perm(PermissionType.WRITE, "r/a", "r/m"));
  store.roleAdd("rwPrefix");
  store.roleGrantPermission(
    "rwPrefix",
    perm(PermissionType.READWRITE, "p/", prefixEnd(enc("p/"))),
  );
  store.roleAdd("readFrom");
  store.roleGrantPermission("readFrom", perm(PermissionType.READ, "z", new Uint8Array([0])));
  const users: Record<string, string[]> = {
    u1: ["readKey"],
    u2: ["writeRange", "rwPrefix"],
    u3: ["readKey", "writeRange", "rwPrefix", "readFrom"],
    u4: [],
  };
  for (const [name, roles] of Object.entries(users)) {
    store.userAdd(name, { noPassword: true });
    for (const r of roles) store.userGrantRole(name, r);
  }
  store.enable();
  const rev = store.revision;
  const all = new Uint8Array([0]);
  type Case = [string, "read" | "write", string, string | Uint8Array, string[]];
  const cases: Case[] = [
    ["key read", "read", "k1", "", ["u1", "u3"]],
    ["key write", "write", "k1", "", []],
    ["other key read", "read", "k2", "", []],
    ["range read of one key", "read", "k1", "k1\0", ["u1", "u3"]],
    ["range read past the key", "read", "k1", "k2", []],
    ["range write inside", "write", "r/b", "r/c", ["u2", "u3"]],
    ["range write exact", "write", "r/a", "r/m", ["u2", "u3"]],
    ["range write over the end", "write", "r/a", "r/n", []],
    ["range write key at end", "write", "r/m", "", []],
    ["range read", "read", "r/b", "r/c", []],
    ["prefix read", "read", "p/", prefixEnd(enc("p/")), ["u2", "u3"]],
    ["prefix write", "write", "p/x", "", ["u2", "u3"]],
    ["sub-prefix write", "write", "p/a/", prefixEnd(enc("p/a/")), ["u2", "u3"]],
    ["wider prefix read", "read", "p", prefixEnd(enc("p")), []],
    ["from-key read", "read", "zz", all, ["u3"]],
    ["from-key read before", "read", "y", all, []],
    ["from-key write", "write", "zz", "", []],
  ];
  for (const [what, op, key, end, allowed] of cases) {
    const rangeEnd = typeof end === "string" ? enc(end) : end;
    for (const user of ["u1", "u2", "u3", "u4", "root", "ghost"]) {
      const want = user === "root" || allowed.includes(user);
      assert.equal(store.permitted(user, enc(key), rangeEnd, op), want, `${what}: ${user}`);
      const info = { username: user, revision: rev };
      const check = () =>
        op === "read"
          ? store.checkRange(info, enc(key), rangeEnd)
          : rangeEnd.length === 0
          ? store.checkPut(info, enc(key))
          : store.checkDeleteRange(info, enc(key), rangeEnd);
      if (want) check();
      else assert.throws(check, is(Errors.permissionDenied), `${what}: ${user}`);
    }
  }
  // Admin needs the root role.
  assert.throws(
    () => store.checkAdmin({ username: "u3", revision: rev }),
    is(Errors.permissionDenied),
  );
  assert.throws(
    () => store.checkAdmin({ username: "ghost", revision: rev }),
    is(Errors.userNotFound),
  );
  assert.throws(() => store.checkAdmin(undefined), is(Errors.userEmpty));
  // Tokens: none, and one older than the current rules.
  assert.throws(() => store.checkPut(undefined, enc("p/x")), is(Errors.userEmpty));
  assert.throws(
    () => store.checkPut({ username: "u2", revision: 0 }, enc("p/x")),
    is(Errors.userEmpty),
  );
  store.roleRevokePermission("rwPrefix", enc("p/"), prefixEnd(enc("p/")));
  assert.throws(
    () => store.checkPut({ username: "u2", revision: rev }, enc("p/x")),
    is(Errors.authOldRevision),
  );
  // The change took effect at once (the merged sets were rebuilt).
  assert.throws(
    () => store.checkPut({ username: "u2", revision: store.revision }, enc("p/x")),
    is(Errors.permissionDenied),
  );
});

Deno.test("auth store: authenticate verifies passwords", async () => {
  const store = await withRoot();
  store.userAdd("alice", { passwordHash: await hashPassword("wonderland", ITER) });
  store.userAdd("robot", { noPassword: true });
  await assert.rejects(() => store.authenticate("alice", "wonderland"), is(Errors.authNotEnabled));
  store.enable();
  assert.equal(await store.authenticate("alice", "wonderland"), store.revision);
  await assert.rejects(() => store.authenticate("alice", "Wonderland"), is(Errors.authFailed));
  await assert.rejects(() => store.authenticate("bob", "wonderland"), is(Errors.authFailed));
  await assert.rejects(() => store.authenticate("robot", ""), is(Errors.authFailed));
  store.userChangePassword("alice", await hashPassword("looking-glass", ITER));
  await assert.rejects(() => store.authenticate("alice", "wonderland"), is(Errors.authFailed));
  assert.equal(await store.authenticate("alice", "looking-glass"), store.revision);
  assert.equal(await store.authenticate("root", "rootpw"), store.revision);
});

async function populate(backend: Backend): Promise<AuthStore> {
  const a = await withRoot(backend);
  a.roleAdd("reader");
  a.roleGrantPermission("reader", perm(PermissionType.READ, "a", "c"));
  a.userAdd("u", { passwordHash: await hashPassword("pw", ITER) });
  a.userGrantRole("u", "reader");
  a.enable();
  return a;
}

for (const { kind, make } of places) {
  Deno.test(`auth store (${kind} disk): everything survives reopen`, async () => {
    const place = await make();
    try {
      const backendA = await place.open();
      const a = await populate(backendA);
      const rev = a.revision;
      await backendA.close();

      const backendB = await place.open();
      const b = new AuthStore(backendB);
      assert.equal(b.enabled, true);
      assert.equal(b.revision, rev);
      assert.deepEqual(b.userList(), ["root", "u"]);
      assert.deepEqual(b.userGet("u").roles, ["reader"]);
      assert.deepEqual(b.roleGet("reader"), [perm(PermissionType.READ, "a", "c")]);
      assert.equal(await b.authenticate("u", "pw"), rev);
      await assert.rejects(() => b.authenticate("u", "wrong"), is(Errors.authFailed));
      b.checkRange({ username: "u", revision: rev }, enc("a"), enc("c"));
      assert.throws(
        () => b.checkPut({ username: "u", revision: rev }, enc("a")),
        is(Errors.permissionDenied),
      );
      assert.throws(() => b.userDelete("root"), is(Errors.invalidAuthMgmt));
      b.disable();
      b.roleAdd("x");
      await backendB.close();

      const backendC = await place.open();
      const c = new AuthStore(backendC);
      assert.equal(c.enabled, false);
      assert.equal(c.revision, rev + 2);
      assert.deepEqual(c.roleList(), ["reader", "x"]);
      await backendC.close();
    } finally {
      await place.cleanup();
    }
  });
}

Deno.test("auth store: uncommitted changes are lost in a crash; recover reloads", async () => {
  const place = simPlace();
  const backendA = await place.open();
  const a = await populate(backendA);
  const rev = a.revision;
  await backendA.commit();
  a.disable();
  a.userDelete("u");
  assert.equal(backendA.read.get(AUTH_USERS_BUCKET, enc("u")), undefined);
  place.sim!.processCrash(); // kill -9 before the batch was committed

  const backendB = await place.open();
  const b = new AuthStore(backendB);
  assert.equal(b.enabled, true);
  assert.equal(b.revision, rev);
  assert.deepEqual(b.userList(), ["root", "u"]);
  await backendB.close();

  // recover() reloads from another backend (as after a snapshot restore).
  const other = await simBackend();
  const c = new AuthStore(other);
  c.roleAdd("gone");
  const backendC = await place.open();
  c.recover(backendC);
  assert.equal(c.revision, rev);
  assert.equal(c.enabled, true);
  assert.deepEqual(c.roleList(), ["reader"]);
  c.checkRange({ username: "u", revision: rev }, enc("b"), NONE);
  await backendC.close();
  await other.close();
});

Deno.test("auth store: randomized permission checks equal the reference", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const store = new AuthStore(await simBackend());
  const alphabet = [0x00, 0x61, 0x62, 0xff];
  const key = () => Uint8Array.from({ length: rand.int(4) }, () => rand.pick(alphabet));
  const end = (): Uint8Array => {
    const r = rand.int(4);
    return r === 0 ? NONE : r === 1 ? new Uint8Array([0]) : key();
  };
  const roles = Array.from({ length: 8 }, (_, i) => `r${i}`);
  const users = Array.from({ length: 5 }, (_, i) => `u${i}`);
  const rolePerms = new Map<string, Permission[]>(roles.map((r) => [r, []]));
  const userRoles = new Map<string, Set<string>>(users.map((u) => [u, new Set()]));
  for (const r of roles) store.roleAdd(r);
  for (const u of users) store.userAdd(u, { noPassword: true });
  const same = (a: Uint8Array, b: Uint8Array) =>
    a.length === b.length && a.every((x, i) => x === b[i]);
  const outcomes = { yes: 0, no: 0 };
  for (let step = 0; step < 1500; step++) {
    const r = rand.int(10);
    if (r < 2) {
      const role = rand.pick(roles);
      const p: Permission = { permType: rand.int(3), key: key(), rangeEnd: end() };
      store.roleGrantPermission(role, p);
      const list = rolePerms.get(role)!.filter((q) =>
        !(same(q.key, p.key) && same(q.rangeEnd, p.rangeEnd))
      );
      list.push(p);
      rolePerms.set(role, list);
    } else if (r < 4) {
      const role = rand.pick(roles);
      const list = rolePerms.get(role)!;
      if (list.length > 0) {
        const p = rand.pick(list);
        store.roleRevokePermission(role, p.key, p.rangeEnd);
        rolePerms.set(role, list.filter((q) => q !== p));
      }
    } else if (r < 5) {
      const u = rand.pick(users);
      const role = rand.pick(roles);
      if (userRoles.get(u)!.has(role)) {
        store.userRevokeRole(u, role);
        userRoles.get(u)!.delete(role);
      } else {
        store.userGrantRole(u, role);
        userRoles.get(u)!.add(role);
      }
    } else {
      const u = rand.pick(users);
      const k = key();
      const e = end();
      const op = rand.chance(0.5) ? "read" : "write";
      const perms = [...userRoles.get(u)!].flatMap((role) => rolePerms.get(role)!);
      const want = referencePermitted(perms, k, e, op);
      assert.equal(store.permitted(u, k, e, op), want, `seed=${seed} step ${step}`);
      outcomes[want ? "yes" : "no"]++;
    }
  }
  assert.ok(outcomes.yes > 50 && outcomes.no > 50, JSON.stringify(outcomes));
});

Deno.test("auth store: a damaged or misfiled record stops the open instead of losing data", async () => {
  const backend = await simBackend();
  const store = new AuthStore(backend);
  store.userAdd("a", { noPassword: true });
  const good = backend.read.get(AUTH_USERS_BUCKET, enc("a"))!;
  backend.write.put(AUTH_USERS_BUCKET, enc("b"), good.slice());
  assert.throws(() => new AuthStore(backend), /user record under "b" is named "a"/);
  backend.write.put(AUTH_USERS_BUCKET, enc("b"), good.slice(0, 2)); // name field cut short
  assert.throws(() => new AuthStore(backend), /user record: truncated field/);
  await backend.close();
});
