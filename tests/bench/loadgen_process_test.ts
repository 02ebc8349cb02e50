/**
 * bench/support's generator process and in-process member, as the bench scripts use them: a
 * real run's JSON result is read, a failed run throws with the generator's own error, and the
 * workload flag helpers rewrite --total as bench:compare and the profilers need.
 */
import assert from "node:assert/strict";
import {
  loadgenResult,
  PUT_1000,
  runLoadgen,
  scaleTotal,
  splitWorkload,
  withTotal,
} from "../../bench/support/loadgen_process.ts";
import { startInProcessMember } from "../../bench/support/inprocess_member.ts";

Deno.test("loadgen process: workload flags and the JSON result line", () => {
  assert.deepEqual(splitWorkload(["--requests=5", "--", "range", "k"]), {
    own: ["--requests=5"],
    workload: ["range", "k"],
  });
  assert.deepEqual(splitWorkload(["--requests=5"]), { own: ["--requests=5"], workload: PUT_1000 });
  assert.deepEqual(scaleTotal(["put", "--total=1000", "--clients=3"], 0.25), [
    "put",
    "--total=250",
    "--clients=3",
  ]);
  assert.deepEqual(scaleTotal(["put", "--total=10"], 0.001), ["put", "--total=1"]);
  assert.deepEqual(withTotal(["put", "--total=10", "--conns=2"], 7), [
    "put",
    "--conns=2",
    "--total=7",
  ]);
  assert.deepEqual(withTotal(["put"], 7), ["put", "--total=7"]);
  assert.equal(loadgenResult('warming up\n{"count":3,"rps":1}\n').count, 3);
  assert.throws(() => loadgenResult("Summary:\n  Total: 1 s\n"), /printed no result/);
});

Deno.test("loadgen process: a run against an in-process member; a failed run throws", async () => {
  const member = await startInProcessMember("loadgen-test");
  try {
    const total = 100;
    const result = loadgenResult(
      await runLoadgen({
        args: ["put", "--clients=4", "--conns=2", `--total=${total}`, "--key-space-size=1000"],
        endpoints: member.endpoint,
        json: true,
      }),
    );
    assert.equal(result.command, "put");
    assert.equal(result.count, total);
    assert.equal(result.errors, 0);
    // every put is one revision on the member the generator was pointed at
    assert.equal(member.server.member.store.rev(), 1 + total);
    await assert.rejects(
      runLoadgen({ args: ["put", "--bogus=1"], endpoints: member.endpoint }),
      /load generator exit 2: loadgen: unknown flag --bogus/,
    );
  } finally {
    await member.close();
  }
});
