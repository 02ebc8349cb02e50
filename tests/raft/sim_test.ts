import assert from "node:assert/strict";
import { testSeed } from "../../lib/base/rand.ts";
import { runSeed, type SimStats } from "./sim.ts";

const SEEDS = Number(Deno.env.get("SIM_SEEDS") ?? "3000");

Deno.test("simulation: invariants hold and the healed cluster is live, over many seeds", () => {
  const fromEnv = Deno.env.get("SEED");
  const base = testSeed();
  const count = fromEnv !== undefined && fromEnv !== "" ? 1 : SEEDS;
  console.log(`seed=${base} (seeds ${base}..${base + count - 1}; replay one with SEED=N)`);
  const total: Partial<SimStats> = {};
  for (let i = 0; i < count; i++) {
    const seed = (base + i) >>> 0;
    let stats: SimStats;
    try {
      stats = runSeed(seed);
    } catch (err) {
      console.error(`simulation failed: seed=${seed}; replay with SEED=${seed}`);
      throw err;
    }
    for (const [k, v] of Object.entries(stats) as [keyof SimStats, number][]) {
      total[k] = (total[k] ?? 0) + v;
    }
  }
  console.log(JSON.stringify(total));
  // the faults and features the simulation claims to exercise did happen
  if (count >= 100) {
    for (
      const k of [
        "dropped",
        "duplicated",
        "crashes",
        "partitions",
        "readsServed",
        "snapshotsSent",
        "confChanges",
        "transfers",
      ] as const
    ) {
      assert.ok((total[k] ?? 0) > 0, `no ${k} across ${count} seeds`);
    }
  }
});
