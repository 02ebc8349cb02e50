/**
 * A defrag refused as `backend is closed` passes only when its member's log shows a snapshot
 * install overlapping it, a fault point inside an install, or a stop; an install before or
 * after it, another line, or a line cut by a kill -9 explains nothing.
 */
import assert from "node:assert/strict";
import { explainClosedDefrag, unexplainedClosedDefrags } from "./closed_defrags.ts";

const T = Date.parse("2026-12-07T22:00:10.000Z");
const line = (ms: number, msg: string, more: Record<string, string> = {}) =>
  JSON.stringify({ level: "info", ts: new Date(T + ms).toISOString(), msg, ...more });

Deno.test("closed defrags: explained by an overlapping install, an install's fault point or a stop", async () => {
  const d = { member: 1, callMs: T, retMs: T + 100 };
  // an install that began during the defrag (it ended 300 ms after it began, past the return)
  const during = line(350, "installed snapshot", { took: "300ms" });
  assert.equal(explainClosedDefrag(during, d), "a snapshot install");
  // one that began before the call and ended after it
  assert.equal(
    explainClosedDefrag(line(20, "installed snapshot", { took: "1.5s" }), d),
    "a snapshot install",
  );
  // one over before the defrag was called, or begun after it returned
  assert.equal(explainClosedDefrag(line(-500, "installed snapshot", { took: "10ms" }), d), null);
  assert.equal(explainClosedDefrag(line(900, "installed snapshot", { took: "100ms" }), d), null);
  assert.equal(
    explainClosedDefrag(line(60, "failpoint fired", { point: "applyAfterOpenSnapshot" }), d),
    "a snapshot install that died at applyAfterOpenSnapshot",
  );
  assert.equal(explainClosedDefrag(line(60, "failpoint fired", { point: "afterCommit" }), d), null);
  assert.equal(
    explainClosedDefrag(
      line(80, "the member has been permanently removed from the cluster; shutting down"),
      d,
    ),
    "a stop",
  );
  assert.equal(explainClosedDefrag(line(80, "finished defragmenting directory"), d), null);
  // a line cut by a kill -9, and one not JSON
  assert.equal(explainClosedDefrag(`${during.slice(0, 40)}\npanic: failpoint panic: x`, d), null);

  // over every incarnation of the member; what nothing explains is a violation
  const logs = [[Promise.resolve(line(0, "x"))], [
    Promise.resolve(line(0, "x")),
    Promise.resolve(during),
  ]];
  assert.deepEqual(await unexplainedClosedDefrags([d], (m) => logs[m]), []);
  const bad = await unexplainedClosedDefrags([{ ...d, member: 0 }], (m) => logs[m]);
  assert.equal(bad.length, 1);
  assert.match(bad[0], /^defrag of m1 failed: backend is closed \(called 2026-12-07T22:00:10/);
});
