// Model-based randomized test of the page file against an in-memory model: random puts,
// deletes, nested buckets, cursor walks, rollbacks and reopens, with a full check() after
// every commit. Replay a failure with SEED=<seed>.
import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import type { Bucket } from "../../lib/backend/bucket.ts";
import { DB } from "../../lib/backend/db.ts";
import { BUCKET_FLAG } from "../../lib/backend/page.ts";
import type { Tx } from "../../lib/backend/tx.ts";

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}
function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The model: a bucket's values and nested buckets, keyed by hex (hex order = byte order). */
class MBucket {
  values = new Map<string, Uint8Array>();
  buckets = new Map<string, MBucket>();
  clone(): MBucket {
    const m = new MBucket();
    m.values = new Map(this.values);
    for (const [k, b] of this.buckets) m.buckets.set(k, b.clone());
    return m;
  }
  /** Sorted entries: [hexKey, value | "bucket"]. */
  entries(): [string, Uint8Array | null][] {
    const all: [string, Uint8Array | null][] = [];
    for (const [k, v] of this.values) all.push([k, v]);
    for (const k of this.buckets.keys()) all.push([k, null]);
    return all.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
}

/** Every bucket path in the model (excluding the root). */
function paths(m: MBucket, prefix: string[] = [], out: string[][] = []): string[][] {
  for (const [k, b] of m.buckets) {
    const p = [...prefix, k];
    out.push(p);
    paths(b, p, out);
  }
  return out;
}

function modelAt(root: MBucket, path: string[]): MBucket {
  let m = root;
  for (const k of path) m = m.buckets.get(k)!;
  return m;
}

function dbAt(tx: Tx, path: string[]): Bucket {
  let b = tx.root;
  for (const k of path) b = b.bucket(unhex(k))!;
  assert.ok(b, `bucket ${path.join("/")} missing`);
  return b;
}

/** Compares a whole bucket (recursively) with the model, walking forward and backward. */
function compareAll(tx: Tx, root: MBucket, path: string[] = []): void {
  const b = dbAt(tx, path);
  const m = modelAt(root, path);
  const want = m.entries();
  const c = b.cursor();
  const got: [string, Uint8Array | null][] = [];
  for (let ok = c.first(); ok; ok = c.next()) {
    got.push([hex(c.key()), c.flags() & BUCKET_FLAG ? null : c.value().slice()]);
  }
  assert.equal(got.length, want.length, `bucket /${path.join("/")} size`);
  for (let i = 0; i < want.length; i++) {
    assert.equal(got[i][0], want[i][0], `key ${i} of /${path.join("/")}`);
    assert.deepEqual(got[i][1], want[i][1], `value of ${want[i][0]}`);
  }
  const back: string[] = [];
  for (let ok = c.last(); ok; ok = c.prev()) back.push(hex(c.key()));
  assert.deepEqual(back.reverse(), want.map((e) => e[0]));
  for (const k of m.buckets.keys()) compareAll(tx, root, [...path, k]);
}

async function runSeed(seed: number, steps: number): Promise<void> {
  const rand = new Rand(seed);
  const disk = new SimDisk({ rand: new Rand(seed + 1) });
  const pageSize = rand.pick([512, 1024, 4096]);
  // Half the seeds run with the smallest page cache, so pages are evicted and re-read.
  const cacheBytes = rand.chance(0.5) ? 1 : undefined;
  let db = await DB.open(disk, "/m.db", { pageSize, cacheBytes });
  let model = new MBucket();
  // Keys: a pool of random byte strings (values never start with 0xfe; bucket names do).
  const pool: Uint8Array[] = [];
  for (let i = 0; i < 600; i++) {
    const k = rand.bytes(rand.range(1, rand.chance(0.1) ? 200 : 24));
    if (k[0] === 0xfe) k[0] = 0x01;
    pool.push(k);
  }
  const names: Uint8Array[] = [];
  for (let i = 0; i < 12; i++) {
    const n = rand.bytes(rand.range(2, 8));
    n[0] = 0xfe;
    names.push(n);
  }
  const value = () => {
    const r = rand.float();
    const n = r < 0.03
      ? rand.range(pageSize, pageSize * 3)
      : r < 0.2
      ? rand.range(0, 400)
      : rand.range(0, 60);
    return rand.bytes(n);
  };

  let tx = db.begin(true);
  let saved = model.clone();
  let sinceCommit = 0;
  for (let step = 0; step < steps; step++) {
    const ps = paths(model);
    const r = rand.float();
    if (ps.length === 0 || r < 0.01) {
      // Create a bucket at the top or nested under an existing one.
      const parent = ps.length > 0 && rand.chance(0.5) ? rand.pick(ps) : [];
      const name = rand.pick(names);
      const pm = modelAt(model, parent);
      const b = dbAt(tx, parent);
      if (pm.buckets.has(hex(name))) {
        assert.throws(() => b.createBucket(name), /bucket already exists/);
      } else {
        b.createBucket(name);
        pm.buckets.set(hex(name), new MBucket());
      }
    } else if (r < 0.015) {
      const p = rand.pick(ps);
      const parent = p.slice(0, -1);
      dbAt(tx, parent).deleteBucket(unhex(p[p.length - 1]));
      modelAt(model, parent).buckets.delete(p[p.length - 1]);
    } else if (r < 0.6) {
      const p = rand.pick(ps);
      const k = rand.pick(pool);
      const v = value();
      dbAt(tx, p).put(k, v);
      modelAt(model, p).values.set(hex(k), v);
    } else if (r < 0.8) {
      const p = rand.pick(ps);
      const k = rand.pick(pool);
      const had = modelAt(model, p).values.delete(hex(k));
      assert.equal(dbAt(tx, p).delete(k), had);
    } else if (r < 0.9) {
      const p = rand.pick(ps);
      const k = rand.pick(pool);
      assert.deepEqual(dbAt(tx, p).get(k), modelAt(model, p).values.get(hex(k)));
    } else if (r < 0.95) {
      // Seek and walk a few steps either way.
      const p = rand.pick(ps);
      const k = rand.pick(pool);
      const want = modelAt(model, p).entries().map((e) => e[0]);
      let i = want.findIndex((w) => w >= hex(k));
      const c = dbAt(tx, p).cursor();
      const ok = c.seek(k);
      assert.equal(ok, i >= 0, "seek result");
      if (i < 0) i = want.length;
      for (let n = 0; n < 5; n++) {
        if (rand.chance(0.5)) {
          if (c.next()) assert.equal(hex(c.key()), want[++i]);
          else {
            assert.ok(i >= want.length - 1);
            i = want.length;
          }
        } else if (i > 0 && i <= want.length) {
          assert.ok(c.prev());
          assert.equal(hex(c.key()), want[--i]);
        }
        if (i >= want.length || i < 0) break;
      }
    }
    if (++sinceCommit >= rand.range(1, 400)) {
      sinceCommit = 0;
      if (rand.chance(0.1)) {
        tx.rollback();
        model = saved;
      } else {
        await tx.commit();
        assert.deepEqual(db.check(), [], `check after commit at step ${step}`);
      }
      if (rand.chance(0.1)) {
        await db.close();
        db = await DB.open(disk, "/m.db", { cacheBytes });
        assert.deepEqual(db.check(), [], "check after reopen");
      }
      const rtx = db.begin(false);
      compareAll(rtx, model);
      rtx.rollback();
      saved = model.clone();
      tx = db.begin(true);
    }
  }
  compareAll(tx, model);
  await tx.commit();
  assert.deepEqual(db.check(), []);
  await db.close();
}

Deno.test("page file matches a model under random operations", async () => {
  const base = testSeed();
  const seeds = Deno.env.get("SEED") ? 1 : 6;
  for (let i = 0; i < seeds; i++) {
    const seed = (base + i) >>> 0;
    console.log(`model: seed=${seed}`);
    await runSeed(seed, 3000);
  }
});
