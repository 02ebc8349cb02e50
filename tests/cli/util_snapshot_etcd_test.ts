/**
 * Migration from etcd: a snapshot the real etcd 3.4 saved, read by `concord util snapshot
 * status` (the figures etcd's own etcdctl prints) and restored with `concord util snapshot
 * restore` into a data dir that Concord then serves with the same keys, revisions (the
 * compacted one included), lease, users, roles and enabled auth; damaged files are refused.
 */
import assert from "node:assert/strict";
import { snapshotUtil as util } from "./util_run.ts";
import { startServer } from "../../lib/api/member_server.ts";
import { etcdctl, testConfig } from "../server/harness.ts";
import {
  ALICE_PW,
  COMPACTED,
  ctlOk,
  makeEtcdSnapshot,
  OLD_REV,
  parseGetJson,
  ROOT_PW,
} from "../support/etcd_snapshot.ts";

const root = `root:${ROOT_PW}`;

Deno.test("util snapshot: an etcd 3.4 snapshot, status and restore, served by Concord", async () => {
  const work = await Deno.makeTempDir({ prefix: "concord-etcdsnap-" });
  try {
    const fx = await makeEtcdSnapshot(`${work}/etcd.db`);

    // status: etcd's own figures, in each format
    const json = await util(["status", fx.file, "-w", "json"]);
    assert.equal(json.code, 0, json.err);
    assert.deepEqual(JSON.parse(json.out), fx.status);
    const simple = await util(["status", fx.file]);
    assert.match(
      simple.out,
      new RegExp(`^${fx.status.hash.toString(16)}, ${fx.status.revision}, `),
    );

    // restore with etcdutl's flags
    const dataDir = `${work}/restored`;
    const peer = "http://127.0.0.1:2380";
    const r = await util([
      "restore",
      fx.file,
      "--data-dir",
      dataDir,
      "--name",
      "m1",
      "--initial-cluster",
      `m1=${peer}`,
      "--initial-cluster-token",
      "from-etcd",
      "--initial-advertise-peer-urls",
      peer,
    ]);
    assert.equal(r.code, 0, r.err);

    const s = await startServer(testConfig(dataDir), { log: () => {} });
    try {
      await s.member.ready;
      const url = s.clientUrls[0];
      // auth came over enabled: no user, no answer
      const anon = await etcdctl(url, ["get", "a"]);
      assert.notEqual(anon.code, 0);
      assert.match(anon.stderr, /user name is empty|permission denied/);
      // every key with its revisions, versions and lease; the same store revision
      const all = parseGetJson(
        await ctlOk(url, ["get", "", "--prefix", "-w", "json"], { user: root }),
      );
      assert.equal(all.header.revision, fx.all.header.revision);
      assert.deepEqual(all.kvs, fx.all.kvs);
      assert.ok(all.kvs.some((kv) => kv.lease === fx.lease.id), "keys keep their lease");
      // history after the compaction is kept, before it is compacted away
      const old = parseGetJson(
        await ctlOk(url, ["get", "a", "--rev", String(OLD_REV), "-w", "json"], { user: root }),
      );
      assert.deepEqual(old.kvs, fx.old.kvs);
      const gone = await etcdctl(url, ["--user", root, "get", "a", "--rev", String(COMPACTED - 1)]);
      assert.notEqual(gone.code, 0);
      assert.match(gone.stderr, /required revision has been compacted/);
      // the lease, with its TTL and keys
      const ttl = await ctlOk(url, [
        "lease",
        "timetolive",
        BigInt(fx.lease.id).toString(16),
        "--keys",
      ], { user: root });
      assert.match(ttl, /granted with TTL\(600s\)/);
      assert.match(ttl, /attached keys\(\[(c d|d c)\]\)/);
      // users log in with the passwords they had in etcd (bcrypt hashes), roles hold
      assert.match(await ctlOk(url, ["get", "k100"], { user: `alice:${ALICE_PW}` }), /second/);
      const denied = await etcdctl(url, ["--user", `alice:${ALICE_PW}`, "put", "k1", "x"]);
      assert.match(denied.stderr, /permission denied/);
      const wrong = await etcdctl(url, ["--user", "alice:not-her-password", "get", "k100"]);
      assert.match(wrong.stderr, /authentication failed, invalid user ID or password/);
      assert.match(await ctlOk(url, ["role", "get", "reader"], { user: root }), /\[k, l\)/);
      // and it keeps going from there
      const put = JSON.parse(await ctlOk(url, ["put", "new", "v", "-w", "json"], { user: root }));
      assert.equal(put.header.revision, fx.all.header.revision + 1);
    } finally {
      await s.close();
    }

    // refused: a damaged file, a file without its hash (unless --skip-hash-check)
    const bytes = await Deno.readFile(fx.file);
    const bad = bytes.slice();
    bad[5 * 4096 + 100] ^= 0x20;
    await Deno.writeFile(`${work}/bad.db`, bad);
    const badRestore = await util(["restore", `${work}/bad.db`, "--data-dir", `${work}/bad`]);
    assert.equal(badRestore.code, 1);
    assert.match(badRestore.err, /expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}/);
    assert.deepEqual([...Deno.readDirSync(`${work}/bad`)], [], "nothing left behind");
    await Deno.writeFile(`${work}/bare.db`, bytes.subarray(0, bytes.length - 32));
    const bare = await util(["status", `${work}/bare.db`]);
    assert.equal(bare.code, 1);
    assert.match(bare.err, /snapshot missing hash but --skip-hash-check=false/);
    const skipped = await util(["status", `${work}/bare.db`, "--skip-hash-check", "-w", "json"]);
    assert.equal(skipped.code, 0, skipped.err);
    assert.deepEqual(JSON.parse(skipped.out), fx.status);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
