/**
 * Online defragmentation through the Maintenance API: puts and linearizable ranges go on while
 * a member defragments, every acknowledged put is there afterwards (and after a restart), and
 * a `concord serve` killed with SIGKILL at a seeded moment of a defrag restarts with every
 * acknowledged put. Replay with SEED=<seed>.
 */
import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { Client, grpcTransport } from "../../lib/client/mod.ts";
import { freePort } from "../support/etcd.ts";
import { type ServeChild, spawnServe, startTestServer } from "./harness.ts";

const dec = new TextDecoder();

/** Puts 1 KiB values under `f/` (half of them deleted again and compacted away). */
async function fragment(c: Client, n: number): Promise<void> {
  const value = "v".repeat(1024);
  for (let i = 0; i < n; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, n - i) }, (_, j) => {
        const id = i + j;
        return c.put(`f/${id % 2}/${String(id).padStart(6, "0")}`, value);
      }),
    );
  }
  const del = await c.kv.delete("f/1/", { prefix: true });
  await c.kv.compact(del.header!.revision, { physical: true });
}

/** Puts from `workers` loops under `w/` until `stop()`: the acknowledged keys and errors. */
function putLoad(c: Client, workers: number) {
  let stopped = false;
  const acked: string[] = [];
  const errors: unknown[] = [];
  const done = Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let n = 0; !stopped; n++) {
        const key = `w/${w}/${String(n).padStart(6, "0")}`;
        try {
          await c.put(key, `value ${n}`);
          acked.push(key);
        } catch (err) {
          errors.push(err);
          return;
        }
      }
    }),
  );
  return {
    acked,
    errors,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

Deno.test("online defrag: puts and ranges go on during a defrag; none is lost", async () => {
  const s = await startTestServer();
  const c = new Client({ endpoints: [s.url], transport: grpcTransport() });
  try {
    await fragment(c, 6000);
    const before = await c.maintenance.status();
    const load = putLoad(c, 4);
    // linearizable ranges meanwhile: each sees at least the puts acknowledged before it began
    let ranges = 0;
    let defragDone = false;
    const reader = (async () => {
      while (!defragDone) {
        const seen = load.acked.length;
        const r = await c.kv.range("w/", { prefix: true, countOnly: true });
        assert.ok(Number(r.count) >= seen, `range counted ${r.count}, ${seen} were acknowledged`);
        ranges++;
      }
    })();
    const ackedBefore = load.acked.length;
    await c.maintenance.defragment({ endpoint: s.url });
    defragDone = true;
    await reader;
    const ackedDuring = load.acked.length - ackedBefore;
    await load.stop();
    assert.deepEqual(load.errors, []);
    const after = await c.maintenance.status();
    assert.ok(
      Number(after.dbSize) < Number(before.dbSize),
      `db ${after.dbSize} after, ${before.dbSize} before`,
    );
    assert.ok(ackedDuring > 0 && ranges > 0, `${ackedDuring} puts, ${ranges} ranges ran`);
    const keys = async (cl: Client) =>
      new Set(
        (await cl.kv.range("w/", { prefix: true, keysOnly: true })).kvs.map((kv) =>
          dec.decode(kv.key)
        ),
      );
    const have = await keys(c);
    assert.deepEqual(load.acked.filter((k) => !have.has(k)), []);
    assert.equal((await c.kv.range("f/0/", { prefix: true, countOnly: true })).count, 3000n);
    // and from the renamed file after a restart
    await c.close();
    await s.server.close();
    const s2 = await startTestServer((cfg) => (cfg.dataDir = s.dir));
    const c2 = new Client({ endpoints: [s2.url], transport: grpcTransport() });
    try {
      const again = await keys(c2);
      assert.deepEqual(load.acked.filter((k) => !again.has(k)), []);
    } finally {
      await c2.close();
      await s2.server.close();
    }
  } finally {
    await c.close();
    await s.close();
  }
});

/** Starts `concord serve` on `dir` (on ports of its own) and waits until it is ready. */
function serve(dir: string): Promise<ServeChild> {
  return spawnServe(["--data-dir", dir, "--listen-peer-urls", `http://127.0.0.1:${freePort()}`]);
}

Deno.test("online defrag: SIGKILL during a defrag loses no acknowledged put", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const dir = await Deno.makeTempDir({ prefix: "concord-defrag-kill-" });
  let child: ServeChild | undefined;
  const acked: string[] = [];
  try {
    child = await serve(dir);
    {
      const c = new Client({ endpoints: [child.url], transport: grpcTransport() });
      await fragment(c, 8000);
      await c.close();
    }
    // how long a defrag of this file takes here, to spread the kills over it (a defrag of a
    // compact file still copies all of it)
    let span: number;
    {
      const c = new Client({ endpoints: [child.url], transport: grpcTransport() });
      const t0 = performance.now();
      await c.maintenance.defragment({ endpoint: child.url });
      span = performance.now() - t0;
      await c.close();
    }
    for (let round = 0; round < 4; round++) {
      const c = new Client({ endpoints: [child.url], transport: grpcTransport() });
      const load = putLoad(c, 2);
      const t0 = performance.now();
      const defrag = c.maintenance.defragment({ endpoint: child.url }).then(
        () => performance.now() - t0,
        () => -1,
      );
      // a kill during the copy, the catch-up, the swap, or just after
      const killAfter = rand.range(0, Math.ceil(span * 1.1));
      await new Promise((r) => setTimeout(r, killAfter));
      child.proc.kill("SIGKILL");
      await child.proc.status;
      await child.stderr;
      await c.close(); // ends the calls the kill left waiting
      const took = await defrag;
      await load.stop();
      acked.push(...load.acked);
      console.log(
        `round ${round}: killed at ${killAfter} of ${span.toFixed(0)} ms, defrag ${
          took < 0 ? "interrupted" : `done in ${took.toFixed(0)} ms`
        }, ${load.acked.length} puts acknowledged`,
      );
      child = await serve(dir);
      const check = new Client({ endpoints: [child.url], transport: grpcTransport() });
      try {
        const r = await check.kv.range("w/", { prefix: true, keysOnly: true });
        const have = new Set(r.kvs.map((kv) => dec.decode(kv.key)));
        assert.deepEqual(acked.filter((k) => !have.has(k)), [], `seed=${seed} round ${round}`);
        const f = await check.kv.range("f/0/", { prefix: true, countOnly: true });
        assert.equal(f.count, 4000n, `seed=${seed} round ${round}`);
        // the member defragments again (a left-over copy is no obstacle)
        await check.maintenance.defragment({ endpoint: child.url });
      } finally {
        await check.close();
      }
    }
  } finally {
    if (child) {
      child.proc.kill("SIGKILL");
      await child.proc.status;
      await child.stderr;
    }
    await Deno.remove(dir, { recursive: true });
  }
});
