/** etcdctl 3.4 against an in-process `concord serve`: users, roles, auth enable, checks. */
import assert from "node:assert/strict";
import { etcdctl, startTestServer } from "./harness.ts";

Deno.test("etcdctl: users, roles, auth enable, simple tokens and permission checks", async () => {
  const s = await startTestServer();
  const root = ["--user", "root:rootpw"];
  const alice = ["--user", "alice:alicepw"];
  try {
    assert.equal(await s.ok(["user", "add", "root:rootpw"]), "User root created\n");
    assert.equal(
      await s.ok(["user", "grant-role", "root", "root"]),
      "Role root is granted to user root\n",
    );
    assert.equal(await s.ok(["role", "add", "reader"]), "Role reader created\n");
    assert.equal(
      await s.ok(["role", "grant-permission", "reader", "read", "/app/", "--prefix"]),
      "Role reader updated\n",
    );
    await s.ok(["user", "add", "alice:alicepw"]);
    await s.ok(["user", "grant-role", "alice", "reader"]);
    assert.equal(await s.ok(["auth", "enable"]), "Authentication Enabled\n");

    assert.match(await s.fails(["put", "x", "y"]), /etcdserver: user name is empty/);
    assert.equal(await s.ok([...root, "put", "/app/a", "1"]), "OK\n");
    assert.equal(await s.ok([...alice, "get", "/app/a"]), "/app/a\n1\n");
    assert.match(await s.fails([...alice, "put", "/app/b", "2"]), /etcdserver: permission denied/);
    assert.match(await s.fails([...alice, "get", "/other"]), /etcdserver: permission denied/);
    assert.match(
      await s.fails([...alice, "txn"], "\n\nget /app/a\nput /app/c 3\n\n\n"),
      /etcdserver: permission denied/,
    );
    assert.match(await s.fails([...alice, "user", "list"]), /etcdserver: permission denied/);
    assert.match(
      await s.fails(["--user", "alice:wrong", "get", "/app/a"]),
      /etcdserver: authentication failed, invalid user ID or password/,
    );
    const watch = await etcdctl(s.url, [...alice, "watch", "/other"]);
    assert.notEqual(watch.code, 0);
    // etcd's cancel reason is the gRPC status error's text (checked against etcd 3.4)
    assert.equal(
      watch.stderr,
      "watch was canceled (rpc error: code = PermissionDenied desc = etcdserver: permission " +
        "denied)\nError: watch is canceled by the server\n",
    );
    const anon = await etcdctl(s.url, ["watch", "/app/a"]);
    assert.equal(
      anon.stderr,
      "watch was canceled (rpc error: code = InvalidArgument desc = etcdserver: user name is " +
        "empty)\nError: watch is canceled by the server\n",
    );
    assert.match(await s.fails([...alice, "defrag"]), /etcdserver: permission denied/);
    assert.match(await s.ok([...root, "defrag"]), /^Finished defragmenting/);
    assert.equal(await s.ok([...root, "user", "list"]), "alice\nroot\n");
    assert.equal(
      await s.ok([...root, "role", "get", "reader"]),
      "Role reader\nKV Read:\n\t[/app/, /app0) (prefix /app/)\nKV Write:\n",
    );
    assert.equal(await s.ok([...root, "auth", "disable"]), "Authentication Disabled\n");
    assert.equal(await s.ok(["put", "x", "y"]), "OK\n");
  } finally {
    await s.close();
  }
});
