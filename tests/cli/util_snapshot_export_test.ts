/**
 * Leaving Concord: `concord util snapshot export` writes an etcd snapshot that the real
 * etcdctl 3.4 checks (`snapshot status`) and restores (`snapshot restore`), and the etcd
 * started on the restored dir serves the same keys and revisions. Two paths: data that came
 * from etcd (etcd → Concord → etcd, compared with what the first etcd served, logins
 * included) and data written in Concord (from a Concord snapshot file).
 */
import assert from "node:assert/strict";
import { snapshotUtil as util } from "./util_run.ts";
import { etcdctl, startTestServer } from "../server/harness.ts";
import {
  ALICE_PW,
  COMPACTED,
  ctlOk,
  etcdSnapshotStatus as etcdStatus,
  makeEtcdSnapshot,
  OLD_REV,
  parseGetJson,
  restoreAndStartEtcd,
  ROOT_PW,
} from "../support/etcd_snapshot.ts";

Deno.test("util snapshot export: etcd -> Concord -> etcd serves what the first etcd did", async () => {
  const work = await Deno.makeTempDir({ prefix: "concord-export-" });
  try {
    const fx = await makeEtcdSnapshot(`${work}/etcd.db`);
    const restored = await util(["restore", fx.file, "--data-dir", `${work}/concord`]);
    assert.equal(restored.code, 0, restored.err);
    const out = `${work}/back.db`;
    const ex = await util(["export", "--data-dir", `${work}/concord`, out]);
    assert.equal(ex.code, 0, ex.err);
    assert.equal(ex.err, "", "etcd's users keep bcrypt hashes: no warning");
    // etcd's etcdctl checks the file (bbolt's consistency check) and reads its revision
    const st = await etcdStatus(out);
    assert.equal(st.revision, fx.status.revision);
    // our status of the exported file is etcd's, figure for figure
    const ours = await util(["status", out, "-w", "json"]);
    assert.deepEqual(JSON.parse(ours.out), st);
    // an existing output file is not overwritten
    const already = await util(["export", fx.file, `${work}/twice.db`]);
    assert.equal(already.code, 1);
    assert.match(already.err, /is already an etcd snapshot/);
    const again = await util(["export", "--data-dir", `${work}/concord`, out]);
    assert.equal(again.code, 1);
    assert.match(again.err, /file exists/);

    const etcd = await restoreAndStartEtcd(out, `${work}/etcd-again`);
    try {
      const root = `root:${ROOT_PW}`;
      const all = parseGetJson(
        await ctlOk(etcd.url, ["get", "", "--prefix", "-w", "json"], { user: root }),
      );
      assert.equal(all.header.revision, fx.all.header.revision);
      assert.deepEqual(all.kvs, fx.all.kvs);
      const old = parseGetJson(
        await ctlOk(etcd.url, ["get", "a", "--rev", String(OLD_REV), "-w", "json"], { user: root }),
      );
      assert.deepEqual(old.kvs, fx.old.kvs);
      const gone = await etcdctl(etcd.url, [
        "--user",
        root,
        "get",
        "a",
        "--rev",
        String(COMPACTED - 1),
      ]);
      assert.match(gone.stderr, /required revision has been compacted/);
      const ttl = await ctlOk(etcd.url, [
        "lease",
        "timetolive",
        BigInt(fx.lease.id).toString(16),
        "--keys",
      ], { user: root });
      assert.match(ttl, /granted with TTL\(600s\)/);
      assert.match(ttl, /attached keys\(\[(c d|d c)\]\)/);
      assert.match(await ctlOk(etcd.url, ["get", "k100"], { user: `alice:${ALICE_PW}` }), /second/);
      const denied = await etcdctl(etcd.url, ["--user", `alice:${ALICE_PW}`, "put", "k1", "x"]);
      assert.match(denied.stderr, /permission denied/);
    } finally {
      await etcd.stop();
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("util snapshot export: a Concord snapshot, restored and served by etcd 3.4", async () => {
  const work = await Deno.makeTempDir({ prefix: "concord-export-" });
  try {
    const s = await startTestServer();
    const file = `${work}/concord.db`;
    let before;
    let old;
    let leaseHex: string;
    try {
      await s.ok(["put", "a", "1"]);
      await s.ok(["put", "b", "2"]);
      await s.ok(["put", "a", "11"]);
      await s.ok(["del", "b"]);
      const puts = Array.from({ length: 120 }, (_, i) => `put t${i} ${"v".repeat(i + 1)}`).join(
        "\n",
      );
      await s.ok(["txn"], `\n${puts}\n\n\n`);
      await s.ok(["put", "big", "z".repeat(20_000)]);
      leaseHex = /lease ([0-9a-f]+) granted/.exec(await s.ok(["lease", "grant", "900"]))![1];
      await s.ok(["put", "leased", "x", `--lease=${leaseHex}`]);
      await s.ok(["compact", "3"]);
      await s.ok(["put", "a", "111"]);
      await s.ok(["user", "add", "bob:bobs-pw"]);
      before = parseGetJson(await s.ok(["get", "", "--prefix", "-w", "json"]));
      old = parseGetJson(await s.ok(["get", "a", "--rev", "5", "-w", "json"]));
      await s.ok(["snapshot", "save", file]);
      // a running member's data dir is refused (its page file is locked)
      const locked = await util(["export", "--data-dir", s.dir, `${work}/locked.db`]);
      assert.equal(locked.code, 1);
      assert.match(locked.err, /lock/i);
    } finally {
      await s.close();
    }
    const out = `${work}/etcd.db`;
    const ex = await util(["export", file, out]);
    assert.equal(ex.code, 0, ex.err);
    assert.match(ex.out, /as an etcd snapshot to .*etcd\.db/);
    assert.match(ex.err, /user "bob" has a password set in Concord \(PBKDF2\)/);
    assert.equal((await etcdStatus(out)).revision, before.header.revision);

    const etcd = await restoreAndStartEtcd(out, `${work}/etcd-dir`);
    try {
      const all = parseGetJson(await ctlOk(etcd.url, ["get", "", "--prefix", "-w", "json"]));
      assert.equal(all.header.revision, before.header.revision);
      assert.deepEqual(all.kvs, before.kvs);
      const got = parseGetJson(await ctlOk(etcd.url, ["get", "a", "--rev", "5", "-w", "json"]));
      assert.deepEqual(got.kvs, old.kvs);
      const ttl = await ctlOk(etcd.url, ["lease", "timetolive", leaseHex, "--keys"]);
      assert.match(ttl, /granted with TTL\(900s\)/);
      assert.match(ttl, /attached keys\(\[leased\]\)/);
      assert.equal(await ctlOk(etcd.url, ["user", "list"]), "bob\n");
      // and etcd takes writes on from the next revision
      const put = JSON.parse(await ctlOk(etcd.url, ["put", "n", "1", "-w", "json"]));
      assert.equal(put.header.revision, before.header.revision + 1);
    } finally {
      await etcd.stop();
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
