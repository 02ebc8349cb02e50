/**
 * The long-running simulator: `deno task sim --seeds 100000` runs that many seeds (from
 * --from, default a random base); `deno task sim --seed N` replays one with a trace of
 * recent events on failure. Exits non-zero at the first failing seed, printing it.
 */
import { testSeed } from "../../lib/base/rand.ts";
import { runSeed, SimFailure, type SimStats } from "./sim.ts";

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  if (i !== -1) return Deno.args[i + 1];
  const eq = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

const one = arg("seed");
const seeds = one !== undefined ? 1 : Number(arg("seeds") ?? "1000");
const from = one !== undefined ? Number(one) : Number(arg("from") ?? String(testSeed()));
const trace = one !== undefined || Deno.args.includes("--trace");
if (!Number.isSafeInteger(seeds) || seeds < 1 || !Number.isSafeInteger(from)) {
  console.error("usage: sim_main.ts [--seeds N] [--from S] | --seed S [--trace]");
  Deno.exit(2);
}

console.log(`simulating seeds ${from}..${from + seeds - 1}`);
const start = performance.now();
const total: Partial<SimStats> = {};
let lastReport = start;
for (let i = 0; i < seeds; i++) {
  const seed = (from + i) >>> 0;
  try {
    const stats = runSeed(seed, { trace });
    for (const [k, v] of Object.entries(stats) as [keyof SimStats, number][]) {
      total[k] = (total[k] ?? 0) + v;
    }
  } catch (err) {
    if (err instanceof SimFailure) {
      console.error(err.message);
    } else {
      console.error(`seed=${seed}: unexpected error`, err);
    }
    console.error(`FAILED seed=${seed}; replay: deno task sim --seed ${seed}`);
    Deno.exit(1);
  }
  const now = performance.now();
  if (now - lastReport > 5000) {
    lastReport = now;
    console.log(`  ${i + 1}/${seeds} seeds ok (${((now - start) / 1000).toFixed(1)}s)`);
  }
}
const secs = (performance.now() - start) / 1000;
console.log(`all ${seeds} seeds ok in ${secs.toFixed(1)}s (${(seeds / secs).toFixed(0)} seeds/s)`);
console.log(JSON.stringify(total));
