/**
 * lib/backend/bbolt/reader.ts on a snapshot the real etcd 3.4 saved: every bucket read byte
 * for byte (the CRC-32C over all buckets equals the hash etcd's own `snapshot status` prints),
 * the records decode to what etcd served, and damaged files fail naming what is wrong.
 */
import assert from "node:assert/strict";
import { crc32c } from "../../lib/base/crc32c.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";
import { BoltReader } from "../../lib/backend/bbolt/reader.ts";
import { BoltFormatError, fnv1a64, looksLikeBolt } from "../../lib/backend/bbolt/format.ts";
import { bytesToRev, isTombstone } from "../../lib/mvcc/revision.ts";
import { decodeKeyValue } from "../../lib/mvcc/kv_codec.ts";
import { decodeLease } from "../../lib/lease/lease_record.ts";
import { decodeUser } from "../../lib/auth/auth_records.ts";
import { COMPACTED, makeEtcdSnapshot } from "../support/etcd_snapshot.ts";

const disk = new RealDisk();
const dec = new TextDecoder();

Deno.test("bbolt reader: an etcd 3.4 snapshot, read whole and checked", async () => {
  const work = await Deno.makeTempDir({ prefix: "concord-bbolt-" });
  try {
    const fx = await makeEtcdSnapshot(`${work}/etcd.db`);
    const size = (await Deno.stat(fx.file)).size;
    const r = await BoltReader.open(disk, fx.file, { length: size - 32 });
    try {
      assert.equal(r.pageSize, 4096);
      assert.equal(r.size, fx.status.totalSize);
      const names = (await r.bucketNames()).map((n) => dec.decode(n));
      for (const b of ["auth", "authRoles", "authUsers", "key", "lease", "members", "meta"]) {
        assert.ok(names.includes(b), `bucket ${b} in ${names}`);
      }
      // small buckets are inline (their page inside the parent's value), big ones are not
      assert.ok((await r.bucket("auth"))!.inline !== undefined, "auth is inline");
      assert.ok((await r.bucket("key"))!.header.root >= 2, "key has its own pages");
      // etcd's hash: CRC-32C of every bucket name, key and value, in order
      let hash = 0;
      let total = 0;
      for (const n of await r.bucketNames()) {
        hash = crc32c(n, hash);
        await r.forEach(n, (k, v) => {
          hash = crc32c(v, crc32c(k, hash));
          total++;
        });
      }
      assert.equal(hash >>> 0, fx.status.hash);
      assert.equal(total, fx.status.totalKey);

      // the key bucket: revisions ascending, each value a KeyValue of that revision
      const live = new Map<string, { mod: number; version: number }>();
      let last = 0;
      let tombstones = 0;
      let big = 0;
      await r.forEach("key", (k, v) => {
        const rev = bytesToRev(k);
        assert.ok(rev.main >= last);
        last = rev.main;
        const kv = decodeKeyValue(v);
        if (isTombstone(k)) {
          tombstones++;
          live.delete(dec.decode(kv.key));
        } else {
          assert.equal(kv.modRevision, rev.main);
          live.set(dec.decode(kv.key), { mod: kv.modRevision, version: kv.version });
          if (kv.value.length >= 6000) big++;
        }
      });
      assert.equal(last, fx.status.revision);
      assert.equal(big, 3, "values beyond a page come back whole (overflow pages)");
      assert.ok(tombstones >= 10, `tombstones ${tombstones}`);
      assert.equal(live.size, fx.all.kvs.length);
      for (const kv of fx.all.kvs) {
        const got = live.get(atob(kv.key));
        assert.deepEqual(got, { mod: kv.mod_revision, version: kv.version });
      }
      // compaction left nothing older than the compacted revision but the latest versions
      const meta = new Map<string, Uint8Array>();
      await r.forEach("meta", (k, v) => void meta.set(dec.decode(k), v));
      assert.equal(bytesToRev(meta.get("finishedCompactRev")!).main, COMPACTED);

      // the lease and the users
      const leases: bigint[] = [];
      await r.forEach("lease", (_k, v) => {
        const l = decodeLease(v);
        assert.equal(l.ttl, fx.lease.ttl);
        leases.push(l.id);
      });
      assert.deepEqual(leases.map(String), [fx.lease.id]);
      const users: string[] = [];
      await r.forEach("authUsers", (_k, v) => {
        const u = decodeUser(v);
        assert.match(dec.decode(u.password), /^\$2a\$10\$/);
        users.push(u.name);
      });
      assert.deepEqual(users, ["alice", "root"]);
      // an early stop, and a bucket that is not there
      let seen = 0;
      await r.forEach("key", () => (++seen === 5 ? false : undefined));
      assert.equal(seen, 5);
      await assert.rejects(r.forEach("nope", () => {}), /bucket "nope" not found/);
    } finally {
      await r.close();
    }

    // damage: meta page 0 broken -> bbolt falls back to meta page 1; both -> refused
    const bytes = await Deno.readFile(fx.file);
    assert.ok(looksLikeBolt(bytes));
    const meta0 = bytes.slice();
    meta0[16 + 40] ^= 1; // meta 0's pgid: its checksum no longer matches
    await Deno.writeFile(`${work}/m0.db`, meta0);
    const r0 = await BoltReader.open(disk, `${work}/m0.db`, { length: size - 32 });
    assert.equal(r0.meta.pageSize, 4096);
    await r0.close();
    const both = meta0.slice();
    both[4096 + 16 + 40] ^= 1;
    await Deno.writeFile(`${work}/m01.db`, both);
    await assert.rejects(
      BoltReader.open(disk, `${work}/m01.db`),
      (e) => e instanceof BoltFormatError && /not a bbolt file: checksum error/.test(e.message),
    );
    // a page that claims to be another: the read names it
    const r1 = await BoltReader.open(disk, fx.file, { length: size - 32 });
    const keyRoot = (await r1.bucket("key"))!.header.root;
    await r1.close();
    assert.ok(keyRoot >= 2);
    const wrong = bytes.slice();
    wrong[keyRoot * 4096] ^= 0x01;
    await Deno.writeFile(`${work}/pg.db`, wrong);
    const r2 = await BoltReader.open(disk, `${work}/pg.db`);
    try {
      await assert.rejects(r2.forEach("key", () => {}), new RegExp(`page ${keyRoot}: header says`));
    } finally {
      await r2.close();
    }
    // a truncated file: the pages past its end are refused, not read as zeros
    await Deno.writeFile(`${work}/short.db`, bytes.subarray(0, 3 * 4096));
    const r3 = await BoltReader.open(disk, `${work}/short.db`);
    try {
      await assert.rejects(r3.bucketNames(), /beyond the end of the file/);
    } finally {
      await r3.close();
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("bbolt format: FNV-1a 64 as Go's hash/fnv", () => {
  assert.equal(fnv1a64(new Uint8Array(0)), 0xcbf29ce484222325n);
  assert.equal(fnv1a64(new TextEncoder().encode("a")), 0xaf63dc4c8601ec8cn);
  assert.equal(fnv1a64(new TextEncoder().encode("foobar")), 0x85944171f73967e8n);
});
