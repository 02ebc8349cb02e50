/**
 * The simulation's armed fault points on their own: a point fires at its hit after `after`
 * others, for its member only (or any), once; not while the run's crash budget says no (it
 * stays armed); never from a member's dead incarnation; and every hit is counted. Delay points
 * slowed and defragOpenFileError armed do what they say, and crash no one.
 */
import assert from "node:assert/strict";
import { ArmedFaults, type FaultFired, SIM_DEFRAG_ERROR } from "./armed_faults.ts";
import { delayAt, FaultPointError } from "../../lib/base/fault_points.ts";

function setup(mayCrash: (i: number) => boolean = () => true) {
  const crashed: string[] = [];
  const noted: FaultFired[] = [];
  const a = new ArmedFaults({
    mayCrash,
    crash: (i, how) => crashed.push(`${i}:${how}`),
    note: (f) => noted.push(f),
  });
  return { a, crashed, noted };
}

Deno.test("armed faults: a point fires at its hit after `after` others, on its member, once", () => {
  const { a, crashed, noted } = setup();
  const m0 = a.forMember(0);
  const m1 = a.forMember(1);
  a.arm({ point: "raftAfterSave", member: 1, after: 2, how: "process" });
  m0.hit("raftAfterSave"); // another member's hit: neither fires nor counts down
  m1.hit("raftBeforeSave"); // another point
  m1.hit("raftAfterSave");
  m1.hit("raftAfterSave");
  assert.deepEqual(crashed, []);
  m1.hit("raftAfterSave");
  assert.deepEqual(crashed, ["1:process"]);
  assert.deepEqual(noted, [{ point: "raftAfterSave", member: 1, how: "process" }]);
  assert.deepEqual(a.unreaped, noted);
  assert.equal(a.armed, null);
  m1.hit("raftAfterSave");
  assert.equal(crashed.length, 1, "fired once");
  assert.equal(a.hits.get("raftAfterSave"), 5);
  assert.equal(a.hits.get("raftBeforeSave"), 1);
});

Deno.test("armed faults: a point for any member fires on the first to reach it; power loss by default", () => {
  const { a, crashed } = setup();
  const ms = [a.forMember(0), a.forMember(1), a.forMember(2)];
  a.arm({ point: "defragBeforeRename" });
  ms[2].hit("defragBeforeRename");
  assert.deepEqual(crashed, ["2:power"]);
});

Deno.test("armed faults: over the crash budget the point stays armed for a later hit", () => {
  let allowed = false;
  const { a, crashed } = setup(() => allowed);
  const m = a.forMember(0);
  a.arm({ point: "beforeCommit", member: 0 });
  m.hit("beforeCommit");
  assert.deepEqual(crashed, []);
  assert.notEqual(a.armed, null);
  allowed = true;
  m.hit("beforeCommit");
  assert.deepEqual(crashed, ["0:power"]);
});

Deno.test("armed faults: what a dead incarnation left running does not fire", () => {
  const { a, crashed } = setup();
  const old = a.forMember(0);
  const fresh = a.forMember(0); // the member restarted
  a.arm({ point: "afterCommit", member: 0 });
  old.hit("afterCommit");
  assert.deepEqual(crashed, []);
  fresh.hit("afterCommit");
  assert.deepEqual(crashed, ["0:power"]);
});

Deno.test("armed faults: disarm leaves nothing to fire", () => {
  const { a, crashed } = setup();
  const m = a.forMember(0);
  a.arm({ point: "raftBeforeSave" });
  a.disarm();
  m.hit("raftBeforeSave");
  assert.deepEqual(crashed, []);
});

Deno.test("armed faults: a slowed delay point delays its member's hits (or all) until unslowed", () => {
  const { a, crashed } = setup();
  const m0 = a.forMember(0);
  const m1 = a.forMember(1);
  assert.equal(delayAt(m0, "raftBeforeLeaderSend"), 0, "nothing slowed");
  a.slow({ point: "raftBeforeLeaderSend", member: 1, ms: 17 });
  a.slow({ point: "beforeSendWatchResponse", ms: 90 });
  assert.equal(delayAt(m0, "raftBeforeLeaderSend"), 0, "another member");
  assert.equal(delayAt(m1, "raftBeforeLeaderSend"), 17);
  assert.equal(delayAt(m1, "raftBeforeFollowerSend"), 0, "another point");
  assert.equal(delayAt(m0, "beforeSendWatchResponse"), 90, "every member");
  assert.equal(a.delayedHits, 2);
  a.unslow("raftBeforeLeaderSend");
  assert.equal(delayAt(m1, "raftBeforeLeaderSend"), 0);
  // a restarted member's old incarnation is not slowed
  a.forMember(0);
  assert.equal(delayAt(m0, "beforeSendWatchResponse"), 0);
  a.disarm();
  assert.deepEqual(a.slowed, []);
  assert.deepEqual(crashed, [], "delays crash no one");
  assert.equal(a.hits.get("raftBeforeLeaderSend"), 4);
});

Deno.test("armed faults: defragOpenFileError fails the next defrags of its member, then none", () => {
  const { a, crashed } = setup();
  const m0 = a.forMember(0);
  const m1 = a.forMember(1);
  a.failDefrags({ member: 1, count: 2 });
  m0.hit("defragOpenFileError");
  const fails = () =>
    assert.throws(() => m1.hit("defragOpenFileError"), (e: unknown) => {
      assert.ok(e instanceof FaultPointError);
      assert.equal(e.message, SIM_DEFRAG_ERROR);
      return true;
    });
  fails();
  fails();
  m1.hit("defragOpenFileError"); // used up
  assert.equal(a.defragErrors, 2);
  assert.deepEqual(crashed, []);
});
