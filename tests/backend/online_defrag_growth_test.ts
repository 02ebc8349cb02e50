// The old page file during an online defragmentation (lib/backend/online_defrag.ts): the copy
// pins a read snapshot for its whole run, so the pages writes free meanwhile cannot all be
// reused. Those the snapshot never saw (allocated after it, then freed again) can: the file
// must not grow with the number of commits made during the copy. Replay with SEED=<seed>.
import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { openBackend } from "../../lib/backend/open.ts";
import { DB } from "../../lib/backend/db.ts";
import type { Tx } from "../../lib/backend/tx.ts";

const enc = new TextEncoder();
const k = (s: string) => enc.encode(s);
const turn = () => new Promise<void>((r) => setTimeout(r, 0));
const PATH = "/d/member/snap/db";

Deno.test("online defrag: the old file does not grow with the commits made during the copy", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const disk = new SimDisk();
  await disk.mkdirAll("/d/member/snap");
  const b = await openBackend(disk, PATH, {
    clock: new SimClock(),
    batchLimit: 1e9,
    defrag: { batchBytes: 4096, sliceMs: 0, tailOps: 50 },
  });
  b.write.createBucket("key");
  for (let i = 0; i < 3000; i++) {
    b.write.put("key", k(`k${String(i).padStart(5, "0")}`), k("v".repeat(100 + rand.int(200))));
  }
  await b.commit();
  const before = b.stats().fileBytes;
  let done = false;
  let commits = 0;
  let most = before;
  const defrag = b.defrag().finally(() => (done = true));
  while (!done) {
    // a few hot keys rewritten and committed, as a busy member's batches are
    for (let j = 0; j < 8; j++) {
      const i = rand.int(64) * 45;
      b.write.put("key", k(`k${String(i).padStart(5, "0")}`), k(`w${commits}-${j}`));
    }
    await b.commit();
    commits++;
    if (!done) most = Math.max(most, b.stats().fileBytes);
    await turn();
  }
  await defrag;
  const pageSize = 4096;
  const grew = (most - before) / pageSize;
  console.log(
    `${commits} commits during the defrag; the old file grew ${grew} pages (${before} bytes before)`,
  );
  assert.ok(commits >= 50, `only ${commits} commits during the defrag`);
  // what must be kept: the snapshot's pages the writes rewrite (the 64 hot keys' leaves, a
  // few branches) and a few commits' own pages; not a commit's worth per commit (before
  // the freelist's extents: 1,979 pages over 202 commits, 11 times the file)
  assert.ok(grew <= 64 + 32, `the old file grew ${grew} pages over ${commits} commits`);
  await b.close();
});

const key = (i: number) => enc.encode(`key-${String(i).padStart(5, "0")}`);
const NAME = enc.encode("b");

function contents(tx: Tx): Map<number, string> {
  const out = new Map<number, string>();
  const b = tx.bucket(NAME)!;
  for (let i = 0; i < 2000; i++) {
    const v = b.get(key(i));
    if (v !== undefined) out.set(i, new TextDecoder().decode(v));
  }
  return out;
}

Deno.test("db: pages written after a reader's snapshot and rewritten are reused; readers keep theirs", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const disk = new SimDisk();
  const db = await DB.open(disk, "/r.db", { pageSize: 1024 });
  const model = new Map<number, string>();
  await db.update((tx) => {
    const b = tx.createBucket(NAME);
    for (let i = 0; i < 2000; i++) {
      model.set(i, `v0-${i}`.padEnd(12, "x"));
      b.put(key(i), enc.encode(model.get(i)!));
    }
  });
  const before = db.stats().pages;
  const rewrite = async (round: number) => {
    await db.update((tx) => {
      const b = tx.bucket(NAME)!;
      for (let j = 0; j < 20; j++) {
        const i = rand.int(2000);
        if (rand.chance(0.2)) {
          b.delete(key(i));
          model.delete(i);
        } else {
          const v = `v${round}-${j}`.padEnd(12, "x"); // the data does not grow
          b.put(key(i), enc.encode(v));
          model.set(i, v);
        }
      }
    });
  };
  // two readers at two points, each with commits after it
  const a = db.begin(false);
  const atA = new Map(model);
  for (let r = 1; r <= 100; r++) await rewrite(r);
  const b = db.begin(false);
  const atB = new Map(model);
  for (let r = 101; r <= 200; r++) await rewrite(r);
  assert.deepEqual(contents(a), atA);
  assert.deepEqual(contents(b), atB);
  // kept: what each snapshot holds that was rewritten since (at most a file each), not
  // what 200 commits wrote (each rewrites about 20 leaves, a few branches and the freelist:
  // 6,564 pages before the freelist's extents, 167 after)
  const grew = db.stats().pages - before;
  console.log(`${before} pages before; ${grew} more after 200 commits with two readers open`);
  assert.ok(grew <= 2 * before + 32, `grew ${grew} pages from ${before}`);
  a.rollback();
  b.rollback();
  for (let r = 201; r <= 300; r++) await rewrite(r);
  db.view((tx) => assert.deepEqual(contents(tx), model));
  assert.ok(db.stats().pages - before <= 2 * before + 32, "reused once the readers closed");
  assert.deepEqual(db.check(), []);
  await db.close();
  const again = await DB.open(disk, "/r.db", { pageSize: 1024 });
  again.view((tx) => assert.deepEqual(contents(tx), model));
  assert.deepEqual(again.check(), []);
  await again.close();
});

Deno.test("db: readers opened and closed at random among commits each keep their snapshot", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const disk = new SimDisk();
  const db = await DB.open(disk, "/m.db", { pageSize: 512 });
  const model = new Map<number, string>();
  await db.update((tx) => {
    const b = tx.createBucket(NAME);
    for (let i = 0; i < 2000; i += 2) {
      model.set(i, `v0-${i}`);
      b.put(key(i), enc.encode(model.get(i)!));
    }
  });
  const readers: { tx: Tx; want: Map<number, string> }[] = [];
  for (let step = 0; step < 400; step++) {
    const r = rand.int(10);
    if (r < 2 && readers.length < 6) readers.push({ tx: db.begin(false), want: new Map(model) });
    else if (r < 4 && readers.length > 0) {
      const [gone] = readers.splice(rand.int(readers.length), 1);
      assert.deepEqual(contents(gone.tx), gone.want, `step ${step}`);
      gone.tx.rollback();
    } else {
      await db.update((tx) => {
        const b = tx.bucket(NAME)!;
        for (let j = 0, n = 1 + rand.int(30); j < n; j++) {
          const i = rand.int(2000);
          if (rand.chance(0.3)) {
            b.delete(key(i));
            model.delete(i);
          } else {
            const v = `s${step}-${"z".repeat(rand.int(40))}`;
            b.put(key(i), enc.encode(v));
            model.set(i, v);
          }
        }
      });
    }
  }
  for (const { tx, want } of readers) {
    assert.deepEqual(contents(tx), want);
    tx.rollback();
  }
  db.view((tx) => assert.deepEqual(contents(tx), model));
  assert.deepEqual(db.check(), []);
  await db.close();
});
