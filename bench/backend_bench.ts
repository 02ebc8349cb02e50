// `deno bench` suites for the page file (small sizes so `deno task bench` stays quick). The
// side-by-side comparison with LMDB at 1M keys is bench/backend_compare.ts.
import { Rand } from "../lib/base/rand.ts";
import { RealDisk } from "../lib/io/real_disk.ts";
import { DB } from "../lib/backend/db.ts";

const N = 100_000;
const enc = new TextEncoder();
const BUCKET = enc.encode("bench");
const value = new Uint8Array(100).map((_, i) => i);

function keyOf(i: number): Uint8Array {
  const k = new Uint8Array(16);
  new DataView(k.buffer).setUint32(4, i);
  k.fill(0x6b, 8);
  return k;
}

const keys = Array.from({ length: N }, (_, i) => keyOf(i));
const rand = new Rand(7);
const dir = Deno.makeTempDirSync({ prefix: "concord-backend-bench-" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const db = await DB.open(new RealDisk(), `${dir}/b.db`);
await db.update((tx) => void tx.createBucket(BUCKET));
for (const i0 of rand.shuffle(Array.from({ length: N / 1000 }, (_, i) => i * 1000))) {
  await db.update((tx) => {
    const b = tx.bucket(BUCKET)!;
    for (let j = i0; j < i0 + 1000; j++) b.put(keys[j], value);
  });
}

Deno.bench("backend: random get (100k keys)", { group: "read" }, () => {
  const tx = db.begin(false);
  const b = tx.bucket(BUCKET)!;
  for (let i = 0; i < 1000; i++) b.get(keys[rand.int(N)]);
  tx.rollback();
});

Deno.bench("backend: cursor scan of 100k keys", { group: "read" }, () => {
  const tx = db.begin(false);
  const c = tx.bucket(BUCKET)!.cursor();
  let n = 0;
  for (let ok = c.first(); ok; ok = c.next()) n += c.value().length;
  tx.rollback();
  if (n !== N * 100) throw new Error("scan");
});

Deno.bench("backend: 1-key transaction commit (fdatasync)", { group: "write", n: 50 }, async () => {
  const tx = db.begin(true);
  tx.bucket(BUCKET)!.put(keys[rand.int(N)], value);
  await tx.commit();
});

Deno.bench(
  "backend: 1,000 random puts in one transaction (fdatasync)",
  { group: "write", n: 20 },
  async () => {
    const tx = db.begin(true);
    const b = tx.bucket(BUCKET)!;
    for (let i = 0; i < 1000; i++) b.put(keys[rand.int(N)], value);
    await tx.commit();
  },
);
