/**
 * Offline defrag survives a crash at every step: on the simulated disk, the process dies
 * before its Nth mutating disk operation (each N in turn, until a run completes), then the
 * power fails (unsynced writes kept, dropped or torn at random from the seed). The page file
 * must then open, pass its check, and hold exactly the keys it held before; and a second
 * defrag must complete on it. Replay with SEED=<seed>.
 */
import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import type { Disk, DiskFile } from "../../lib/io/disk.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { DB } from "../../lib/backend/db.ts";
import { defragDataDir } from "../../lib/cli/util_defrag.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const DATA_DIR = "/d";
const DB_PATH = "/d/member/snap/db";

/** Thrown where the simulated process dies. */
class Died extends Error {}

/** The process as a disk that dies before its `at`th mutating operation. */
function mortal(inner: Disk, at: number): { disk: Disk; ops: () => number; died: () => boolean } {
  let ops = 0;
  let dead = false;
  const step = () => {
    if (dead) throw new Died("the process is dead");
    if (++ops === at) {
      dead = true;
      throw new Died(`died before operation ${at}`);
    }
  };
  const alive = () => {
    if (dead) throw new Died("the process is dead");
  };
  const wrap = (f: DiskFile): DiskFile => ({
    path: f.path,
    readAt: (b, o) => (alive(), f.readAt(b, o)),
    readAtSync: (b, o) => (alive(), f.readAtSync(b, o)),
    writeAt: async (d, o) => (step(), await f.writeAt(d, o)),
    sync: async (opts) => (step(), await f.sync(opts)),
    truncate: async (n) => (step(), await f.truncate(n)),
    size: () => (alive(), f.size()),
    tryLock: () => (alive(), f.tryLock()),
    close: () => (alive(), f.close()),
  });
  const disk: Disk = {
    open: async (p, o) => {
      if (o?.create || o?.createNew) step();
      else alive();
      return wrap(await inner.open(p, o));
    },
    exists: (p) => (alive(), inner.exists(p)),
    remove: async (p) => (step(), await inner.remove(p)),
    rename: async (a, b) => (step(), await inner.rename(a, b)),
    readDir: (p) => (alive(), inner.readDir(p)),
    mkdirAll: async (p) => (step(), await inner.mkdirAll(p)),
    syncDir: async (p) => (step(), await inner.syncDir(p)),
  };
  return { disk, ops: () => ops, died: () => dead };
}

/** Every bucket's keys and values. */
function contents(db: DB): Map<string, string> {
  const out = new Map<string, string>();
  db.view((tx) => {
    const c = tx.cursor();
    for (let ok = c.first(); ok; ok = c.next()) {
      const name = dec.decode(c.key());
      const b = tx.bucket(c.key())!;
      const kc = b.cursor();
      for (let k = kc.first(); k; k = kc.next()) {
        out.set(`${name}/${dec.decode(kc.key())}`, dec.decode(kc.value()));
      }
    }
  });
  return out;
}

/** A member-shaped dir whose page file has many free pages (half its keys deleted). */
async function populated(rand: Rand): Promise<{ sim: SimDisk; want: Map<string, string> }> {
  const sim = new SimDisk({ rand });
  const disk = sim.process();
  await disk.mkdirAll("/d/member/snap");
  await disk.mkdirAll("/d/member/wal");
  const db = await DB.open(disk, DB_PATH, { pageSize: 1024 });
  try {
    for (let round = 0; round < 4; round++) {
      await db.update((tx) => {
        const b = tx.createBucketIfNotExists(enc.encode(round % 2 === 0 ? "key" : "meta"));
        for (let i = 0; i < 150; i++) {
          b.put(enc.encode(`k${round}-${i}`), enc.encode(`v${i}-${"x".repeat(rand.int(200))}`));
        }
      });
    }
    await db.update((tx) => {
      const b = tx.bucket(enc.encode("key"))!;
      for (let i = 0; i < 150; i += 2) b.delete(enc.encode(`k0-${i}`));
    });
    return { sim, want: contents(db) };
  } finally {
    await db.close();
  }
}

Deno.test("util defrag: a crash before any disk operation leaves a usable file", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  let completed = false;
  let shrunk = 0;
  for (let at = 1; !completed; at++) {
    assert.ok(at < 10_000, "defrag never completed");
    const { sim, want } = await populated(rand);
    const before = sim.contents(DB_PATH).length;
    const m = mortal(sim.process(), at);
    try {
      await defragDataDir(m.disk, DATA_DIR, { batchBytes: 4096 });
      completed = !m.died();
    } catch (err) {
      if (!m.died()) throw err;
    }
    if (!completed) sim.powerLoss("random");
    const disk = sim.process();
    const db = await DB.open(disk, DB_PATH);
    try {
      assert.deepEqual(db.check(), [], `crash before op ${at} (seed=${seed})`);
      assert.deepEqual(contents(db), want, `crash before op ${at} (seed=${seed})`);
    } finally {
      await db.close();
    }
    // whatever the crash left, a second defrag completes and keeps the data
    await defragDataDir(disk, DATA_DIR);
    const again = await DB.open(disk, DB_PATH);
    try {
      assert.deepEqual(contents(again), want, `defrag after a crash before op ${at}`);
    } finally {
      await again.close();
    }
    if (completed) shrunk = before - sim.contents(DB_PATH).length;
    assert.equal(await disk.exists(`${DB_PATH}.defrag.tmp`), false);
  }
  assert.ok(shrunk > 0, `the completed defrag shrank the file (by ${shrunk} bytes)`);
});

Deno.test("util defrag: refuses while the page file or the WAL is held", async () => {
  const { sim } = await populated(new Rand(7));
  const disk = sim.process();
  const held = await DB.open(disk, DB_PATH);
  try {
    await assert.rejects(
      defragDataDir(disk, DATA_DIR),
      /data dir \/d is in use by another member \(the backend file is locked\)/,
    );
  } finally {
    await held.close();
  }
  const lock = await disk.open("/d/member/wal/wal.lock", { create: true });
  assert.ok(await lock.tryLock());
  try {
    await assert.rejects(
      defragDataDir(disk, DATA_DIR),
      /data dir \/d is in use by another member \(the WAL is locked\)/,
    );
  } finally {
    await lock.close();
  }
  await defragDataDir(disk, DATA_DIR);
});
