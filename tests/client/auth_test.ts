import assert from "node:assert/strict";
import { type Client, Errors, type EtcdError, GrpcCode, text } from "../../lib/client/mod.ts";
import { onEveryTarget, type Target } from "./targets.ts";

/** Whether auth is on, where the server has AuthStatus (etcd 3.5+, Concord); 3.4 refuses it. */
async function authEnabled(t: Target, c: Client): Promise<boolean | "unknown"> {
  if (t.name.startsWith("etcd")) {
    await assert.rejects(
      c.auth.status(),
      (e) => (e as EtcdError).code === GrpcCode.Unimplemented,
    );
    return "unknown";
  }
  return (await c.auth.status()).enabled;
}

Deno.test("auth: users, roles, permissions; the token is fetched and refreshed", async () => {
  await onEveryTarget(async (t) => {
    const admin = t.client();
    await admin.auth.userAdd("root", "rootpw");
    await admin.auth.userGrantRole("root", "root");
    await admin.auth.roleAdd("ok-writer");
    await admin.auth.roleGrantPermission("ok-writer", "readwrite", "ok/", { prefix: true });
    await admin.auth.userAdd("u", "upw");
    await admin.auth.userGrantRole("u", "ok-writer");
    await admin.auth.userAdd("certonly", "", { noPassword: true });
    await assert.rejects(admin.auth.userAdd("u", "x"), (e) => Errors.userAlreadyExist.is(e));
    assert.deepEqual((await admin.auth.userList()).users.sort(), ["certonly", "root", "u"]);
    assert.deepEqual((await admin.auth.userGet("u")).roles, ["ok-writer"]);
    const perm = (await admin.auth.roleGet("ok-writer")).perm[0];
    assert.equal(text(perm.key), "ok/");
    assert.equal(text(perm.rangeEnd), "ok0");
    assert.notEqual(await authEnabled(t, admin), true);
    await admin.auth.enable();

    const root = t.client({ username: "root", password: "rootpw" });
    const u = t.client({ username: "u", password: "upw" });
    assert.notEqual(await authEnabled(t, root), false);
    await u.put("ok/1", "a");
    assert.equal(await u.getText("ok/1"), "a");
    await assert.rejects(u.put("other", "a"), (e) => Errors.permissionDenied.is(e));
    await assert.rejects(admin.put("ok/1", "b"), (e) => Errors.userEmpty.is(e));
    const bad = t.client({ username: "u", password: "wrong" });
    await assert.rejects(bad.put("ok/1", "b"), (e) => Errors.authFailed.is(e));

    // a permission change takes effect with the same token (etcd checks permissions, and
    // the auth revision, at request time)
    await root.auth.roleAdd("extra");
    await root.auth.userGrantRole("u", "extra");
    await u.put("ok/2", "b");
    assert.equal(u.tokensFetched, 1);
    // disabling auth drops every token: after enabling again the client gets a new one
    await root.auth.disable();
    await admin.auth.enable();
    // five calls at once with the stale token: one new token for all
    await Promise.all([1, 2, 3, 4, 5].map(() => u.put("ok/3", "c")));
    assert.equal(u.tokensFetched, 2);
    assert.equal(await root.getText("ok/3"), "c");

    await root.auth.userRevokeRole("u", "extra");
    await root.auth.roleRevokePermission("ok-writer", "ok/", { prefix: true });
    await assert.rejects(u.put("ok/4", "d"), (e) => Errors.permissionDenied.is(e));
    await root.auth.userChangePassword("u", "new");
    const u2 = t.client({ username: "u", password: "new" });
    assert.deepEqual((await u2.auth.userGet("u")).roles, ["ok-writer"]);
    await root.auth.roleDelete("extra");
    assert.deepEqual((await root.auth.roleList()).roles, ["ok-writer"]);
    await root.auth.userDelete("certonly");
    await root.auth.disable();
    assert.notEqual(await authEnabled(t, admin), true);
  });
});
