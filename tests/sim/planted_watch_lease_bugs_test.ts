/**
 * The watch and lease checkers fail inside whole runs: each planted bug (a watch event lost,
 * two watch responses swapped, a progress notification ahead of its events, a lease revoked
 * with half its TTL left, keep-alives answered without renewing) must be caught by its checker
 * within 100 seeds of the default fault menu. Each test prints how many runs it took and the
 * replay command of the seed that caught it; the whole test replays with SEED=N.
 */
import assert from "node:assert/strict";
import { testSeed } from "../../lib/base/rand.ts";
import { runCluster } from "./cluster_run.ts";
import { type PlantedBug, replayCommand, type RunOptions } from "./cluster_run_options.ts";

/**
 * Runs seeds from a fresh base with `bug` planted until a violation matches `wanted`, at most
 * 100; returns the number of runs it took (-1: never caught).
 */
async function caughtWithin(
  bug: PlantedBug,
  size: number,
  wanted: RegExp,
  faults: boolean,
): Promise<number> {
  const base = testSeed() >>> 1;
  console.log(`seed=${base} (replay with SEED=${base})`);
  for (let s = 0; s < 100; s++) {
    const o: RunOptions = { seed: base + s, size, bug, faults };
    const res = await runCluster(o);
    const hit = res.violations.find((v) => wanted.test(v));
    if (hit !== undefined) {
      console.log(`${bug} caught in ${s + 1} runs: ${hit}\n  replay: ${replayCommand(o)}`);
      return s + 1;
    }
  }
  return -1;
}

const cases: {
  bug: PlantedBug;
  size: number;
  wanted: RegExp;
  what: string;
  /** The default fault menu (else a clean run: no crash, partition or election after the first). */
  faults: boolean;
}[] = [
  {
    bug: "watch-drop",
    size: 3,
    // (reliable, atomic: the watcher's revision misses an event the history has)
    wanted: /^watcher on .*: at rev \d+ got .*, the history has/,
    what: "a watch event lost on its way",
    faults: true,
  },
  {
    bug: "watch-reorder",
    size: 3,
    wanted: /^watcher on .*: event at rev \d+ after rev \d+ \(ordered, unique\)/,
    what: "two watch responses swapped",
    faults: true,
  },
  {
    bug: "watch-early-progress",
    size: 3,
    wanted: /^watcher on .*: progress notification at rev \d+ before the event at rev/,
    what: "a progress notification ahead of its events",
    faults: true,
  },
  {
    bug: "lease-early-revoke",
    size: 3,
    wanted: /^lease [0-9a-f]+: .* deleted by \d+ ms, before the lease's TTL/,
    what: "a lease revoked with half its TTL left",
    faults: true,
  },
  {
    bug: "lease-keepalive-ignored",
    size: 3,
    wanted: /^lease [0-9a-f]+: .* deleted by \d+ ms, before the lease's TTL/,
    what: "keep-alives answered without renewing",
    // every election and restart gives each lease its TTL again (etcd's Promote), which hides
    // an ignored keep-alive: caught in 1 of 30 seeds of the default menu (once in 56 runs
    // here), in 11 of 15 clean runs (19700000..19700014)
    faults: false,
  },
];

for (const { bug, size, wanted, what, faults } of cases) {
  Deno.test(`sim cluster: a planted bug (${what}) is caught within 100 seeds (--bug ${bug})`, async () => {
    const runs = await caughtWithin(bug, size, wanted, faults);
    assert.ok(runs > 0, `100 runs with --bug ${bug} passed the checkers`);
  });
}
