/**
 * `deno task robust --seconds N --seed S`: one real-process robustness run (three `concord
 * serve` processes under faults, checked by tests/sim's checkers) of N seconds of faults
 * (default 60) from seed S (default: a fresh one, printed). `--runs K` runs K seeds in a row
 * from S. `--bug stale-read` plants a bug the checkers must catch ("linearizable" gets served by
 * any member from its own state). `--replace-first` makes the first fault a membership change
(as the CI test does). Exits 1 on the first run with a violation, after printing it with its faults and
 * the command that replays the faults (the timing of a real run does not replay).
 * `--no-failpoints`: no fault point armed (failpoint_arm.ts: by the seed, at start through
 * CONCORD_FAILPOINTS or mid-run over gofail's HTTP endpoint, the plan's line says which).
 */
import { testSeed } from "../../lib/base/rand.ts";
import { robustRun } from "./robust_run.ts";

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = Deno.args[i + 1];
  if (v === undefined || !/^\d+$/.test(v)) {
    console.error(`--${name} wants a whole number, got ${v}`);
    Deno.exit(2);
  }
  return v;
}

for (const a of Deno.args) {
  const known = ["--seconds", "--seed", "--runs", "--bug", "--replace-first", "--no-failpoints"];
  if (a.startsWith("--") && !known.includes(a)) {
    console.error(
      `unknown flag ${a}; flags: --seconds N, --seed S, --runs K, --bug stale-read, ` +
        `--replace-first, --no-failpoints`,
    );
    Deno.exit(2);
  }
}
const seconds = Number(flag("seconds") ?? 60);
const first = flag("seed") !== undefined ? Number(flag("seed")) >>> 0 : testSeed();
const runs = Number(flag("runs") ?? 1);
const replaceFirst = Deno.args.includes("--replace-first");
const failpoints = !Deno.args.includes("--no-failpoints");
const bugAt = Deno.args.indexOf("--bug");
const bug = bugAt < 0 ? undefined : Deno.args[bugAt + 1];
if (bug !== undefined && bug !== "stale-read") {
  console.error(`--bug: the one planted bug is stale-read, not ${bug}`);
  Deno.exit(2);
}

for (let k = 0; k < runs; k++) {
  const seed = (first + k) >>> 0;
  const t = performance.now();
  const r = await robustRun({
    seed,
    seconds,
    staleReads: bug === "stale-read",
    replaceFirst,
    failpoints,
    log: (l) => console.log(l),
  });
  console.log(`  run took ${((performance.now() - t) / 1000).toFixed(1)} s`);
  if (r.violations.length > 0) {
    console.log(`FAILED seed=${seed}; faults:`);
    for (const f of r.faults) console.log(`  ${f}`);
    console.log("violations:");
    for (const v of r.violations.slice(0, 20)) console.log(`  ${v}`);
    const planted = (bug === undefined ? "" : ` --bug ${bug}`) +
      (replaceFirst ? " --replace-first" : "") + (failpoints ? "" : " --no-failpoints");
    console.log(
      `replay the faults: deno task robust --seconds ${seconds} --seed ${seed}${planted}`,
    );
    Deno.exit(1);
  }
}
