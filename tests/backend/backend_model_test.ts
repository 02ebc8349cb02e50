// Randomized test of the Backend wrapper against a model: puts, deletes, bucket create/drop,
// interval- and size-triggered commits, pinned views, defrags and kill -9 reopens. Live reads
// always equal the model; a pinned view equals the model at pin time; after a crash the file
// holds exactly one of the states committed since the last awaited commit. Replay with
// SEED=<seed>.
import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { type BatchBackend, openBackend } from "../../lib/backend/open.ts";
import type { PinnedReadTx, ReadTx } from "../../lib/backend/backend.ts";

/** bucket -> key -> value; a missing bucket and an empty one read alike, so both are empty. */
type Model = Map<string, Map<string, string>>;
const enc = new TextEncoder();
const dec = new TextDecoder();
const BUCKETS = ["key", "meta", "lease", "auth"];

function read(r: ReadTx): string {
  const parts: string[] = [];
  for (const b of BUCKETS) {
    r.range(b, new Uint8Array([0]), undefined, (k, v) => {
      parts.push(`${b}/${dec.decode(k)}=${dec.decode(v)}`);
    });
  }
  return parts.join("\n");
}

function render(m: Model): string {
  const parts: string[] = [];
  for (const b of BUCKETS) {
    const kv = m.get(b);
    if (!kv) continue;
    for (const k of [...kv.keys()].sort()) parts.push(`${b}/${k}=${kv.get(k)}`);
  }
  return parts.join("\n");
}

Deno.test("backend model: reads, pins, commits, defrags and crashes agree with a model", async () => {
  const seed = testSeed();
  console.log(`backend model: seed=${seed}`);
  const rand = new Rand(seed);
  const disk = new SimDisk({ rand: new Rand(seed + 7) });
  const clock = new SimClock();
  const open = () =>
    openBackend(disk, "/bm.db", {
      clock,
      batchLimit: rand.range(5, 200),
      cacheBytes: rand.chance(0.5) ? 1 : undefined,
    });
  let b: BatchBackend = await open();
  let model: Model = new Map();
  // States committed since the last commit known durable (the first entry).
  let candidates: string[] = [render(model)];
  let commits = 0;
  const noteCommits = () => {
    const n = b.stats().commits;
    if (n !== commits) {
      commits = n;
      candidates.push(render(model));
    }
  };
  const durable = () => {
    commits = b.stats().commits;
    candidates = [render(model)];
  };
  const pins: { view: PinnedReadTx; want: string }[] = [];
  for (let step = 0; step < 2500; step++) {
    const r = rand.float();
    const bucket = rand.pick(BUCKETS);
    if (r < 0.03) {
      b.write.createBucket(bucket);
      if (!model.has(bucket)) model.set(bucket, new Map());
    } else if (r < 0.04) {
      b.write.deleteBucket(bucket);
      model.delete(bucket);
    } else if (r < 0.7) {
      if (!model.has(bucket)) continue;
      const key = `k${String(rand.int(400)).padStart(3, "0")}`;
      const value = "v".repeat(rand.int(rand.chance(0.05) ? 6000 : 80)) + step;
      b.write.put(bucket, enc.encode(key), enc.encode(value));
      model.get(bucket)!.set(key, value);
    } else if (r < 0.85) {
      const key = `k${String(rand.int(400)).padStart(3, "0")}`;
      b.write.delete(bucket, enc.encode(key));
      model.get(bucket)?.delete(key);
    } else if (r < 0.9) {
      const key = `k${String(rand.int(400)).padStart(3, "0")}`;
      const got = b.read.get(bucket, enc.encode(key));
      assert.equal(got === undefined ? undefined : dec.decode(got), model.get(bucket)?.get(key));
    } else if (r < 0.93) {
      clock.advance(rand.range(1, 150));
      noteCommits();
      await Promise.resolve();
    } else if (r < 0.95) {
      await b.commit();
      durable();
    } else if (r < 0.965) {
      pins.push({ view: await b.pin(), want: render(model) });
      durable();
    } else if (r < 0.975 && pins.length > 0) {
      const p = pins.splice(rand.int(pins.length), 1)[0];
      assert.equal(read(p.view), p.want, `pinned view at step ${step}`);
      p.view.release();
    } else if (r < 0.98) {
      await b.defrag();
      durable();
      assert.deepEqual(b.check(), []);
    } else if (r < 0.985) {
      // kill -9: the process and its pinned views are gone; the file holds a committed state.
      pins.length = 0;
      disk.processCrash();
      b = await open();
      const got = read(b.read);
      assert.ok(
        candidates.includes(got),
        `state after a crash at step ${step} was never committed`,
      );
      assert.deepEqual(b.check(), []);
      model = new Map();
      for (const line of got === "" ? [] : got.split("\n")) {
        const [path, value] = [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)];
        const [bk, key] = path.split("/");
        if (!model.has(bk)) model.set(bk, new Map());
        model.get(bk)!.set(key, value);
      }
      // Bucket existence is not visible through reads: make every bucket exist again.
      for (const bk of BUCKETS) {
        b.write.createBucket(bk);
        if (!model.has(bk)) model.set(bk, new Map());
      }
      await b.commit();
      durable();
    }
    noteCommits();
    if (step % 100 === 0) assert.equal(read(b.read), render(model), `live reads at step ${step}`);
  }
  assert.equal(read(b.read), render(model));
  for (const p of pins) {
    assert.equal(read(p.view), p.want);
    p.view.release();
  }
  await b.close();
  const again = await openBackend(disk, "/bm.db", { clock });
  assert.equal(read(again.read), render(model));
  assert.deepEqual(again.check(), []);
  await again.close();
});
