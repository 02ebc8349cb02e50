/**
 * The watch and lease checkers fail inside whole runs: each planted bug (a watch event lost,
 * two watch responses swapped, a progress notification ahead of its events, a lease revoked
 * with half its TTL left, keep-alives answered without renewing) must be caught by its checker
 * within 100 seeds of the default fault menu. Each test prints how many runs it took and the
 * replay command of the seed that caught it; the whole test replays with SEED=N.
 */
import assert from "node:assert/strict";
import { testSeed } from "../../lib/base/rand.ts";
import { type PlantedBug, replayCommand, runCluster, type RunOptions } from "./cluster_run.ts";

/**
 * Runs seeds from a fresh base with `bug` planted until a violation matches `wanted`, at most
 * 100; returns the number of runs it took (-1: never caught).
 */
async function caughtWithin(bug: PlantedBug, size: number, wanted: RegExp): Promise<number> {
  const base = testSeed() >>> 1;
  console.log(`seed=${base} (replay with SEED=${base})`);
  for (let s = 0; s < 100; s++) {
    const o: RunOptions = { seed: base + s, size, bug };
    const res = await runCluster(o);
    const hit = res.violations.find((v) => wanted.test(v));
    if (hit !== undefined) {
      console.log(`${bug} caught in ${s + 1} runs: ${hit}\n  replay: ${replayCommand(o)}`);
      return s + 1;
    }
  }
  return -1;
}

const cases: { bug: PlantedBug; size: number; wanted: RegExp; what: string }[] = [
  {
    bug: "watch-drop",
    size: 3,
    // (reliable, atomic: the watcher's revision misses an event the history has)
    wanted: /^watcher on .*: at rev \d+ got .*, the history has/,
    what: "a watch event lost on its way",
  },
  {
    bug: "watch-reorder",
    size: 3,
    wanted: /^watcher on .*: event at rev \d+ after rev \d+ \(ordered, unique\)/,
    what: "two watch responses swapped",
  },
  {
    bug: "watch-early-progress",
    size: 3,
    wanted: /^watcher on .*: progress notification at rev \d+ before the event at rev/,
    what: "a progress notification ahead of its events",
  },
  {
    bug: "lease-early-revoke",
    size: 3,
    wanted: /^lease [0-9a-f]+: .* deleted by \d+ ms, before the lease's TTL/,
    what: "a lease revoked with half its TTL left",
  },
  {
    bug: "lease-keepalive-ignored",
    size: 3,
    wanted: /^lease [0-9a-f]+: .* deleted by \d+ ms, before the lease's TTL/,
    what: "keep-alives answered without renewing",
  },
];

for (const { bug, size, wanted, what } of cases) {
  Deno.test(`sim cluster: a planted bug (${what}) is caught within 100 seeds (--bug ${bug})`, async () => {
    const runs = await caughtWithin(bug, size, wanted);
    assert.ok(runs > 0, `100 runs with --bug ${bug} passed the checkers`);
  });
}
