/** etcdctl 3.4 against an in-process `concord serve`: leases and maintenance. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { etcdctl, startTestServer, waitFor } from "./harness.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";
import { openBackend } from "../../lib/backend/open.ts";
import { MvccStore } from "../../lib/mvcc/kv_store.ts";
import { applyRange } from "../../lib/mvcc/applier.ts";

Deno.test("etcdctl: lease grant, keep-alive, timetolive --keys, list, revoke, expiry", async () => {
  const s = await startTestServer();
  try {
    const granted = await s.ok(["lease", "grant", "60"]);
    const m = /^lease ([0-9a-f]+) granted with TTL\(60s\)\n$/.exec(granted);
    assert.ok(m, granted);
    const id = m[1];
    await s.ok(["put", "lk1", "v", "--lease", id]);
    await s.ok(["put", "lk2", "v", "--lease", id]);
    await s.ok(["put", "plain", "v"]);
    assert.equal(
      await s.ok(["lease", "keep-alive", "--once", id]),
      `lease ${id} keepalived with TTL(60)\n`,
    );
    assert.match(
      await s.ok(["lease", "timetolive", "--keys", id]),
      new RegExp(
        `^lease ${id} granted with TTL\\(60s\\), remaining\\((59|60)s\\), attached keys\\(\\[lk1 lk2\\]\\)\n$`,
      ),
    );
    assert.equal(await s.ok(["lease", "list"]), `found 1 leases\n${id}\n`);
    assert.equal(await s.ok(["lease", "revoke", id]), `lease ${id} revoked\n`);
    assert.equal(await s.ok(["get", "lk", "--prefix"]), "");
    assert.equal(await s.ok(["get", "plain"]), "plain\nv\n");
    assert.equal(await s.ok(["lease", "timetolive", id]), `lease ${id} already expired\n`);
    assert.equal(await s.ok(["lease", "list"]), "found 0 leases\n");
    assert.match(
      await s.fails(["lease", "keep-alive", "--once", id]),
      /etcdserver: requested lease not found/,
    );
    assert.match(await s.fails(["lease", "revoke", id]), /etcdserver: requested lease not found/);

    // expiry: the leader's lessor finds the lease expired and proposes its revocation
    // (the minimum TTL with 100 ms heartbeats and a 1 s election timeout is 2 s)
    const short = /^lease ([0-9a-f]+) granted/.exec(await s.ok(["lease", "grant", "1"]))![1];
    await s.ok(["put", "ephemeral", "v", "--lease", short]);
    assert.equal(await s.ok(["get", "ephemeral"]), "ephemeral\nv\n");
    await waitFor("the lease to expire", async () => (await s.ok(["get", "ephemeral"])) === "");
    assert.equal(await s.ok(["lease", "list"]), "found 0 leases\n");
  } finally {
    await s.close();
  }
});

Deno.test("etcdctl: compaction, defrag, endpoint status/health/hashkv, member list", async () => {
  const s = await startTestServer();
  try {
    for (let i = 0; i < 20; i++) await s.ok(["put", `k${i % 4}`, `v${i}`]);
    assert.equal(await s.ok(["compaction", "15", "--physical"]), "compacted revision 15\n");
    const hashBefore = await s.ok(["endpoint", "hashkv", "-w", "json"]);
    assert.match(await s.ok(["defrag"]), /^Finished defragmenting etcd member\[/);
    const hashAfter = await s.ok(["endpoint", "hashkv", "-w", "json"]);
    assert.equal(
      /"hash":(\d+)/.exec(hashAfter)![1],
      /"hash":(\d+)/.exec(hashBefore)![1],
      "defrag changes no data",
    );
    assert.equal(Number(/"compact_revision":(\d+)/.exec(hashAfter)![1]), 15);
    assert.equal(await s.ok(["get", "k3"]), "k3\nv19\n");

    const mem = s.server.member;
    const status = await s.ok(["endpoint", "status", "-w", "json"]);
    assert.equal(BigInt(/"leader":(\d+)/.exec(status)![1]), mem.id);
    assert.equal(BigInt(/"member_id":(\d+)/.exec(status)![1]), mem.id);
    assert.equal(Number(/"revision":(\d+)/.exec(status)![1]), 21);
    assert.equal(Number(/"raftTerm":(\d+)/.exec(status)![1]), mem.term);
    assert.ok(Number(/"raftIndex":(\d+)/.exec(status)![1]) >= 22);
    assert.ok(Number(/"dbSize":(\d+)/.exec(status)![1]) > 0);
    assert.match(status, /"version":"3\.5\.0"/);

    // etcdctl 3.4 prints the health line on stderr
    const health = await etcdctl(s.url, ["endpoint", "health"]);
    assert.equal(health.code, 0);
    assert.match(health.stderr, /is healthy: successfully committed proposal/);
    const res = await fetch(`${s.url}/health`);
    assert.deepEqual(await res.json(), { health: "true" });

    const members = await s.ok(["member", "list"]);
    assert.equal(
      members,
      `${mem.id.toString(16)}, started, t, http://localhost:2380, http://localhost:2379, false\n`,
    );
    assert.equal(await s.ok(["alarm", "list"]), "");
    const self = mem.id.toString(16);
    assert.equal(
      await s.ok(["move-leader", self]),
      `Leadership transferred from ${self} to ${self}\n`,
    );
    assert.match(await s.fails(["move-leader", "1234"]), /etcdserver: bad leader transferee/);
  } finally {
    await s.close();
  }
});

Deno.test("etcdctl: snapshot save streams the page file with its SHA-256 appended", async () => {
  const s = await startTestServer();
  const file = `${s.dir}/snap.db`;
  try {
    for (let i = 0; i < 50; i++) await s.ok(["put", `s${i}`, "x".repeat(100)]);
    assert.match(await s.ok(["snapshot", "save", file]), /Snapshot saved at/);
    const bytes = await Deno.readFile(file);
    const db = bytes.subarray(0, bytes.length - 32);
    assert.equal(db.length % 512, 0);
    const sum = createHash("sha256").update(db).digest();
    assert.deepEqual(bytes.subarray(bytes.length - 32), new Uint8Array(sum));
    // the body is a page file that opens and holds every key
    const copy = `${s.dir}/copy.db`;
    await Deno.writeFile(copy, db);
    const backend = await openBackend(new RealDisk(), copy);
    const store = MvccStore.open(backend);
    const r = applyRange(store, {
      key: new TextEncoder().encode("s"),
      rangeEnd: new TextEncoder().encode("t"),
    });
    assert.equal(r.count, 50);
    await store.close();
    await backend.close();
  } finally {
    await s.close();
  }
});

Deno.test("etcdctl: past --quota-backend-bytes NOSPACE is raised, writes stop, disarm resumes", async () => {
  const s = await startTestServer((c) => (c.quotaBackendBytes = 256 * 1024));
  try {
    const big = "x".repeat(32 * 1024);
    let i = 0;
    let err = "";
    while (i < 100) {
      const r = await etcdctl(s.url, ["put", `big${i}`, big]);
      if (r.code !== 0) {
        err = r.stderr;
        break;
      }
      i++;
    }
    assert.ok(i > 0 && i < 100, `${i} puts`);
    assert.match(err, /etcdserver: mvcc: database space exceeded/);
    const id = s.server.member.id;
    assert.equal(await s.ok(["alarm", "list"]), `memberID:${id} alarm:NOSPACE \n`);
    // capped: even a small put is refused; reads and deletes still work
    assert.match(await s.fails(["put", "small", "v"]), /database space exceeded/);
    assert.match(await s.fails(["lease", "grant", "10"]), /database space exceeded/);
    assert.equal(await s.ok(["get", "big0", "--keys-only"]), "big0\n\n");
    const status = await s.ok(["endpoint", "status", "-w", "json"]);
    assert.match(status, new RegExp(`"errors":\\["memberID:${id} alarm:NOSPACE "\\]`));
    const health = await fetch(`${s.url}/health`);
    assert.equal(health.status, 503);
    await health.body?.cancel();
    // free the space, then disarm: writes resume
    assert.equal(await s.ok(["del", "big", "--prefix"]), `${i}\n`);
    const rev = JSON.parse(await s.ok(["get", "big0", "-w", "json"])).header.revision;
    await s.ok(["compaction", String(rev), "--physical"]);
    await s.ok(["defrag"]);
    assert.equal(await s.ok(["alarm", "disarm"]), `memberID:${id} alarm:NOSPACE \n`);
    assert.equal(await s.ok(["alarm", "list"]), "");
    assert.equal(await s.ok(["put", "small", "v"]), "OK\n");
  } finally {
    await s.close();
  }
});
