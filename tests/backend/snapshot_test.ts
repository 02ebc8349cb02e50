// Read transactions keep their snapshot while a writer commits and frees the pages under
// them; freed pages are reused only once no reader can see them.
import assert from "node:assert/strict";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { DB } from "../../lib/backend/db.ts";
import type { Tx } from "../../lib/backend/tx.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const NAME = enc.encode("b");

function scan(tx: Tx): string[] {
  const out: string[] = [];
  const c = tx.bucket(NAME)!.cursor();
  for (let ok = c.first(); ok; ok = c.next()) {
    out.push(`${dec.decode(c.key())}=${dec.decode(c.value())}`);
  }
  return out;
}

for (const cacheBytes of [undefined, 1]) {
  Deno.test(`snapshot: readers see their snapshot while the writer frees pages under them (cache ${cacheBytes ?? "default"})`, async () => {
    const disk = new SimDisk();
    const db = await DB.open(disk, "/s.db", { pageSize: 512, cacheBytes });
    await db.update((tx) => {
      const b = tx.createBucket(NAME);
      for (let i = 0; i < 2000; i++) {
        b.put(enc.encode(`k${String(i).padStart(5, "0")}`), enc.encode(`v0-${i}`));
      }
    });
    const reader = db.begin(false);
    const before = scan(reader);
    assert.equal(before.length, 2000);
    // Rewrite everything many times: every old page is freed, and without the reader they
    // would be reused.
    for (let round = 1; round <= 10; round++) {
      await db.update((tx) => {
        const b = tx.bucket(NAME)!;
        for (let i = 0; i < 2000; i++) {
          const key = enc.encode(`k${String(i).padStart(5, "0")}`);
          if (i % 3 === round % 3) b.delete(key);
          else b.put(key, enc.encode(`v${round}-${i}`));
        }
      });
      // The reader's view is unchanged after every commit.
      assert.deepEqual(scan(reader), before);
      assert.equal(reader.bucket(NAME)!.get(enc.encode("k00001"))!.length, 4);
    }
    reader.rollback();
    // With the reader gone, further rewrites reuse freed pages instead of growing the file
    // (every key back, so the data is larger than while read: compared from round 13 on,
    // once a round's pages and the last round's freed ones both exist).
    let settled = 0;
    for (let round = 11; round <= 20; round++) {
      await db.update((tx) => {
        const b = tx.bucket(NAME)!;
        for (let i = 0; i < 2000; i++) {
          b.put(enc.encode(`k${String(i).padStart(5, "0")}`), enc.encode(`v${round}-${i}`));
        }
      });
      if (round === 13) settled = db.stats().pages;
    }
    assert.ok(db.stats().pages <= settled, `${db.stats().pages} > ${settled}`);
    assert.deepEqual(db.check(), []);
    if (cacheBytes === 1) {
      // The smallest cache really evicts (and the scans above re-read pages from the file).
      // Kept: the last commit's pages (evicted at the next insertion) and the cache's floor
      // of 64 pages, not every page touched (the file, once freed pages are reused).
      const st = db.stats();
      const most = st.inUsePages * 512 + 64 * 512;
      assert.ok(st.cachedBytes <= most, `${st.cachedBytes} cached of ${st.fileBytes}`);
      assert.ok(most < st.fileBytes * 0.75, `${most} of ${st.fileBytes}: the check means nothing`);
    }
    const latest = db.view(scan);
    assert.equal(latest.length, 2000);
    assert.equal(latest[0], "k00000=v20-0");
    await db.close();
  });
}

Deno.test("snapshot: a reader started during a commit's write sees the new state", async () => {
  const disk = new SimDisk();
  const db = await DB.open(disk, "/s.db");
  await db.update((tx) => void tx.createBucket(NAME).put(enc.encode("a"), enc.encode("1")));
  const tx = db.begin(true);
  tx.bucket(NAME)!.put(enc.encode("a"), enc.encode("2"));
  const old = db.begin(false);
  const committing = tx.commit();
  // The commit is prepared at once: new readers see it; the old reader keeps its view.
  const fresh = db.begin(false);
  assert.equal(dec.decode(fresh.bucket(NAME)!.get(enc.encode("a"))!), "2");
  assert.equal(dec.decode(old.bucket(NAME)!.get(enc.encode("a"))!), "1");
  // The next writer can start before the previous commit is durable.
  const next = db.begin(true);
  next.bucket(NAME)!.put(enc.encode("b"), enc.encode("3"));
  const second = next.commit();
  await committing;
  await second;
  fresh.rollback();
  old.rollback();
  await db.close();
  const again = await DB.open(disk, "/s.db");
  assert.deepEqual(again.view(scan), ["a=2", "b=3"]);
  await again.close();
});
