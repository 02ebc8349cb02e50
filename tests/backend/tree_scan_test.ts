// The whole-bucket scan (lib/backend/tree_scan.ts) a restart rebuilds its key index with: the
// same keys and values in the same order as a cursor, across window and run edges, big values
// spanning pages, pages cached or not; damaged pages named as the cursor names them; no page
// left in the cache; a bucket edited in the transaction read through its nodes.
import assert from "node:assert/strict";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { DB } from "../../lib/backend/db.ts";
import { CorruptionError } from "../../lib/backend/errors.ts";
import { openBackend } from "../../lib/backend/open.ts";
import { scanTree } from "../../lib/backend/tree_scan.ts";
import {
  BRANCH,
  ELEM_SIZE,
  elemChild,
  LEAF,
  PAGE_HEADER,
  pageCount,
  pageFlags,
  pageOverflow,
  pageUsed,
  putU32,
  sealPage,
} from "../../lib/backend/page.ts";
import { Rand } from "../../lib/base/rand.ts";
import { crc32c } from "../../lib/base/crc32c.ts";
import type { Tx } from "../../lib/backend/tx.ts";
import type { VerifyMode } from "../../lib/backend/page_verifier.ts";

const enc = new TextEncoder();
const NAME = enc.encode("b");
const PS = 4096;
const dec = new TextDecoder();
/** A key and its value's length and checksum: cheap to compare across thousands of pairs. */
const entry = (k: Uint8Array, v: Uint8Array) => `${dec.decode(k)}=${v.length}/${crc32c(v)}`;

/** A file whose bucket holds `n` keys with values of 0 to 10 KiB (some span several pages). */
async function makeFile(disk: SimDisk, rand: Rand, n: number): Promise<number> {
  const db = await DB.open(disk, "/x.db", { pageSize: PS });
  // several commits with deletes between them, so freed pages are reused out of key order
  for (let round = 0; round < 4; round++) {
    await db.update((tx) => {
      const b = tx.bucket(NAME) ?? tx.createBucket(NAME);
      for (let i = 0; i < n / 4; i++) {
        const size = rand.int(10) === 0 ? rand.int(10_240) : rand.int(300);
        b.put(enc.encode(`k${String(rand.int(n)).padStart(6, "0")}`), rand.bytes(size));
      }
      for (let i = 0; i < n / 20; i++) {
        b.delete(enc.encode(`k${String(rand.int(n)).padStart(6, "0")}`));
      }
    });
  }
  const root = db.view((tx) => tx.bucket(NAME)!.rootPgid);
  await db.close();
  return root;
}

function viaCursor(tx: Tx): string[] {
  const out: string[] = [];
  const c = tx.bucket(NAME)!.cursor();
  for (let ok = c.first(); ok; ok = c.next()) out.push(entry(c.key(), c.value()));
  return out;
}

function viaScan(
  tx: Tx,
  root: number,
  windowPages?: number,
  gapPages?: number,
  verify: VerifyMode = "inline",
): string[] {
  const out: string[] = [];
  const stats = { pages: 0, workerPages: 0 };
  scanTree(tx, root, (k, v) => out.push(entry(k, v)), { windowPages, gapPages, verify, stats });
  // "worker" hands the worker every page read in a window (a page spanning past its run is
  // read and checked on its own); "inline" none
  if (verify === "worker") assert.ok(stats.workerPages > stats.pages / 2, JSON.stringify(stats));
  else assert.equal(stats.workerPages, 0);
  return out;
}

Deno.test("tree scan: the cursor's keys and values in order, whatever the window and gap", async () => {
  const seed = Number(Deno.env.get("SEED") ?? Date.now() % 1_000_000);
  console.log(`seed=${seed}`);
  const disk = new SimDisk();
  const root = await makeFile(disk, new Rand(seed), 2000);
  const first = await DB.open(disk, "/x.db");
  const want = first.view((tx) => viaCursor(tx));
  await first.close();
  assert.ok(want.length > 1000);
  const runs: [number, number, VerifyMode][] = [
    [1, 0, "inline"],
    [3, 0, "worker"],
    [7, 2, "inline"],
    [4096, 8, "inline"],
    [50, 100, "inline"],
  ];
  for (const [windowPages, gapPages, verify] of runs) {
    // a fresh handle each time: nothing cached but the metas and the freelist
    const fresh = await DB.open(disk, "/x.db");
    const got = fresh.view((tx) => viaScan(tx, root, windowPages, gapPages, verify));
    assert.deepEqual(got, want, `window ${windowPages} gap ${gapPages} ${verify}`);
    // no page of the tree was cached by the scan
    fresh.view((tx) => assert.equal(tx.cachedPage(root), undefined));
    await fresh.close();
  }
  // with every page cached already (a cursor read them all), the same answer
  const db = await DB.open(disk, "/x.db");
  db.view((tx) => viaCursor(tx));
  assert.deepEqual(db.view((tx) => viaScan(tx, root, 5, 1)), want);
  await db.close();
});

for (const verify of ["inline", "worker"] as const) {
  Deno.test(`tree scan: a flipped bit in a leaf is named by its checksum (${verify})`, async () => {
    const disk = new SimDisk();
    const root = await makeFile(disk, new Rand(3), 2000);
    const page = disk.contents("/x.db").slice(root * PS, (root + 1) * PS);
    assert.equal(pageFlags(page), BRANCH);
    // a leaf of one page (a page spanning past its run is read and checked on its own; this
    // one is read within its window, so the worker checks it in "worker" mode)
    const pageAt = (id: number) => disk.contents("/x.db").slice(id * PS, (id + 1) * PS);
    let leaf = -1;
    for (let i = 0; i < pageCount(page) && leaf < 0; i++) {
      const child = pageAt(elemChild(page, i));
      if (pageFlags(child) === LEAF && pageOverflow(child) === 0) leaf = elemChild(page, i);
    }
    assert.ok(leaf > 0, "a one-page leaf under the root");
    // the last byte in use (a value's): nothing but the checksum can tell
    disk.flipBits("/x.db", leaf * PS + pageUsed(pageAt(leaf)) - 1, 0x20);
    const again = await DB.open(disk, "/x.db");
    try {
      again.view((tx) => viaScan(tx, root, 3, 0, verify));
      assert.fail("a damaged page was scanned");
    } catch (e) {
      assert.ok(e instanceof CorruptionError);
      assert.match(e.message, new RegExp(`page ${leaf}: checksum mismatch`));
    } finally {
      await again.close();
    }
  });

  Deno.test(`tree scan: a damaged branch that derails the walk is the error (${verify})`, async () => {
    const disk = new SimDisk();
    const root = await makeFile(disk, new Rand(5), 2000);
    // the root's second child id points past the file; the checksum is not resealed, so the
    // damage is the root's checksum: the walk meets the bad id before the worker has spoken
    disk.flipBits("/x.db", root * PS + PAGE_HEADER + ELEM_SIZE + 4 + 3, 0x40);
    const again = await DB.open(disk, "/x.db");
    try {
      again.view((tx) => viaScan(tx, root, 4096, 8, verify));
      assert.fail("a damaged page was scanned");
    } catch (e) {
      assert.ok(e instanceof CorruptionError);
      assert.match(e.message, new RegExp(`page ${root}: checksum mismatch`));
    } finally {
      await again.close();
    }
  });
}

Deno.test("tree scan: a cycle in the tree is stopped at the depth limit", async () => {
  const disk = new SimDisk();
  const root = await makeFile(disk, new Rand(4), 2000);
  const page = disk.contents("/x.db").slice(root * PS, (root + 1) * PS);
  // point the branch's first child at the branch itself, sealed so the checksum passes
  putU32(page, PAGE_HEADER + 4, root);
  sealPage(page);
  disk.poke("/x.db", root * PS, page);
  const db = await DB.open(disk, "/x.db");
  try {
    assert.throws(
      () => db.view((tx) => scanTree(tx, root, () => {})),
      /deeper than 64 levels \(a cycle\?\)/,
    );
  } finally {
    await db.close();
  }
});

Deno.test("tree scan: Backend.scan sees writes not yet committed (read through the nodes)", async () => {
  const disk = new SimDisk();
  const b = await openBackend(disk, "/b.db");
  b.write.createBucket("key");
  for (let i = 0; i < 300; i++) b.write.put("key", enc.encode(`a${i}`), new Uint8Array(500));
  await b.commit();
  b.write.put("key", enc.encode("a0"), enc.encode("new"));
  b.write.delete("key", enc.encode("a1"));
  const seen = new Map<string, number>();
  b.read.scan("key", (k, v) => void seen.set(new TextDecoder().decode(k), v.length));
  assert.equal(seen.size, 299);
  assert.equal(seen.get("a0"), 3);
  assert.equal(seen.has("a1"), false);
  await b.close();
  // reopened: the committed pages are scanned, and the close committed the edits
  const again = await openBackend(disk, "/b.db");
  const keys: string[] = [];
  again.read.scan("key", (k) => void keys.push(new TextDecoder().decode(k)));
  assert.equal(keys.length, 299);
  assert.deepEqual(keys, [...keys].sort());
  again.read.scan("missing", () => assert.fail("a missing bucket has no keys"));
  await again.close();
});
