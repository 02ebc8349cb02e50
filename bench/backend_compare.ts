// Side-by-side benchmark of the page file against LMDB (the `lmdb` npm package), same machine,
// same run: sequential and random put (16-byte keys, 100-byte values, 1,000 keys per
// transaction), random get, cursor scan, 1-key commit latency, and file size. Results go in
// docs/perf.md.
//
//   ./node_modules/.bin/deno run -A bench/backend_compare.ts [keys=1000000] [strict|overlap]
//
// The two engines run interleaved (one transaction of ours, one of LMDB's, and so on; gets in
// alternating chunks), each side timed separately, so a machine whose load drifts during the
// run (this one is shared) affects both alike.
//
// Durability is the same on both sides. "strict" (default): every transaction is durable
// (fdatasync'd) before the next begins; ours awaits each commit, LMDB runs `transactionSync`
// with overlappingSync off, so its sync happens inside the commit. "overlap": a commit returns
// once it is applied in memory and its write and fdatasync overlap the next transaction (one
// in flight); ours awaits the previous commit before committing the next, LMDB uses
// overlappingSync (its default on Linux); both are awaited at the end and that wait counted.
// Both: sync on (no noSync/noMetaSync), no compression, binary keys and values. lmdb is
// imported here only; nothing in lib/ depends on it.
import { open as openLmdb, type RootDatabase } from "lmdb";
import { RealDisk } from "../lib/io/real_disk.ts";
import { DB } from "../lib/backend/db.ts";
import { Rand } from "../lib/base/rand.ts";

const N = Number(Deno.args[0] ?? 1_000_000);
const overlap = Deno.args[1] === "overlap";
const PER_TX = 1000;
const enc = new TextEncoder();
const BUCKET = enc.encode("bench");

function keyOf(i: number): Uint8Array {
  // 16-byte keys: a 4-byte zero prefix, a 4-byte big-endian index, a fixed suffix.
  const k = new Uint8Array(16);
  k[4] = i >>> 24;
  k[5] = i >>> 16;
  k[6] = i >>> 8;
  k[7] = i;
  k.fill(0x6b, 8);
  return k;
}

const keys: Uint8Array[] = Array.from({ length: N }, (_, i) => keyOf(i));
const order = new Rand(42).shuffle(Array.from({ length: N }, (_, i) => i));
const getOrder = new Rand(43).shuffle(Array.from({ length: N }, (_, i) => i));
const value = new Uint8Array(100).map((_, i) => i);

/** Accumulated milliseconds per side. */
class Timer {
  ours = 0;
  lmdb = 0;
}

function fmt(n: number, ms: number): string {
  return `${Math.round((n / ms) * 1000).toLocaleString("en-US")}/s`;
}

function report(name: string, n: number, t: Timer): void {
  console.log(
    `${name.padEnd(22)} ours ${fmt(n, t.ours).padStart(12)}   lmdb ${
      fmt(n, t.lmdb).padStart(12)
    }   ratio ${((t.lmdb / t.ours) * 100).toFixed(0)}%`,
  );
}

function lmdbOpen(path: string): RootDatabase<Uint8Array, Uint8Array> {
  return openLmdb<Uint8Array, Uint8Array>({
    path,
    compression: false,
    encoding: "binary",
    keyEncoding: "binary",
    overlappingSync: overlap,
    noSync: false,
    mapSize: 4 * 1024 ** 3,
  });
}

async function loadBoth(
  ours: DB,
  lmdb: RootDatabase<Uint8Array, Uint8Array>,
  index: (j: number) => number,
): Promise<Timer> {
  const t = new Timer();
  let inflight: Promise<void> = Promise.resolve();
  for (let i = 0; i < N; i += PER_TX) {
    let t0 = performance.now();
    const tx = ours.begin(true);
    const b = tx.bucket(BUCKET)!;
    for (let j = i; j < i + PER_TX && j < N; j++) b.put(keys[index(j)], value);
    if (overlap) await inflight;
    inflight = tx.commit();
    if (!overlap) await inflight;
    t.ours += performance.now() - t0;
    t0 = performance.now();
    lmdb.transactionSync(() => {
      for (let j = i; j < i + PER_TX && j < N; j++) lmdb.putSync(keys[index(j)], value);
    });
    t.lmdb += performance.now() - t0;
  }
  let t0 = performance.now();
  await inflight;
  t.ours += performance.now() - t0;
  t0 = performance.now();
  await lmdb.flushed;
  t.lmdb += performance.now() - t0;
  return t;
}

const dir = await Deno.makeTempDir({ prefix: "concord-backend-bench-" });
try {
  console.log(
    `mode=${
      overlap ? "overlap" : "strict"
    } keys=${N} key=16B value=100B per-tx=${PER_TX} deno=${Deno.version.deno} v8=${Deno.version.v8} cpus=${navigator.hardwareConcurrency}`,
  );
  const disk = new RealDisk();

  // Sequential put.
  {
    const ours = await DB.open(disk, `${dir}/seq.db`);
    await ours.update((tx) => void tx.createBucket(BUCKET));
    const lmdb = lmdbOpen(`${dir}/lmdb-seq`);
    const t = await loadBoth(ours, lmdb, (j) => j);
    report("sequential put", N, t);
    const a = ours.stats().fileBytes;
    const b = Deno.statSync(`${dir}/lmdb-seq/data.mdb`).size;
    console.log(`file after sequential   ours ${a}   lmdb ${b}   ratio ${(a / b).toFixed(2)}x`);
    await ours.close();
    await lmdb.close();
  }

  // Random put, then everything else on the randomly loaded files.
  const ours = await DB.open(disk, `${dir}/rand.db`);
  await ours.update((tx) => void tx.createBucket(BUCKET));
  const lmdb = lmdbOpen(`${dir}/lmdb-rand`);
  report("random put", N, await loadBoth(ours, lmdb, (j) => order[j]));
  const st = ours.stats();
  const lsize = Deno.statSync(`${dir}/lmdb-rand/data.mdb`).size;
  console.log(
    `file after random       ours ${st.fileBytes}   lmdb ${lsize}   ratio ${
      (st.fileBytes / lsize).toFixed(2)
    }x   (ours: depth ${st.depth}, ${st.freePages} free pages)`,
  );

  // Random get in alternating chunks.
  {
    const t = new Timer();
    const tx = ours.begin(false);
    const b = tx.bucket(BUCKET)!;
    let found = 0;
    const CHUNK = 50_000;
    for (let i = 0; i < N; i += CHUNK) {
      const end = Math.min(N, i + CHUNK);
      let t0 = performance.now();
      for (let j = i; j < end; j++) if (b.get(keys[getOrder[j]]) !== undefined) found++;
      t.ours += performance.now() - t0;
      t0 = performance.now();
      for (let j = i; j < end; j++) if (lmdb.get(keys[getOrder[j]]) !== undefined) found++;
      t.lmdb += performance.now() - t0;
    }
    tx.rollback();
    if (found !== 2 * N) throw new Error(`found ${found} of ${2 * N}`);
    report("random get", N, t);
  }

  // Full scans, alternating, three times each.
  {
    const t = new Timer();
    for (let r = 0; r < 3; r++) {
      let t0 = performance.now();
      const tx = ours.begin(false);
      const c = tx.bucket(BUCKET)!.cursor();
      let n = 0;
      for (let ok = c.first(); ok; ok = c.next()) if (c.value().length === 100) n++;
      tx.rollback();
      t.ours += performance.now() - t0;
      t0 = performance.now();
      let m = 0;
      for (const { value: v } of lmdb.getRange({})) if (v.length === 100) m++;
      t.lmdb += performance.now() - t0;
      if (n !== N || m !== N) throw new Error(`scanned ${n} and ${m}`);
    }
    report("cursor scan", 3 * N, t);
  }

  // 1-key transactions, alternating.
  {
    const t = new Timer();
    const rounds = 200;
    for (let i = 0; i < rounds; i++) {
      let t0 = performance.now();
      const tx = ours.begin(true);
      tx.bucket(BUCKET)!.put(keys[order[i]], value);
      await tx.commit();
      t.ours += performance.now() - t0;
      t0 = performance.now();
      lmdb.transactionSync(() => lmdb.putSync(keys[order[i]], value));
      t.lmdb += performance.now() - t0;
    }
    console.log(
      `1-key commit latency   ours ${(t.ours / rounds).toFixed(3)} ms   lmdb ${
        (t.lmdb / rounds).toFixed(3)
      } ms`,
    );
  }
  const mem = Deno.memoryUsage();
  console.log(
    `memory: rss ${
      (mem.rss / 2 ** 20).toFixed(0)
    } MiB (both engines and the key arrays); ours caches ${
      (ours.stats().cachedBytes / 2 ** 20).toFixed(0)
    } MiB of pages`,
  );
  await ours.close();
  await lmdb.close();
} finally {
  await Deno.remove(dir, { recursive: true });
}
