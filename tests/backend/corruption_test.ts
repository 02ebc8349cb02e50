// Damaged files give clear errors naming the page: truncation, bad meta checksums (the other
// meta is used when one is good), pages of the wrong type, cycles, flipped bits.
import assert from "node:assert/strict";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { DB } from "../../lib/backend/db.ts";
import { CorruptionError } from "../../lib/backend/errors.ts";
import {
  BRANCH,
  elemChild,
  elemValue,
  FREELIST,
  PAGE_HEADER,
  pageCount,
  pageFlags,
  putU16,
  putU32,
  sealPage,
  u32,
} from "../../lib/backend/page.ts";

const enc = new TextEncoder();
const NAME = enc.encode("b");
const PS = 4096;

async function makeFile(
  disk: SimDisk,
  keys: number,
): Promise<{ bucketRoot: number; txid: number }> {
  const db = await DB.open(disk, "/x.db", { pageSize: PS });
  await db.update((tx) => {
    const b = tx.createBucket(NAME);
    for (let i = 0; i < keys; i++) {
      b.put(enc.encode(`key${String(i).padStart(5, "0")}`), new Uint8Array(100).fill(7));
    }
  });
  const bucketRoot = db.view((tx) => tx.bucket(NAME)!.rootPgid);
  const txid = db.meta.txid;
  await db.close();
  return { bucketRoot, txid };
}

function readPage(disk: SimDisk, id: number): Uint8Array {
  return disk.contents("/x.db").slice(id * PS, (id + 1) * PS);
}

function writePage(disk: SimDisk, id: number, p: Uint8Array): void {
  sealPage(p);
  disk.poke("/x.db", id * PS, p);
}

function readAllKeys(db: DB): number {
  return db.view((tx) => {
    let n = 0;
    const c = tx.bucket(NAME)!.cursor();
    for (let ok = c.first(); ok; ok = c.next()) n++;
    return n;
  });
}

Deno.test("corruption: a truncated file names the first missing page", async () => {
  const disk = new SimDisk();
  await makeFile(disk, 500);
  const size = disk.contents("/x.db").length;
  const f = await disk.open("/x.db");
  await f.truncate(size - PS);
  await f.sync();
  await f.close();
  await assert.rejects(DB.open(disk, "/x.db"), (err: unknown) => {
    assert.ok(err instanceof CorruptionError);
    assert.match(err.message, /file truncated/);
    assert.equal(err.page, size / PS - 1);
    return true;
  });
});

Deno.test("corruption: a bad meta checksum falls back to the other meta; two bad metas fail", async () => {
  const disk = new SimDisk();
  const { txid } = await makeFile(disk, 10);
  const db = await DB.open(disk, "/x.db");
  await db.update((tx) => tx.bucket(NAME)!.put(enc.encode("newer"), enc.encode("x")));
  assert.equal(db.meta.txid, txid + 1);
  await db.close();
  // Damage the newest meta: the previous commit is used.
  disk.flipBits("/x.db", ((txid + 1) % 2) * PS + PAGE_HEADER + 20, 0x04);
  const older = await DB.open(disk, "/x.db");
  assert.equal(older.meta.txid, txid);
  assert.equal(readAllKeys(older), 10);
  await older.close();
  // Damage both: a clear error.
  disk.flipBits("/x.db", (txid % 2) * PS + PAGE_HEADER + 24, 0x10);
  await assert.rejects(DB.open(disk, "/x.db"), /page file corrupt: no valid meta page.*checksum/);
});

Deno.test("corruption: a flipped bit in a data page is caught by its checksum", async () => {
  const disk = new SimDisk();
  const { bucketRoot } = await makeFile(disk, 500);
  const root = readPage(disk, bucketRoot);
  assert.equal(pageFlags(root), BRANCH);
  const leaf = elemChild(root, 1);
  disk.flipBits("/x.db", leaf * PS + 300, 0x20);
  const db = await DB.open(disk, "/x.db");
  assert.throws(
    () => readAllKeys(db),
    new RegExp(`page file corrupt: page ${leaf}: checksum mismatch`),
  );
  assert.ok(db.check().some((p) => p.includes(`page ${leaf}: checksum mismatch`)));
  await db.close();
});

Deno.test("corruption: a page of the wrong type is named", async () => {
  const disk = new SimDisk();
  const { bucketRoot } = await makeFile(disk, 500);
  const root = readPage(disk, bucketRoot);
  const leaf = elemChild(root, 0);
  const p = readPage(disk, leaf);
  putU16(p, 4, FREELIST);
  writePage(disk, leaf, p);
  const db = await DB.open(disk, "/x.db");
  assert.throws(
    () => db.view((tx) => tx.bucket(NAME)!.get(enc.encode("key00000"))),
    new RegExp(`page ${leaf}: expected a branch or leaf page, found freelist`),
  );
  assert.ok(db.check().some((m) => m.includes(`page ${leaf}: expected branch or leaf`)));
  await db.close();
});

Deno.test("corruption: a cycle in the tree is detected, not followed forever", async () => {
  const disk = new SimDisk();
  const { bucketRoot } = await makeFile(disk, 500);
  const root = readPage(disk, bucketRoot);
  assert.ok(pageCount(root) > 2);
  // Point the last child back at the branch itself.
  const last = pageCount(root) - 1;
  putU32(root, PAGE_HEADER + last * 12 + 4, bucketRoot);
  writePage(disk, bucketRoot, root);
  const db = await DB.open(disk, "/x.db");
  assert.throws(() => readAllKeys(db), /deeper than 64 levels \(a cycle\?\)/);
  assert.throws(
    () => db.view((tx) => tx.bucket(NAME)!.get(enc.encode("key99999"))),
    /a cycle\?/,
  );
  const problems = db.check();
  assert.ok(
    problems.some((m) => m.includes(`page ${bucketRoot}: reached twice`)),
    problems.join("\n"),
  );
  await db.close();
});

Deno.test("corruption: a bucket header pointing at the freelist is named", async () => {
  const disk = new SimDisk();
  await makeFile(disk, 10);
  const db0 = await DB.open(disk, "/x.db");
  const { root, freelist } = db0.meta;
  await db0.close();
  const p = readPage(disk, root);
  const v = elemValue(p, 0);
  assert.equal(u32(v, 0) !== freelist, true);
  const off = v.byteOffset - p.byteOffset;
  putU32(p, off, freelist);
  writePage(disk, root, p);
  const db = await DB.open(disk, "/x.db");
  assert.throws(
    () => readAllKeys(db),
    new RegExp(`page ${freelist}: expected a branch or leaf page`),
  );
  await db.close();
});
