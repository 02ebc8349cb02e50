/**
 * lib/backend/bbolt/writer.ts: random buckets written and read back by our reader, and checked
 * by real bbolt (etcd 3.4's `etcdctl snapshot status` opens the file with bbolt and runs its
 * consistency check, tx.Check, then hashes every bucket): no errors, and etcd's hash equals the
 * one computed from what we meant to write. Replay with SEED=N.
 */
import assert from "node:assert/strict";
import { crc32c } from "../../lib/base/crc32c.ts";
import { Rand } from "../../lib/base/rand.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";
import { BoltReader } from "../../lib/backend/bbolt/reader.ts";
import { BoltWriter } from "../../lib/backend/bbolt/writer.ts";
import { readMeta, writeMetaPage } from "../../lib/backend/bbolt/format.ts";

const disk = new RealDisk();
const enc = new TextEncoder();

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

async function etcdStatus(file: string): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command("etcdctl", {
    args: ["snapshot", "status", file, "-w", "json"],
    env: { ETCDCTL_API: "3" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

Deno.test("bbolt writer: random buckets read back, and real bbolt finds the file sound", async () => {
  const seed = Number(Deno.env.get("SEED") ?? Date.now() % 1_000_000);
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const work = await Deno.makeTempDir({ prefix: "concord-bboltw-" });
  try {
    // buckets: empty, one small entry, thousands of keys (several branch levels with long
    // keys), values from empty to several pages
    const buckets = new Map<string, [Uint8Array, Uint8Array][]>();
    buckets.set("a-empty", []);
    buckets.set("b-one", [[enc.encode("k"), enc.encode("v")]]);
    const many = new Map<string, Uint8Array>();
    const n = 3000 + rand.int(3000);
    while (many.size < n) {
      const key = `${"p".repeat(rand.int(3) * 300)}${rand.int(1_000_000_000)}`;
      const size = rand.int(50) === 0 ? 4096 + rand.int(20_000) : rand.int(200);
      const value = new Uint8Array(size);
      for (let i = 0; i < size; i += 97) value[i] = rand.int(256);
      many.set(key, value);
    }
    buckets.set(
      "c-many",
      [...many].map(([k, v]) => [enc.encode(k), v] as [Uint8Array, Uint8Array])
        .sort((x, y) => compare(x[0], y[0])),
    );
    const file = `${work}/w.db`;
    const w = await BoltWriter.create(disk, file);
    let hash = 0;
    let total = 0;
    for (const [name, entries] of buckets) {
      const tree = w.bucket(enc.encode(name));
      hash = crc32c(enc.encode(name), hash);
      for (const [k, v] of entries) {
        tree.add(k, v);
        hash = crc32c(v, crc32c(k, hash));
        total++;
      }
      w.endBucket(enc.encode(name), tree);
      await w.flush();
    }
    const size = await w.finish();
    assert.equal((await Deno.stat(file)).size, size);

    // our reader gives back every entry
    const r = await BoltReader.open(disk, file);
    try {
      assert.equal(r.size, size);
      for (const [name, entries] of buckets) {
        let i = 0;
        await r.forEach(name, (k, v) => {
          assert.deepEqual(k, entries[i][0]);
          assert.deepEqual(v, entries[i][1]);
          i++;
        });
        assert.equal(i, entries.length, name);
      }
    } finally {
      await r.close();
    }

    // real bbolt: consistency check clean, etcd's hash over all buckets as expected
    const st = await etcdStatus(file);
    assert.equal(st.code, 0, st.err);
    const j = JSON.parse(st.out);
    assert.equal(j.hash, hash >>> 0);
    assert.equal(j.totalKey, total);
    assert.equal(j.totalSize, size);

    // and the check is real: a page that nothing reaches is reported by bbolt
    const bytes = await Deno.readFile(file);
    const m = readMeta(bytes);
    const bad = new Uint8Array(bytes.length + 4096);
    bad.set(bytes);
    for (const txid of [0n, 1n]) {
      writeMetaPage(bad.subarray(Number(txid) * 4096), { ...m, pgid: m.pgid + 1, txid });
    }
    await Deno.writeFile(`${work}/bad.db`, bad);
    const badSt = await etcdStatus(`${work}/bad.db`);
    assert.notEqual(badSt.code, 0);
    assert.match(badSt.err, new RegExp(`page ${m.pgid}: unreachable unfreed`));
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("bbolt writer: out-of-order keys and buckets are refused", async () => {
  const work = await Deno.makeTempDir({ prefix: "concord-bboltw-" });
  try {
    const w = await BoltWriter.create(disk, `${work}/x.db`);
    const t = w.bucket(enc.encode("b"));
    t.add(enc.encode("2"), enc.encode(""));
    assert.throws(() => t.add(enc.encode("1"), enc.encode("")), /ascending order/);
    assert.throws(() => t.add(enc.encode("2"), enc.encode("")), /ascending order/);
    assert.throws(() => t.add(new Uint8Array(0), enc.encode("")), /key of 0 bytes/);
    w.endBucket(enc.encode("b"), t);
    assert.throws(() => w.bucket(enc.encode("a")), /ascending name order/);
    await w.abort();
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
