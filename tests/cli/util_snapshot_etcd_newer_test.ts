/**
 * Migration from etcd 3.5 and 3.6: only etcd 3.4 is installed here, so a snapshot the real etcd
 * 3.4 saved is given what a 3.5 / 3.6 member's db adds (facts from etcd's
 * server/storage/schema: meta "term" as 8 big-endian bytes and "confState" as raftpb.ConfState
 * JSON since 3.5, meta "storageVersion" and cluster "downgrade" since 3.6, cluster
 * "clusterVersion"), rewritten with our bbolt writer and checked by etcd 3.4's own `etcdctl
 * snapshot status` (bbolt's consistency check and etcd's hash). `concord util snapshot status`
 * must report the same figures, and restore must serve the same keys, revisions, lease and
 * users, with the snapshot's old raft term and membership replaced by the new cluster's.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { compareBytes } from "../../lib/base/bytes.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";
import { BoltReader } from "../../lib/backend/bbolt/reader.ts";
import { BoltWriter } from "../../lib/backend/bbolt/writer.ts";
import { startServer } from "../../lib/api/member_server.ts";
import { snapshotUtil as util } from "./util_run.ts";
import { testConfig } from "../server/harness.ts";
import {
  ALICE_PW,
  ctlOk,
  etcdSnapshotStatus as etcdStatus,
  makeEtcdSnapshot,
  parseGetJson,
  ROOT_PW,
} from "../support/etcd_snapshot.ts";

const disk = new RealDisk();
const enc = new TextEncoder();
const dec = new TextDecoder();

function u64(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n);
  return b;
}

/** Every bucket of an etcd snapshot file (without its SHA-256 trailer), in memory. */
async function readBuckets(file: string, length: number) {
  const r = await BoltReader.open(disk, file, { length });
  const buckets = new Map<string, [Uint8Array, Uint8Array][]>();
  try {
    for (const name of await r.bucketNames()) {
      const entries: [Uint8Array, Uint8Array][] = [];
      await r.forEach(name, (k, v) => void entries.push([k, v]));
      buckets.set(dec.decode(name), entries);
    }
  } finally {
    await r.close();
  }
  return buckets;
}

/** Sets `key` in bucket `name` (created if missing), keeping the entries in key order. */
function setKey(
  buckets: Map<string, [Uint8Array, Uint8Array][]>,
  name: string,
  key: string,
  value: Uint8Array,
): void {
  const entries = buckets.get(name) ?? [];
  const k = enc.encode(key);
  const i = entries.findIndex(([e]) => compareBytes(e, k) >= 0);
  if (i >= 0 && compareBytes(entries[i][0], k) === 0) entries[i] = [k, value];
  else entries.splice(i < 0 ? entries.length : i, 0, [k, value]);
  buckets.set(name, entries);
}

/** Writes `buckets` as a bbolt file followed by its SHA-256, as `etcdctl snapshot save` does. */
async function writeSnapshot(file: string, buckets: Map<string, [Uint8Array, Uint8Array][]>) {
  const w = await BoltWriter.create(disk, file);
  const names = [...buckets.keys()].map((n) => enc.encode(n)).sort(compareBytes);
  for (const name of names) {
    const tree = w.bucket(name);
    for (const [k, v] of buckets.get(dec.decode(name))!) tree.add(k, v);
    w.endBucket(name, tree);
  }
  await w.finish();
  const bytes = await Deno.readFile(file);
  const sha = createHash("sha256").update(bytes).digest();
  const out = new Uint8Array(bytes.length + sha.length);
  out.set(bytes);
  out.set(sha, bytes.length);
  await Deno.writeFile(file, out);
}

Deno.test("util snapshot: an etcd 3.6-shaped snapshot (term, confState, storageVersion, downgrade) restores and serves", async () => {
  const work = await Deno.makeTempDir({ prefix: "concord-etcd36-" });
  try {
    const fx = await makeEtcdSnapshot(`${work}/etcd34.db`);
    const size = (await Deno.stat(fx.file)).size;
    const buckets = await readBuckets(fx.file, size - 32);
    assert.ok(buckets.has("meta") && buckets.has("key"), "etcd 3.4's buckets");
    // what etcd 3.5 and 3.6 add (a 3-member cluster's snapshot, taken at term 7)
    const voters = [0x8e9e05c52164694dn, 0x91bc3c398fb3c146n, 0xfd422379fda50e48n];
    setKey(buckets, "meta", "term", u64(7n));
    setKey(
      buckets,
      "meta",
      "confState",
      enc.encode(`{"voters":[${voters.join(",")}],"auto_leave":false}`),
    );
    setKey(buckets, "meta", "storageVersion", enc.encode("3.6.0"));
    setKey(buckets, "cluster", "clusterVersion", enc.encode("3.6.0"));
    setKey(buckets, "cluster", "downgrade", enc.encode(`{"target-version":"","enabled":false}`));
    const file = `${work}/etcd36.db`;
    await writeSnapshot(file, buckets);

    // etcd's own status of the file (bbolt's check passes) is what ours reports
    const theirs = await etcdStatus(file);
    assert.equal(theirs.revision, fx.status.revision);
    assert.ok(theirs.totalKey > fx.status.totalKey, "the added keys are counted");
    const ours = await util(["status", file, "-w", "json"]);
    assert.equal(ours.code, 0, ours.err);
    assert.deepEqual(JSON.parse(ours.out), theirs);

    const dataDir = `${work}/restored`;
    const peer = "http://127.0.0.1:2380";
    const r = await util([
      "restore",
      file,
      "--data-dir",
      dataDir,
      "--name",
      "m1",
      "--initial-cluster",
      `m1=${peer}`,
      "--initial-advertise-peer-urls",
      peer,
    ]);
    assert.equal(r.code, 0, r.err);
    const s = await startServer(testConfig(dataDir), { log: () => {} });
    try {
      await s.member.ready;
      const url = s.clientUrls[0];
      const root = `root:${ROOT_PW}`;
      const all = parseGetJson(
        await ctlOk(url, ["get", "", "--prefix", "-w", "json"], { user: root }),
      );
      assert.equal(all.header.revision, fx.all.header.revision);
      assert.deepEqual(all.kvs, fx.all.kvs);
      assert.match(await ctlOk(url, ["get", "k100"], { user: `alice:${ALICE_PW}` }), /second/);
      // the new cluster of one, not the snapshot's three voters; its own term, not term 7
      const members = await ctlOk(url, ["member", "list"], { user: root });
      assert.equal(members.trim().split("\n").length, 1, members);
      assert.match(members, /, http:\/\/127\.0\.0\.1:2380, /);
      const put = JSON.parse(await ctlOk(url, ["put", "new", "v", "-w", "json"], { user: root }));
      assert.ok(put.header.raft_term < 7, `raft term ${put.header.raft_term}`);
      assert.equal(put.header.revision, fx.all.header.revision + 1);
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
