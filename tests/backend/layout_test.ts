import assert from "node:assert/strict";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { DB } from "../../lib/backend/db.ts";
import { layoutStats, type TreeStats } from "../../lib/backend/layout_stats.ts";
import { MAX_PACKED_SPAN } from "../../lib/backend/spill.ts";
import { Rand } from "../../lib/base/rand.ts";

const enc = new TextEncoder();
const B = enc.encode("b");
const PS = 4096;

/** An 8-byte big-endian key: sequential numbers sort as appends. */
function key(i: number): Uint8Array {
  const k = new Uint8Array(8);
  new DataView(k.buffer).setUint32(4, i);
  return k;
}

function value(i: number, size: number): Uint8Array {
  return new Uint8Array(size).map((_, j) => (i * 31 + j) & 0xff);
}

async function openDb(): Promise<DB> {
  const db = await DB.open(new SimDisk(), "/db");
  await db.update((tx) => void tx.createBucket(B));
  return db;
}

function tree(db: DB): TreeStats {
  return db.view((tx) => layoutStats(tx, tx.meta)).trees.find((t) => t.name === "b")!;
}

/** Every key and value of bucket b, to compare with what was put. */
function contents(db: DB): Map<number, Uint8Array> {
  return db.view((tx) => {
    const out = new Map<number, Uint8Array>();
    const c = tx.bucket(B)!.cursor();
    for (let ok = c.first(); ok; ok = c.next()) {
      out.set(new DataView(c.key().slice().buffer).getUint32(4), c.value().slice());
    }
    return out;
  });
}

Deno.test("layout: 4 KiB values appended one commit at a time share spans (3 to 4 pages)", async () => {
  const db = await openDb();
  const n = 60;
  for (let i = 0; i < n; i++) await db.update((tx) => tx.bucket(B)!.put(key(i), value(i, 4096)));
  const t = tree(db);
  // The census counts what was put.
  assert.equal(t.elements, n);
  assert.equal(t.keyBytes, n * 8);
  assert.equal(t.valueBytes, n * 4096);
  assert.equal(t.multiPageLeaves, t.leaves - (t.leafSpans.get(1) ?? 0));
  // One value per 2-page leaf (the old layout) would be 2 pages a value; packed, 4/3.
  assert.ok(t.leafPages <= Math.ceil(n * 4 / 3) + 4, `${t.leafPages} leaf pages for ${n} values`);
  for (const span of t.leafSpans.keys()) assert.ok(span <= MAX_PACKED_SPAN, `span ${span}`);
  assert.deepEqual(db.check(), []);
  assert.equal(contents(db).size, n);
  for (const [i, v] of contents(db)) assert.deepEqual(v, value(i, 4096));
  await db.close();
});

Deno.test("layout: values of two elements' worth of pages still pair up (as bbolt's two per page)", async () => {
  const db = await openDb();
  const n = 20;
  await db.update((tx) => {
    for (let i = 0; i < n; i++) tx.bucket(B)!.put(key(i), value(i, 9000));
  });
  const t = tree(db);
  // 9000 B needs 3 pages alone; two share 5.
  assert.ok(t.leafPages <= n / 2 * 5, `${t.leafPages} leaf pages for ${n} values of 9000 B`);
  assert.equal(t.singleElementLeaves, 0);
  assert.deepEqual(db.check(), []);
  await db.close();
});

Deno.test("layout: 1 KiB values pack past the 79 % that three to a page would fill", async () => {
  const db = await openDb();
  const n = 300;
  await db.update((tx) => {
    for (let i = 0; i < n; i++) tx.bucket(B)!.put(key(i), value(i, 1024));
  });
  const t = tree(db);
  const data = t.keyBytes + t.valueBytes;
  assert.ok(data / (t.leafPages * PS) > 0.85, `fill ${data / (t.leafPages * PS)}`);
  assert.deepEqual(db.check(), []);
  await db.close();
});

Deno.test("layout: small appends one commit at a time fill pages, not halves", async () => {
  const db = await openDb();
  const n = 600;
  for (let i = 0; i < n; i++) await db.update((tx) => tx.bucket(B)!.put(key(i), value(i, 100)));
  const t = tree(db);
  const data = t.keyBytes + t.valueBytes + t.headerBytes;
  // Cut in halves every leaf the appends left behind would stay about half full.
  assert.ok(data / (t.leafPages * PS) > 0.85, `fill ${data / (t.leafPages * PS)}`);
  assert.equal(t.multiPageLeaves, 0);
  assert.deepEqual(db.check(), []);
  await db.close();
});

Deno.test("layout: random inserts keep room in the middle (no run of nearly empty leaves)", async () => {
  const seed = Number(Deno.env.get("SEED") ?? Date.now() % 1e9);
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const db = await openDb();
  const n = 3000;
  const ids = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rand.int(i + 1);
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  for (let i = 0; i < n; i += 3) {
    await db.update((tx) => {
      for (const id of ids.slice(i, i + 3)) tx.bucket(B)!.put(key(id), value(id, 100));
    });
  }
  const t = tree(db);
  const data = t.keyBytes + t.valueBytes + t.headerBytes;
  // Equal halves give about ln 2 (69 %) under random inserts; full pages with a sliver cut
  // off at every split would leave far less.
  assert.ok(data / (t.leafPages * PS) > 0.6, `fill ${data / (t.leafPages * PS)}`);
  assert.equal(contents(db).size, n);
  assert.deepEqual(db.check(), []);
  await db.close();
});

Deno.test("layout: a leaf left with one big value by deletes joins its neighbours", async () => {
  const db = await openDb();
  const n = 60;
  await db.update((tx) => {
    for (let i = 0; i < n; i++) tx.bucket(B)!.put(key(i), value(i, 4096));
  });
  const before = tree(db);
  // Keep one value of every three: each packed leaf of three is left with one.
  await db.update((tx) => {
    for (let i = 0; i < n; i++) if (i % 3 !== 0) tx.bucket(B)!.delete(key(i));
  });
  const t = tree(db);
  assert.ok(t.singleElementLeaves <= 1, `${t.singleElementLeaves} one-value leaves`);
  assert.ok(t.leafPages <= Math.ceil(before.leafPages / 3) + 4, `${t.leafPages} leaf pages`);
  assert.deepEqual([...contents(db).keys()], Array.from({ length: n / 3 }, (_, i) => i * 3));
  assert.deepEqual(db.check(), []);
  await db.close();
});
