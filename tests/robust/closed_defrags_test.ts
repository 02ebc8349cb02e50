/**
 * A defrag refused as `backend is closed` passes only when its member's log shows it stopping
 * meanwhile; a snapshot install (the call defragments the backend the install opened), a
 * fault point, another line, or a line cut by a kill -9 explains nothing.
 */
import assert from "node:assert/strict";
import { explainClosedDefrag, unexplainedClosedDefrags } from "./closed_defrags.ts";

const T = Date.parse("2026-12-07T22:00:10.000Z");
const line = (ms: number, msg: string, more: Record<string, string> = {}) =>
  JSON.stringify({ level: "info", ts: new Date(T + ms).toISOString(), msg, ...more });

Deno.test("closed defrags: explained by a stop, not by an install or a fault point", async () => {
  const d = { member: 1, callMs: T, retMs: T + 100 };
  // an install during the defrag no longer fails it
  const during = line(350, "installed snapshot", { took: "300ms" });
  assert.equal(explainClosedDefrag(during, d), null);
  assert.equal(
    explainClosedDefrag(line(60, "failpoint fired", { point: "applyAfterOpenSnapshot" }), d),
    null,
  );
  const stop = line(80, "the member has been permanently removed from the cluster; shutting down");
  assert.equal(explainClosedDefrag(stop, d), "a stop");
  // a stop before the call or after the return explains nothing
  assert.equal(explainClosedDefrag(line(-500, "x; shutting down"), d), null);
  assert.equal(explainClosedDefrag(line(900, "x; shutting down"), d), null);
  assert.equal(explainClosedDefrag(line(80, "finished defragmenting directory"), d), null);
  // a line cut by a kill -9, and one not JSON
  assert.equal(explainClosedDefrag(`${stop.slice(0, 40)}\npanic: failpoint panic: x`, d), null);

  // over every incarnation of the member; what nothing explains is a violation
  const logs = [[Promise.resolve(line(0, "x"))], [
    Promise.resolve(line(0, "x")),
    Promise.resolve(stop),
  ]];
  assert.deepEqual(await unexplainedClosedDefrags([d], (m) => logs[m]), []);
  const bad = await unexplainedClosedDefrags([{ ...d, member: 0 }], (m) => logs[m]);
  assert.equal(bad.length, 1);
  assert.match(bad[0], /^defrag of m1 failed: backend is closed \(called 2026-12-07T22:00:10/);
});
