/**
 * The whole-cluster simulation in CI: a fixed number of seeds of 3- and 5-member runs under
 * the full fault menu, the same seed replaying byte for byte, and the checkers demonstrably
 * able to fail (planted bugs are caught: a stale read, a multi-key txn applied in several
 * revisions, acknowledgements before the WAL fsync). Seeds print; replay one with
 * `deno task sim:cluster --seed N --size S`, or the whole test with SEED=N.
 */
import assert from "node:assert/strict";
import { testSeed } from "../../lib/base/rand.ts";
import { runCluster } from "./cluster_run.ts";
import { describeFailure, replayCommand, type RunOptions } from "./cluster_run_options.ts";

const SEEDS = Number(Deno.env.get("SIM_SEEDS") ?? 6);

for (const size of [1, 3, 5]) {
  Deno.test(`sim cluster: ${SEEDS} seeded runs of ${size} members under faults are linearizable, durable and converge`, async () => {
    const base = testSeed() >>> 1;
    console.log(`seed=${base} (seeds ${base}..${base + SEEDS - 1}; replay one with SEED=N)`);
    let ops = 0;
    let crashes = 0;
    for (let s = 0; s < SEEDS; s++) {
      const o: RunOptions = { seed: base + s, size };
      const res = await runCluster(o);
      assert.equal(res.violations.length, 0, describeFailure(o, res));
      ops += res.history.length;
      crashes += res.crashes;
    }
    // the runs did something: ops were checked and members crashed
    assert.ok(ops > SEEDS * 40, `only ${ops} ops in ${SEEDS} runs`);
    // (a lone member is crashed less often: it must be the one member up)
    if (size > 1) assert.ok(crashes > 0, `no member crashed in ${SEEDS} runs`);
  });
}

Deno.test("sim cluster: a run replays exactly from its seed", async () => {
  const seed = testSeed() >>> 1;
  console.log(`seed=${seed} (replay with SEED=${seed})`);
  const a = await runCluster({ seed, size: 3 });
  const b = await runCluster({ seed, size: 3 });
  assert.equal(
    JSON.stringify(a.history),
    JSON.stringify(b.history),
    `seed=${seed}: histories differ`,
  );
  assert.deepEqual(a.trace, b.trace, `seed=${seed}: traces differ`);
  assert.equal(a.finalRev, b.finalRev);
});

Deno.test("sim cluster: a run with defrags replays exactly (seed 400: the defrag's real-time slices made it vary)", async () => {
  // before the sim turned defrag slicing off, 2 runs in 6 of this seed went another way
  const a = await runCluster({ seed: 400, size: 3 });
  const b = await runCluster({ seed: 400, size: 3 });
  assert.ok(a.defrags > 0, "the run defragments");
  assert.deepEqual(a.trace, b.trace, "seed=400: traces differ");
  assert.equal(JSON.stringify(a.history), JSON.stringify(b.history), "seed=400: histories differ");
});

/**
 * Runs seeds from `base` with `bug` planted until every check in `wanted` has reported a
 * violation (a violation's first words name its check), at most 100; the number of runs it
 * took, or -1.
 */
async function caughtWithin(
  base: number,
  o: Omit<RunOptions, "seed">,
  wanted: readonly RegExp[],
): Promise<number> {
  const seen = wanted.map(() => false);
  for (let s = 0; s < 100; s++) {
    const res = await runCluster({ ...o, seed: base + s });
    for (const [i, w] of wanted.entries()) {
      if (!seen[i] && res.violations.some((v) => w.test(v))) {
        seen[i] = true;
        console.log(`${w.source} at seed ${base + s}: ${replayCommand({ ...o, seed: base + s })}`);
      }
    }
    if (seen.every((x) => x)) return s + 1;
  }
  return -1;
}

Deno.test("sim cluster: a planted bug (acknowledged before the WAL fsync) is caught within 100 seeds", async () => {
  // a lone member on a slow disk: raft counts an entry persisted before its WAL save is
  // durable, so a put is answered before its entry is on disk, and a power loss while the
  // fsync runs takes it away; the member's store then departs from the record of what was
  // answered, or loses revisions. (With 3 members a majority must lose an entry: 0 of 30
  // seeds of the default menu showed it; with 1 member, 10 of 100; with slow disks from the
  // start, 14 of 50 by these checks, and most others by a member that never answers again.)
  const base = testSeed() >>> 1;
  console.log(`seed=${base} (replay with SEED=${base})`);
  const runs = await caughtWithin(base, {
    size: 1,
    bug: "ack-before-fsync",
    slowDiskAtStart: true,
  }, [
    /^(m1 differs from the cluster's history|the run recorded revisions up to|acknowledged|not linearizable)/,
  ]);
  console.log(`ack-before-fsync caught in ${runs} runs`);
  assert.ok(runs > 0, `seed=${base}: 100 runs with acks before the fsync passed the checkers`);
});

Deno.test("sim cluster: a planted bug (a multi-key txn applied in several revisions) is caught by the linearizability and the durability checks", async () => {
  const base = testSeed() >>> 1;
  console.log(`seed=${base} (replay with SEED=${base})`);
  const runs = await caughtWithin(base, { size: 3, bug: "split-txn", opsPerClient: 25 }, [
    /^not linearizable/,
    /^acknowledged (write lost|delete of|write not alone)/,
  ]);
  console.log(`split-txn caught by both in ${runs} runs`);
  assert.ok(runs > 0, `seed=${base}: 100 runs with split txns did not fail both checks`);
});

Deno.test("sim cluster: a planted bug (linearizable reads served without ReadIndex) is caught within 100 seeds", async () => {
  const base = testSeed() >>> 1;
  console.log(`seed=${base} (replay with SEED=${base})`);
  let caught = -1;
  for (let s = 0; s < 100 && caught < 0; s++) {
    const res = await runCluster({ seed: base + s, size: 3, bug: "stale-read", opsPerClient: 25 });
    if (res.violations.some((v) => v.startsWith("not linearizable"))) caught = s;
  }
  console.log(`stale read caught at seed ${base + caught} (${caught + 1} runs)`);
  assert.ok(caught >= 0, `seed=${base}: 100 runs with stale reads passed the checker`);
});

/*
 * Bugs the simulation found in lib/ (see docs/testing.md), fixed. Bug 1 replays from its seed
 * (every run has all members on one wall clock; with the old ids every seed fails). Bugs 2 and
 * 3 are held by tests that build their case on purpose (tests/mvcc/watch_test.ts, "events
 * already delivered are not delivered again"; tests/cluster/sim_cluster_test.ts, "installs a
 * snapshot and nothing after it"): their seeds replay other histories since the workload grew.
 */

Deno.test({
  name: "sim cluster: members on one wall clock answer only their own proposals " +
    "(lib/server/member.ts: request ids from the wall clock without the member id)",
  fn: async () => {
    const o: RunOptions = { seed: 1, size: 3, transfers: false };
    const res = await runCluster(o);
    assert.deepEqual(res.violations, [], describeFailure(o, res));
  },
});

Deno.test({
  name: "sim cluster: a member whose disk fills after a defrag fails alone and the run goes on " +
    "(finding 8: the failure ended the whole process)",
  fn: async () => {
    // m2 is defragmented, then its disk fills: a background commit of the page file fails,
    // m2 fails with 'no space left on device', the run takes it down and restarts it later;
    // stopping it at the end threw its failure out of the run before (the defrag's slices run
    // on real time, so that showed in about 2 runs in 3). Replay:
    // deno task sim:cluster --seed 5003 --size 3 --no-slow-disk --no-failpoints
    // --no-frame-faults (m2
    // defragmented at 2,435 and 3,735 ms, its disk full at 3,890 ms, the second defrag's commit
    // failing at 3,900 ms; the seed moves whenever the runs' timing or workload changes: 5014,
    // 5187, 5001, 5014 again with multi-key ops and leader transfers, 5000 with nested txns,
    // ranges over both groups and damaged snapshots, then 5003 with the fifth session's merges;
    // fault points and cut frames off keep the trajectory)
    const o: RunOptions = {
      seed: 5003,
      size: 3,
      slowDisk: false,
      failpoints: false,
      frameFaults: false,
    };
    const res = await runCluster(o);
    assert.deepEqual(res.violations, [], describeFailure(o, res));
    assert.ok(res.trace.some((l) => l.includes("disk of m2 full")), "m2's disk was made full");
    assert.ok(
      res.trace.some((l) => l.includes("m2 stopped") && l.includes("no space left on device")),
      "m2 failed on its full disk",
    );
  },
});

Deno.test({
  name: "sim cluster: a watcher's catch-up during a snapshot install waits for the new store " +
    "(finding 11: it read the closed backend and threw out of the timer)",
  fn: async () => {
    // replay: deno task sim:cluster --seed 13000000 --size 3 --no-transfers --no-failpoints
    // --no-frame-faults
    // (before the fix the run failed with 'backend is closed' out of a step, and the harness
    // then hung stopping the cluster)
    const o: RunOptions = {
      seed: 13000000,
      size: 3,
      transfers: false,
      failpoints: false,
      frameFaults: false,
    };
    const res = await runCluster(o);
    assert.deepEqual(res.violations, [], describeFailure(o, res));
  },
});

Deno.test({
  name: "sim cluster: a re-elected leader answers no keep-alive for a lease its old term's " +
    "revoke deletes (finding 13: its lessor was promoted at the election, before the revoke)",
  fn: async () => {
    // replay: deno task sim:cluster --seed 2700627 --size 5 --no-transfers --no-failpoints
    // --no-frame-faults (m5, leader at
    // term 7, proposed the revoke of expired lease 51570005 at index 99 and lost the lead
    // before it committed;
    // re-elected at term 8 (5,820 ms) it answered m6's keep-alive at once, and the term-8
    // entry then committed the revoke: the lease's key was gone by 5,940 ms)
    const o: RunOptions = {
      seed: 2700627,
      size: 5,
      transfers: false,
      failpoints: false,
      frameFaults: false,
    };
    const res = await runCluster(o);
    assert.deepEqual(res.violations, [], describeFailure(o, res));
  },
});

Deno.test({
  name: "sim cluster: a raft node stopped by an I/O failure refuses a snapshot's report without " +
    "an unhandled rejection (finding 18: the refusal was thrown into the transport's send)",
  fn: async () => {
    // replay: deno task sim:cluster --seed 22501786 --size 5 (on d5bd3c5 the sweep counted an
    // unhandled rejection 'raft node stopped after an I/O failure' against it: m6 lost power
    // while its snapshot to a peer was in flight, and the send's report reached the failed
    // node before its raft loop had heard of the failure); Deno's test runner fails a test on
    // an unhandled rejection, so this one failed before the fix
    const o: RunOptions = { seed: 22501786, size: 5 };
    const res = await runCluster(o);
    assert.deepEqual(res.violations, [], describeFailure(o, res));
  },
});
