// The Backend wrapper: batching by count and by interval, reads of buffered writes, pinned
// views, failure propagation, streaming copies, defragmentation and the file lock.
import assert from "node:assert/strict";
import { SimClock } from "../../lib/io/clock.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";
import { DB } from "../../lib/backend/db.ts";
import { FailedError, LockedError, openBackend } from "../../lib/backend/open.ts";
import type { ReadTx } from "../../lib/backend/backend.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const k = (s: string) => enc.encode(s);

function all(r: ReadTx, bucket: string): [string, string][] {
  const out: [string, string][] = [];
  r.range(bucket, new Uint8Array([0]), undefined, (key, value) => {
    out.push([dec.decode(key), dec.decode(value)]);
  });
  return out;
}

Deno.test("backend: reads see buffered writes before any commit", async () => {
  const disk = new SimDisk();
  const clock = new SimClock();
  const b = await openBackend(disk, "/b.db", { clock });
  b.write.createBucket("key");
  b.write.put("key", k("a"), k("1"));
  b.write.put("key", k("c"), k("3"));
  b.write.put("key", k("b"), k("2"));
  assert.equal(b.stats().commits, 0);
  assert.equal(dec.decode(b.read.get("key", k("b"))!), "2");
  assert.deepEqual(all(b.read, "key"), [["a", "1"], ["b", "2"], ["c", "3"]]);
  b.write.delete("key", k("b"));
  assert.equal(b.read.get("key", k("b")), undefined);
  // Range bounds and limit.
  const got: string[] = [];
  b.read.range("key", k("a"), k("c"), (key) => {
    got.push(dec.decode(key));
  });
  assert.deepEqual(got, ["a"]);
  const limited: string[] = [];
  b.read.range("key", k("a"), undefined, (key) => {
    limited.push(dec.decode(key));
  }, 1);
  assert.deepEqual(limited, ["a"]);
  assert.equal(b.read.get("missing", k("a")), undefined);
  assert.throws(() => b.write.put("missing", k("a"), k("1")), /bucket missing not found/);
  await b.close();
});

Deno.test("backend: commits at batchLimit operations, at the end of the synchronous step", async () => {
  const disk = new SimDisk();
  const clock = new SimClock();
  const b = await openBackend(disk, "/b.db", { clock, batchLimit: 10 });
  b.write.createBucket("key"); // 1 op
  for (let i = 0; i < 24; i++) b.write.put("key", k(`k${i}`), k(`v${i}`));
  // 25 operations in one synchronous step: never split by a commit (the server writes an
  // entry and its consistent index in one step; a commit between them would make a replay
  // apply the entry twice)...
  assert.equal(b.stats().commits, 0);
  // ...but committed, all of them, as soon as the step ends
  await Promise.resolve();
  assert.equal(b.stats().commits, 1);
  b.write.put("key", k("k24"), k("v24"));
  await Promise.resolve();
  assert.equal(b.stats().commits, 1, "below the limit: waits for the interval or commit()");
  await b.commit();
  assert.equal(b.stats().commits, 2);
  // After a kill -9, the reopened file has every committed write.
  disk.processCrash();
  const again = await openBackend(disk, "/b.db", { clock });
  assert.equal(all(again.read, "key").length, 25);
  await again.close();
});

Deno.test("backend: commits every batchInterval on the clock", async () => {
  const disk = new SimDisk();
  const clock = new SimClock();
  const b = await openBackend(disk, "/b.db", { clock, batchInterval: 100 });
  b.write.createBucket("key");
  b.write.put("key", k("a"), k("1"));
  clock.advance(99);
  assert.equal(b.stats().commits, 0);
  clock.advance(1);
  assert.equal(b.stats().commits, 1);
  // Nothing buffered: the interval does not commit empty batches.
  clock.advance(500);
  assert.equal(b.stats().commits, 1);
  await b.commit();
  disk.processCrash();
  const again = await openBackend(disk, "/b.db", { clock });
  assert.equal(dec.decode(again.read.get("key", k("a"))!), "1");
  await again.close();
});

Deno.test("backend: a pinned view stays consistent while writes commit", async () => {
  const disk = new SimDisk();
  const b = await openBackend(disk, "/b.db", { clock: new SimClock(), batchLimit: 50 });
  b.write.createBucket("key");
  for (let i = 0; i < 500; i++) b.write.put("key", k(`k${String(i).padStart(4, "0")}`), k("old"));
  const pin = await b.pin();
  for (let i = 0; i < 500; i++) {
    if (i % 2) b.write.delete("key", k(`k${String(i).padStart(4, "0")}`));
    else b.write.put("key", k(`k${String(i).padStart(4, "0")}`), k("new"));
    // steps of 50 writes: each step that reaches the limit commits when it ends
    if (i % 50 === 49) await Promise.resolve();
  }
  await b.commit();
  // Writers committed and freed pages many times; the pinned view still reads the old state.
  assert.ok(b.stats().commits > 5);
  const seen = all(pin, "key");
  assert.equal(seen.length, 500);
  assert.ok(seen.every(([, v]) => v === "old"));
  assert.equal(all(b.read, "key").length, 250);
  pin.release();
  assert.throws(() => pin.get("key", k("k0000")), /released/);
  assert.deepEqual(b.check(), []);
  await b.close();
});

Deno.test("backend: a failed background commit fails the backend and keeps the file", async () => {
  const disk = new SimDisk();
  const b = await openBackend(disk, "/b.db", { clock: new SimClock(), batchLimit: 100 });
  b.write.createBucket("key");
  b.write.put("key", k("kept"), k("yes"));
  await b.commit();
  disk.capacity = disk.contents("/b.db").length + 8192;
  // 100 puts of 1 KiB trigger a background commit that cannot fit.
  for (let i = 0; i < 100; i++) b.write.put("key", k(`big${i}`), new Uint8Array(1024));
  // The failure surfaces on the next call, naming the cause.
  await assert.rejects(b.commit(), (err: unknown) => {
    assert.ok(err instanceof FailedError);
    assert.match((err as Error).message, /no space left on device/);
    return true;
  });
  assert.throws(() => b.read.get("key", k("kept")), FailedError);
  assert.throws(() => b.write.put("key", k("x"), k("y")), FailedError);
  await assert.rejects(b.close(), FailedError);
  disk.capacity = Infinity;
  const again = await openBackend(disk, "/b.db", { clock: new SimClock() });
  assert.deepEqual(all(again.read, "key"), [["kept", "yes"]]);
  assert.deepEqual(again.check(), []);
  await again.close();
});

Deno.test("backend: a second opener gets a clear lock error", async () => {
  const disk = new SimDisk();
  const b = await openBackend(disk, "/b.db", { clock: new SimClock() });
  await assert.rejects(openBackend(disk, "/b.db", { clock: new SimClock() }), LockedError);
  await b.close();
  const again = await openBackend(disk, "/b.db", { clock: new SimClock() });
  await again.close();
});

Deno.test("backend: writeTo streams a copy that opens to the same contents", async () => {
  const disk = new SimDisk();
  const b = await openBackend(disk, "/b.db", { clock: new SimClock(), batchLimit: 200 });
  b.write.createBucket("key");
  b.write.createBucket("meta");
  for (let i = 0; i < 3000; i++) b.write.put("key", k(`k${i}`), k(`v${i}`.repeat(i % 7 + 1)));
  b.write.put("meta", k("consistent_index"), k("42"));
  const chunks: Uint8Array[] = [];
  const copying = b.writeTo(async (c) => {
    chunks.push(c.slice());
  });
  // Writes continue while the copy streams; they are not in the copy.
  b.write.put("key", k("late"), k("x"));
  const n = await copying;
  const want = all(b.read, "key").filter(([key]) => key !== "late");
  const file = await disk.open("/copy.db", { create: true });
  let off = 0;
  for (const c of chunks) {
    await file.writeAt(c, off);
    off += c.length;
  }
  assert.equal(off, n);
  await file.sync();
  await file.close();
  const copy = await openBackend(disk, "/copy.db", { clock: new SimClock() });
  assert.deepEqual(copy.check(), []);
  assert.deepEqual(all(copy.read, "key"), want);
  assert.deepEqual(all(copy.read, "meta"), [["consistent_index", "42"]]);
  await copy.close();
  await b.close();
});

Deno.test("backend: defrag shrinks the file and keeps every write", async () => {
  const disk = new SimDisk();
  await disk.mkdirAll("/d");
  const b = await openBackend(disk, "/d/b.db", { clock: new SimClock(), batchLimit: 500 });
  b.write.createBucket("key");
  for (let i = 0; i < 5000; i++) {
    b.write.put("key", k(`k${String(i).padStart(5, "0")}`), new Uint8Array(100).fill(i));
  }
  await b.commit();
  for (let i = 0; i < 5000; i++) {
    if (i % 10) b.write.delete("key", k(`k${String(i).padStart(5, "0")}`));
  }
  b.write.put("key", k("buffered"), k("not yet committed"));
  const before = b.stats();
  const want = all(b.read, "key");
  await b.defrag();
  const after = b.stats();
  assert.ok(after.fileBytes < before.fileBytes / 3, `${after.fileBytes} vs ${before.fileBytes}`);
  assert.deepEqual(all(b.read, "key"), want);
  assert.deepEqual(b.check(), []);
  b.write.put("key", k("after"), k("defrag"));
  await b.close();
  const again = await openBackend(disk, "/d/b.db", { clock: new SimClock() });
  assert.deepEqual(all(again.read, "key").length, want.length + 1);
  assert.equal(dec.decode(again.read.get("key", k("buffered"))!), "not yet committed");
  assert.deepEqual(await disk.readDir("/d"), ["b.db"]);
  await again.close();
});

Deno.test("backend: the page file API rejects bad keys and misuse clearly", async () => {
  const disk = new SimDisk();
  const db = await DB.open(disk, "/x.db");
  const tx = db.begin(true);
  const bucket = tx.createBucket(k("b"));
  assert.throws(() => bucket.put(new Uint8Array(0), k("v")), /key required/);
  assert.throws(() => bucket.put(new Uint8Array(40000), k("v")), /key too large/);
  bucket.createBucket(k("nested"));
  assert.throws(() => bucket.put(k("nested"), k("v")), /nested bucket/);
  assert.throws(() => tx.root.put(k("x"), k("v")), /root bucket holds only buckets/);
  assert.throws(() => db.begin(true), /already open/);
  await tx.commit();
  await assert.rejects(tx.commit(), /closed/);
  await db.close();
  assert.throws(() => db.begin(false), /closed/);
});

Deno.test("backend: a pinned view survives a defrag", async () => {
  const disk = new SimDisk();
  const b = await openBackend(disk, "/p.db", { clock: new SimClock(), cacheBytes: 1 });
  b.write.createBucket("key");
  for (let i = 0; i < 2000; i++) {
    b.write.put("key", k(`k${String(i).padStart(4, "0")}`), k("v1".repeat(100)));
  }
  const pin = await b.pin();
  for (let i = 0; i < 2000; i++) {
    b.write.put("key", k(`k${String(i).padStart(4, "0")}`), k("v2".repeat(100)));
  }
  await b.defrag();
  // The view still reads the old file (re-reading evicted pages from it).
  const seen = all(pin, "key");
  assert.equal(seen.length, 2000);
  assert.ok(seen.every(([, v]) => v === "v1".repeat(100)));
  assert.ok(all(b.read, "key").every(([, v]) => v === "v2".repeat(100)));
  pin.release();
  await b.close();
});

Deno.test("backend: writes made while a defrag runs are carried into the new file", async () => {
  const disk = new SimDisk();
  const clock = new SimClock();
  const b = await openBackend(disk, "/w.db", { clock, batchLimit: 300 });
  b.write.createBucket("key");
  b.write.createBucket("gone");
  for (let i = 0; i < 3000; i++) {
    b.write.put("key", k(`k${String(i).padStart(4, "0")}`), k(`v${i}`));
  }
  b.write.put("gone", k("x"), k("y"));
  const model = new Map<string, string>();
  for (let i = 0; i < 3000; i++) model.set(`k${String(i).padStart(4, "0")}`, `v${i}`);
  let finished = -1;
  const defrag = b.defrag().then(() => void (finished = round));
  let round = 0;
  // Interleave writes with the defrag's awaits, including background commits of the old file.
  for (; round < 20; round++) {
    for (let i = round; i < 3000; i += 20) {
      const key = `k${String(i).padStart(4, "0")}`;
      if (i % 3 === 0) {
        b.write.delete("key", k(key));
        model.delete(key);
      } else {
        b.write.put("key", k(key), k(`r${round}`));
        model.set(key, `r${round}`);
      }
    }
    if (round === 5) b.write.deleteBucket("gone");
    if (round === 6) b.write.createBucket("gone");
    if (round === 7) b.write.put("gone", k("z"), k("new"));
    clock.advance(100);
    await Promise.resolve();
  }
  await defrag;
  // The copy and the swap took several turns: writes landed before, during and after it.
  assert.ok(finished > 2, `defrag finished in round ${finished}`);
  const want = [...model.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1));
  assert.deepEqual(all(b.read, "key"), want);
  assert.deepEqual(all(b.read, "gone"), [["z", "new"]]);
  await b.close();
  const again = await openBackend(disk, "/w.db", { clock: new SimClock() });
  assert.deepEqual(all(again.read, "key"), want);
  assert.deepEqual(all(again.read, "gone"), [["z", "new"]]);
  assert.deepEqual(again.check(), []);
  await again.close();
});

Deno.test("backend: writes made while close() commits are not dropped", async () => {
  const disk = new SimDisk();
  const b = await openBackend(disk, "/c.db", { clock: new SimClock() });
  b.write.createBucket("key");
  b.write.put("key", k("a"), k("1"));
  const closing = b.close();
  // close() is awaiting its commit: this write lands in the next batch and must be kept.
  b.write.put("key", k("b"), k("2"));
  await closing;
  assert.throws(() => b.write.put("key", k("c"), k("3")), /closed/);
  const again = await openBackend(disk, "/c.db", { clock: new SimClock() });
  assert.deepEqual(all(again.read, "key"), [["a", "1"], ["b", "2"]]);
  await again.close();
});

Deno.test("backend: defrag on the real disk keeps the data and the lock", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-backend-defrag-" });
  try {
    const disk = new RealDisk();
    const path = `${dir}/db`;
    const b = await openBackend(disk, path, { clock: new SimClock(), cacheBytes: 1 });
    b.write.createBucket("key");
    for (let i = 0; i < 3000; i++) {
      b.write.put("key", k(`k${String(i).padStart(4, "0")}`), k("x".repeat(200)));
    }
    await b.commit();
    for (let i = 0; i < 3000; i += 2) b.write.delete("key", k(`k${String(i).padStart(4, "0")}`));
    await b.defrag();
    // Pages evicted from the small cache are re-read from the renamed file.
    assert.equal(all(b.read, "key").length, 1500);
    await assert.rejects(openBackend(disk, path, { clock: new SimClock() }), LockedError);
    b.write.put("key", k("after"), k("defrag"));
    await b.close();
    assert.deepEqual((await disk.readDir(dir)).sort(), ["db"]);
    const again = await openBackend(disk, path, { clock: new SimClock() });
    assert.equal(all(again.read, "key").length, 1501);
    assert.deepEqual(again.check(), []);
    await again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
