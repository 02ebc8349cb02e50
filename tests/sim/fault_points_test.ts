/**
 * The fault points in whole-cluster runs: every point is reached and fires in some seeded run
 * (a member dying there, power loss or kill -9), and the checks pass afterwards; and a planted
 * defect that only a crash at a point exposes is caught: acknowledging entries before their
 * WAL fsync (`ack-before-fsync`) survives a run without crashes, and fails once the member
 * loses power at raftAfterSave, or at walBeforeSync (the WAL's own point, before its fdatasync).
 * Runs with delay points slowed and a defrag failed at defragOpenFileError pass the checks too.
 * Seeds print with the command that replays each run.
 */
import assert from "node:assert/strict";
import { FAULT_POINTS } from "../../lib/base/fault_points.ts";
import { runCluster } from "./cluster_run.ts";
import { describeFailure, replayCommand, type RunOptions } from "./cluster_run_options.ts";

/** Seeds tried per point before the test gives up on reaching it. */
const TRIES = 10;

Deno.test("fault points: each point fires in a seeded 3-member run, and the checks pass after", async () => {
  const missed: string[] = [];
  for (const [k, point] of FAULT_POINTS.entries()) {
    let fired = false;
    for (let t = 0; t < TRIES && !fired; t++) {
      // the menu's own arming is off: it would replace the forced arm
      const o: RunOptions = {
        seed: 7100 + 10 * k + t,
        size: 3,
        opsPerClient: 32,
        failpoints: false,
        failpoint: { point, how: t % 2 === 0 ? "power" : "process" },
      };
      const res = await runCluster(o);
      assert.equal(res.violations.length, 0, describeFailure(o, res));
      fired = res.fired.some((f) => f.point === point);
      if (fired) console.log(`${point}: ${replayCommand(o)}`);
    }
    if (!fired) missed.push(point);
  }
  assert.deepEqual(missed, [], `never fired in ${TRIES} seeds each`);
});

Deno.test("fault points: ack-before-fsync passes without crashes, and raftAfterSave with power loss catches it", async () => {
  let caught = -1;
  for (let s = 0; s < 30 && caught < 0; s++) {
    const seed = 7400 + s;
    // one member, no fault menu: the point is the run's only crash
    const base: RunOptions = {
      seed,
      size: 1,
      faults: false,
      bug: "ack-before-fsync",
      slowDiskAtStart: true,
    };
    const armed: RunOptions = {
      ...base,
      failpoint: { point: "raftAfterSave", after: 10 + (s % 20), how: "power" },
    };
    const res = await runCluster(armed);
    assert.ok(res.fired.length > 0, `seed=${seed}: raftAfterSave did not fire`);
    if (res.violations.length === 0) continue;
    assert.ok(
      res.violations.some((v) =>
        /differs from the cluster's history|durab|not linearizable|acknowledged/.test(v)
      ),
      describeFailure(armed, res),
    );
    // the same run without the crash passes: the point, not the rest of the run, exposed it
    const clean = await runCluster(base);
    assert.equal(clean.violations.length, 0, describeFailure(base, clean));
    console.log(`caught at seed ${seed}: ${replayCommand(armed)}`);
    caught = s + 1;
  }
  assert.ok(caught > 0, "ack-before-fsync was not caught in 30 seeds");
});

Deno.test("fault points: runs with delay points slowed and defrags failed at defragOpenFileError pass the checks", async () => {
  // the menu's own draws (a rand of their own): find a run where a defrag failed at the point
  let found = -1;
  for (let s = 0; s < 12 && found < 0; s++) {
    const o: RunOptions = { seed: 31000000 + s, size: 3 };
    const res = await runCluster(o);
    assert.equal(res.violations.length, 0, describeFailure(o, res));
    if (res.defragErrors > 0 && res.delayedHits > 0) {
      // the member whose defrag failed served on: the run's checks (nothing lost, every
      // member converged to one hashKV) passed above
      assert.ok(res.trace.some((l) => l.includes("fault point defragOpenFileError armed")));
      console.log(
        `${res.defragErrors} defrags failed, ${res.delayedHits} hits delayed: ${replayCommand(o)}`,
      );
      found = s;
    }
  }
  assert.ok(found >= 0, "no run of 12 failed a defrag at defragOpenFileError");
});

Deno.test("fault points: ack-before-fsync is caught by a power loss at walBeforeSync, which alone loses nothing acknowledged", async () => {
  // the point sits after the save's records are written and before their fdatasync: with the
  // bug, entries of that save were already acknowledged and applied, and a power loss there
  // may drop them (each unsynced write is kept, dropped or torn at random); without the bug,
  // nothing of that save was acknowledged, and the same run passes
  let caught = -1;
  for (let s = 0; s < 30 && caught < 0; s++) {
    const seed = 7400 + s;
    const arm = { point: "walBeforeSync" as const, after: 10 + (s % 20), how: "power" as const };
    const base: RunOptions = {
      seed,
      size: 1,
      faults: false,
      slowDiskAtStart: true,
      failpoint: arm,
    };
    const buggy: RunOptions = { ...base, bug: "ack-before-fsync" };
    const res = await runCluster(buggy);
    assert.ok(res.fired.length > 0, `seed=${seed}: walBeforeSync did not fire`);
    // (a member that never answers again also fails the run: only the record's and the KV
    // checks' verdicts count here)
    if (
      !res.violations.some((v) =>
        /differs from the cluster's history|durab|not linearizable|acknowledged|recorded revisions/
          .test(v)
      )
    ) {
      continue;
    }
    const clean = await runCluster(base);
    assert.equal(clean.violations.length, 0, describeFailure(base, clean));
    console.log(`caught at seed ${seed}: ${replayCommand(buggy)}`);
    caught = s + 1;
  }
  assert.ok(caught > 0, "ack-before-fsync was not caught at walBeforeSync in 30 seeds");
});
