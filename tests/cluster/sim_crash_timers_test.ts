/**
 * A simulated member killed at any instant runs nothing afterwards (docs/testing.md, harness
 * defect 15): its timers end with it. Before, a member crashed at a fault point kept its
 * timers while the harness reaped it; its watch hub's catch-up read the page file through the
 * dead disk and threw out of `SimClock.advance`, ending the whole run as "run failed: file
 * handle lost in a simulated crash" (seeds 21000530 of 3 members, 21000251 of 5).
 */
import assert from "node:assert/strict";
import { SimClock } from "../../lib/io/clock.ts";
import { ProcessClock } from "./process_clock.ts";
import { SimCluster } from "./sim_cluster.ts";
import { watchAll } from "../sim/watch_check.ts";

function seedOf(): number {
  const s = Deno.env.get("SEED");
  const seed = s !== undefined ? Number(s) : Math.floor(Math.random() * 2 ** 31);
  console.log(`seed=${seed} (replay with SEED=${seed})`);
  return seed;
}

Deno.test("process clock: a killed process's timers never fire, and it gets no new ones; its wall clock keeps its skew", () => {
  const base = new SimClock(0);
  const p = new ProcessClock(base, 250);
  const other = new ProcessClock(base);
  const fired: string[] = [];
  p.after(10, () => fired.push("once"));
  p.every(5, () => fired.push("every"));
  other.every(5, () => fired.push("other"));
  base.advance(5);
  assert.deepEqual(fired, ["every", "other"]);
  assert.equal(p.pending, 2);
  assert.equal(p.wallNow(), base.wallNow() + 250);
  assert.equal(other.wallNow(), base.wallNow());
  p.kill();
  assert.equal(p.pending, 0);
  p.after(1, () => fired.push("after the kill"));
  base.advance(20);
  // only the live process's timer went on
  assert.deepEqual(fired, ["every", "other", "other", "other", "other", "other"]);
  assert.ok(p.dead);
  assert.equal(p.wallNow(), base.wallNow() + 250);
});

Deno.test("process clock: a fired or cancelled timer is no longer held", () => {
  const base = new SimClock(0);
  const p = new ProcessClock(base);
  p.after(1, () => {});
  const t = p.every(1, () => {});
  assert.equal(p.pending, 2);
  base.advance(1);
  assert.equal(p.pending, 1);
  t.cancel();
  assert.equal(p.pending, 0);
});

Deno.test("sim cluster: a member crashed while its watch hub has a catch-up due runs no catch-up on its dead disk (harness defect 15)", async () => {
  const seed = seedOf();
  const c = await SimCluster.start({ size: 3, seed });
  try {
    await c.until("a leader", () => c.leader() !== null);
    const i = c.members.findIndex((m) => m !== null && !m.isLeader);
    for (let k = 0; k < 30; k++) await c.put(c.leader()!, `k${k}`, `v${k}`);
    await c.until("the follower applied", () => c.members[i]!.store.rev() >= 31);
    // a restart opens the page file afresh: the catch-up reads its pages from the disk
    await c.settle("a crash", c.crashMember(i, "process"));
    const m = await c.settle("a restart", c.startMember(i));
    // a watcher from revision 1 is behind: the hub schedules its catch-up on the clock
    watchAll("from 1", m.hub.newStream({ bufferSize: 1 << 20 }), 1);
    // the member dies before the catch-up runs (as at a fault point: synchronously)
    c.crashNow(i, "power");
    // the run goes on stepping while it reaps the dead member: nothing of it may run
    await c.settle("the reap", c.reap(i));
    for (let k = 0; k < 20; k++) await c.step();
    await c.put(c.leader()!, "after", "1");
  } finally {
    await c.stop();
  }
});
