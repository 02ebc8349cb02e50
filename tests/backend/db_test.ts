// The page file API directly: stats, overflow values, nested buckets, compaction.
import assert from "node:assert/strict";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { DB } from "../../lib/backend/db.ts";

const enc = new TextEncoder();
const NAME = enc.encode("b");
const key = (i: number) => enc.encode(`key${String(i).padStart(6, "0")}`);

Deno.test("db: stats report pages in use, free pages, file size and depth", async () => {
  const disk = new SimDisk();
  const db = await DB.open(disk, "/s.db", { pageSize: 1024 });
  const empty = db.stats();
  assert.equal(empty.pages, 4);
  assert.equal(empty.depth, 0);
  await db.update((tx) => {
    const b = tx.createBucket(NAME);
    for (let i = 0; i < 20_000; i++) b.put(key(i), new Uint8Array(40));
  });
  const full = db.stats();
  assert.equal(full.pageSize, 1024);
  assert.ok(full.depth >= 3, `depth ${full.depth}`);
  assert.equal(full.inUsePages + full.freePages, full.pages);
  assert.equal(full.fileBytes, full.pages * 1024);
  assert.equal(full.fileBytes, disk.contents("/s.db").length);
  await db.update((tx) => {
    const b = tx.bucket(NAME)!;
    for (let i = 0; i < 20_000; i++) if (i % 8) b.delete(key(i));
  });
  const after = db.stats();
  assert.ok(after.freePages > full.inUsePages / 2, `${after.freePages} free`);
  // Leaves left under a quarter full merge with their neighbours.
  assert.ok(after.inUsePages < full.inUsePages / 2, `${after.inUsePages} of ${full.inUsePages}`);
  assert.deepEqual(db.check(), []);
  await db.close();
});

Deno.test("db: values larger than a page span contiguous pages and survive reopen", async () => {
  const disk = new SimDisk();
  const db = await DB.open(disk, "/o.db", { pageSize: 512 });
  const big = new Uint8Array(10_000).map((_, i) => i * 13);
  await db.update((tx) => {
    const b = tx.createBucket(NAME);
    b.put(enc.encode("big"), big);
    b.put(enc.encode("small"), enc.encode("s"));
  });
  await db.update((tx) => tx.bucket(NAME)!.put(enc.encode("big2"), big.subarray(1)));
  await db.close();
  const again = await DB.open(disk, "/o.db");
  again.view((tx) => {
    assert.deepEqual(tx.bucket(NAME)!.get(enc.encode("big")), big);
    assert.deepEqual(tx.bucket(NAME)!.get(enc.encode("big2")), big.subarray(1));
  });
  // Deleting frees every page of the span.
  const before = again.stats().freePages;
  await again.update((tx) => void tx.bucket(NAME)!.delete(enc.encode("big")));
  assert.ok(again.stats().freePages >= before + 10000 / 512);
  assert.deepEqual(again.check(), []);
  await again.close();
});

Deno.test("db: compactTo copies nested buckets into a dense file", async () => {
  const disk = new SimDisk();
  const db = await DB.open(disk, "/c.db");
  await db.update((tx) => {
    const outer = tx.createBucket(enc.encode("outer"));
    const inner = outer.createBucket(enc.encode("inner"));
    for (let i = 0; i < 5000; i++) {
      outer.put(key(i), enc.encode(`o${i}`));
      inner.put(key(i), enc.encode(`i${i}`));
    }
    outer.createBucket(enc.encode("empty"));
  });
  await db.update((tx) => {
    const outer = tx.bucket(enc.encode("outer"))!;
    for (let i = 0; i < 5000; i += 2) outer.delete(key(i));
  });
  await db.compactTo(disk, "/c2.db", { batchBytes: 20_000 });
  const copy = await DB.open(disk, "/c2.db");
  assert.deepEqual(copy.check(), []);
  assert.ok(copy.stats().fileBytes < db.stats().fileBytes * 0.8);
  copy.view((tx) => {
    const outer = tx.bucket(enc.encode("outer"))!;
    const inner = outer.bucket(enc.encode("inner"))!;
    assert.ok(outer.bucket(enc.encode("empty")));
    let n = 0;
    const c = outer.cursor();
    for (let ok = c.first(); ok; ok = c.next()) n++;
    assert.equal(n, 2500 + 2); // values plus the two nested buckets
    assert.equal(new TextDecoder().decode(inner.get(key(4999))), "i4999");
    assert.equal(outer.get(key(0)), undefined);
  });
  await copy.close();
  await db.close();
});

Deno.test("db: range iterates [start, end) with a limit, skipping nested buckets", async () => {
  const disk = new SimDisk();
  const db = await DB.open(disk, "/r.db", { pageSize: 512 });
  await db.update((tx) => {
    const b = tx.createBucket(NAME);
    for (let i = 0; i < 1000; i++) b.put(key(i), enc.encode(String(i)));
    b.createBucket(key(500).slice(0, 8)); // "key00050", sorts between key000499 and key000500
  });
  db.view((tx) => {
    const b = tx.bucket(NAME)!;
    const got: string[] = [];
    const n = b.range(key(495), key(505), (_k, v) => void got.push(new TextDecoder().decode(v)));
    assert.equal(n, 10);
    assert.deepEqual(got, ["495", "496", "497", "498", "499", "500", "501", "502", "503", "504"]);
    assert.equal(b.range(key(990), undefined, () => {}), 10);
    assert.equal(b.range(key(0), undefined, () => {}, 7), 7);
    assert.equal(b.range(key(0), undefined, () => false), 1);
    assert.equal(b.range(key(1000), undefined, () => {}), 0);
  });
  await db.close();
});

Deno.test("db: a large value rewritten many times reuses its freed page runs", async () => {
  const disk = new SimDisk();
  const db = await DB.open(disk, "/l.db");
  const big = (n: number) => new Uint8Array(1_500_000).fill(n);
  await db.update((tx) => void tx.createBucket(NAME).put(enc.encode("v"), big(0)));
  for (let i = 1; i <= 20; i++) {
    await db.update((tx) => tx.bucket(NAME)!.put(enc.encode("v"), big(i)));
  }
  // Two or three spans alive at once (current, pending, reusable), not twenty.
  assert.ok(db.stats().fileBytes < 4 * 1_500_000 + 64 * 4096, `${db.stats().fileBytes} bytes`);
  db.view((tx) => assert.deepEqual(tx.bucket(NAME)!.get(enc.encode("v")), big(20)));
  assert.deepEqual(db.check(), []);
  await db.close();
});

Deno.test("db: written pages nothing read are not kept once durable; reads cache them again", async () => {
  const disk = new SimDisk();
  const db = await DB.open(disk, "/w.db", { pageSize: 1024 });
  // many commits that append, as MVCC's revisions do: each writes a few new leaves
  for (let c = 0; c < 50; c++) {
    await db.update((tx) => {
      const b = tx.bucket(NAME) ?? tx.createBucket(NAME);
      for (let i = c * 400; i < (c + 1) * 400; i++) b.put(key(i), new Uint8Array(40));
    });
  }
  const written = db.stats();
  // the file holds ~1,000 pages; the cache keeps only the few the commits read again (the
  // right-hand path each next commit copies)
  assert.ok(written.pages > 900, `${written.pages} pages`);
  assert.ok(
    written.cachedBytes < written.fileBytes / 10,
    `cached ${written.cachedBytes} of ${written.fileBytes} bytes`,
  );
  // every key reads back from the file, and what was read stays cached
  db.view((tx) => {
    const b = tx.bucket(NAME)!;
    for (let i = 0; i < 20_000; i++) assert.equal(b.get(key(i))?.length, 40, `key ${i}`);
  });
  const read = db.stats();
  assert.ok(
    read.cachedBytes > written.fileBytes / 2,
    `cached ${read.cachedBytes} of ${read.fileBytes} bytes after reading every key`,
  );
  assert.deepEqual(db.check(), []);
  await db.close();
});
