// Crash safety through the simulated disk: power loss (unsynced writes lost, kept or torn),
// kill -9 in the middle of a commit, and flipped bits. After every crash the file must reopen
// to exactly a committed state no older than the last commit reported durable, or fail with a
// clear CorruptionError; it must never return wrong data. Replay with SEED=<seed>.
import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { DB } from "../../lib/backend/db.ts";
import { CorruptionError } from "../../lib/backend/errors.ts";

const enc = new TextEncoder();
const NAME = enc.encode("b");

type State = Map<string, Uint8Array>;

function keyOf(i: number): Uint8Array {
  return enc.encode(`key-${String(i).padStart(4, "0")}`);
}

/** Reads the whole bucket; throws CorruptionError if the file is damaged. */
function readAll(db: DB): State {
  const out: State = new Map();
  db.view((tx) => {
    const b = tx.bucket(NAME);
    if (!b) return;
    const c = b.cursor();
    for (let ok = c.first(); ok; ok = c.next()) {
      out.set(new TextDecoder().decode(c.key()), c.value().slice());
    }
  });
  return out;
}

function sameState(a: State, b: State): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.length !== v.length || w.some((x, i) => x !== v[i])) return false;
  }
  return true;
}

async function crashRun(seed: number): Promise<void> {
  const rand = new Rand(seed);
  const disk = new SimDisk({ rand: new Rand(seed ^ 0x5eed) });
  const cacheBytes = rand.chance(0.5) ? 1 : undefined;
  let db = await DB.open(disk, "/c.db", { pageSize: rand.pick([512, 4096]), cacheBytes });
  await db.update((tx) => void tx.createBucket(NAME));
  // Committed states by transaction id (from the moment each commit was prepared).
  const states = new Map<number, State>();
  let model: State = new Map();
  states.set(db.meta.txid, new Map(model));
  let durable = db.meta.txid;
  for (let round = 0; round < 25; round++) {
    // A few committed transactions, the last maybe interrupted by the crash.
    const txs = rand.range(1, 5);
    let pending: Promise<void> | null = null;
    for (let t = 0; t < txs; t++) {
      const tx = db.begin(true);
      const b = tx.bucket(NAME)!;
      for (let n = rand.range(1, 60); n > 0; n--) {
        const i = rand.int(300);
        if (rand.chance(0.3)) {
          b.delete(keyOf(i));
          model.delete(`key-${String(i).padStart(4, "0")}`);
        } else {
          const v = rand.bytes(rand.chance(0.05) ? rand.range(600, 9000) : rand.range(1, 120));
          b.put(keyOf(i), v);
          model.set(`key-${String(i).padStart(4, "0")}`, v);
        }
      }
      const p = tx.commit();
      states.set(db.meta.txid, new Map(model));
      if (t < txs - 1 || rand.chance(0.3)) {
        await p;
        durable = db.meta.txid;
      } else {
        pending = p;
        pending.catch(() => {});
      }
    }
    // Let the interrupted commit get part way.
    for (let n = rand.int(12); n > 0; n--) await Promise.resolve();
    const kind = rand.pick(["power", "power", "kill", "flip"] as const);
    if (Deno.env.get("DEBUG")) console.log(round, kind, "durable", durable, "meta", db.meta.txid);
    if (kind === "power") disk.powerLoss("random");
    else disk.processCrash();
    if (kind === "flip") {
      await pending?.catch(() => {});
      const size = disk.contents("/c.db").length;
      disk.flipBits("/c.db", rand.int(size), 1 << rand.int(8));
    }
    try {
      db = await DB.open(disk, "/c.db", { cacheBytes });
      const txid = db.meta.txid;
      const got = readAll(db);
      const want = states.get(txid);
      assert.ok(want, `reopened at transaction ${txid}, which was never committed`);
      assert.ok(
        sameState(got, want),
        `data at transaction ${txid} differs from what was committed`,
      );
      if (kind !== "flip") {
        assert.ok(txid >= durable, `reopened at ${txid}, older than durable ${durable}`);
        assert.deepEqual(db.check(), []);
      } else {
        // A flipped bit in the newest meta falls back to the previous commit.
        assert.ok(txid >= durable - 1, `reopened at ${txid}, durable was ${durable}`);
        const problems = db.check();
        if (problems.length > 0) throw new CorruptionError(-1, problems.join("; "));
      }
      model = new Map(got);
      durable = txid;
      // Later commits reuse ids from here; forget states the crash discarded.
      for (const t of [...states.keys()]) if (t > txid) states.delete(t);
    } catch (err) {
      if (!(err instanceof CorruptionError)) throw err;
      assert.equal(kind, "flip", `corruption after a ${kind}: ${err.message}`);
      assert.match(err.message, /page file corrupt/);
      return; // The damaged file cannot continue; the error was clear.
    }
  }
  await db.close();
}

Deno.test("crash: reopen yields a committed state, never wrong data", async () => {
  const base = testSeed();
  const runs = Deno.env.get("SEED") ? 1 : 30;
  for (let i = 0; i < runs; i++) {
    const seed = (base + i) >>> 0;
    try {
      await crashRun(seed);
    } catch (err) {
      console.log(`crash: failing seed=${seed}`);
      throw err;
    }
  }
  console.log(`crash: seeds ${base}..${(base + runs - 1) >>> 0}`);
});
