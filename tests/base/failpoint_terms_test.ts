/**
 * etcd's gofail terms as CONCORD_FAILPOINTS takes them: what parses, what is refused (and
 * says why), how counts and `->` chains run out, what each action does at a point, and the
 * ordered delay a delay point holds messages in.
 */
import assert from "node:assert/strict";
import {
  FailpointSpecError,
  parseFailpoints,
  parseFailpointSpec,
  parsePointTerms,
  TermFaultPoints,
} from "../../lib/base/failpoint_terms.ts";
import {
  ALL_FAULT_POINTS,
  delayAt,
  type FaultPoint,
  FaultPointError,
  OrderedDelay,
} from "../../lib/base/fault_points.ts";
import { SimClock } from "../../lib/io/clock.ts";

class Died extends Error {
  constructor(readonly point: FaultPoint) {
    super(`died at ${point}`);
  }
}

const points = (spec: string) =>
  new TermFaultPoints(parseFailpoints(spec), {
    die: (p) => {
      throw new Died(p);
    },
  });

Deno.test("failpoint terms: etcd's forms parse", () => {
  const t = parseFailpoints(
    'raftBeforeSave=panic; raftBeforeLeaderSend=3*sleep(100)->sleep("1.5s");' +
      'defragOpenFileError=1*return("no room");afterCommit=20*off->panic;',
  );
  assert.deepEqual(t.get("raftBeforeSave"), [{ action: "panic", count: Infinity }]);
  assert.deepEqual(t.get("raftBeforeLeaderSend"), [
    { action: "sleep", count: 3, ms: 100 },
    { action: "sleep", count: Infinity, ms: 1500 },
  ]);
  assert.deepEqual(t.get("defragOpenFileError"), [
    { action: "return", count: 1, text: "no room" },
  ]);
  assert.deepEqual(t.get("afterCommit"), [
    { action: "off", count: 20 },
    { action: "panic", count: Infinity },
  ]);
  assert.equal(parseFailpoints("  ").size, 0);
});

Deno.test("failpoint terms: anything Concord cannot run is refused with the reason", () => {
  const refused = (spec: string, why: RegExp) =>
    assert.throws(() => parseFailpoints(spec), (e: unknown) => {
      assert.ok(e instanceof FailpointSpecError, String(e));
      assert.match(e.message, why);
      return true;
    });
  refused("noSuchPoint=panic", /no fault point "noSuchPoint"; the points: raftBeforeSaveSnap/);
  refused("raftBeforeSave=sleep(100)", /sleep is supported only at raftBeforeLeaderSend/);
  refused("raftBeforeSave=return(1)", /return is supported only at defragOpenFileError/);
  refused("raftBeforeSave=50%panic", /cannot parse term "50%panic"/);
  refused("raftBeforeSave=print", /action "print" is not supported/);
  refused("raftBeforeLeaderSend=sleep(soon)", /sleep takes milliseconds/);
  refused("raftBeforeSave", /expected name=terms/);
  refused("raftBeforeSave=panic;raftBeforeSave=off", /given twice/);
  refused("raftBeforeSave=panic(1)", /panic takes no argument/);
  // every point is a name the variable takes
  for (const p of ALL_FAULT_POINTS) assert.equal(parseFailpoints(`${p}=off`).size, 1);
});

Deno.test("failpoint terms: counts and chains run out in order; then the point is off", () => {
  const f = points("afterCommit=2*off->panic;raftBeforeFollowerSend=2*sleep(30)->1*sleep(5)");
  f.hit("afterCommit");
  f.hit("afterCommit");
  assert.throws(() => f.hit("afterCommit"), (e) => e instanceof Died);
  // panic has no count: it fires at every later hit too
  assert.throws(() => f.hit("afterCommit"), (e) => e instanceof Died);
  f.hit("beforeCommit"); // not armed: nothing
  const delays = Array.from({ length: 5 }, () => delayAt(f, "raftBeforeFollowerSend"));
  assert.deepEqual(delays, [30, 30, 5, 0, 0]);
});

Deno.test("failpoint terms: return fails with the term's text, then goes on", () => {
  const f = points('defragOpenFileError=1*return("disk says no")');
  assert.throws(() => f.hit("defragOpenFileError"), (e: unknown) => {
    assert.ok(e instanceof FaultPointError);
    assert.equal(e.message, "disk says no");
    assert.equal(e.point, "defragOpenFileError");
    return true;
  });
  f.hit("defragOpenFileError");
  const bare = points("defragOpenFileError=return");
  assert.throws(() => bare.hit("defragOpenFileError"), /failpoint defragOpenFileError/);
});

Deno.test("ordered delay: items behind a delay wait, and all go out in the order offered", () => {
  const clock = new SimClock();
  const out: string[] = [];
  const d = new OrderedDelay<string>((ms, fn) => clock.after(ms, fn), (xs) => out.push(...xs));
  assert.equal(d.offer("a", 0), false, "nothing held, no delay: the caller sends it");
  assert.equal(d.offer("b", 20), true);
  assert.equal(d.offer("c", 0), true, "behind a held item even without a delay of its own");
  assert.equal(d.offer("d", 5), true);
  assert.equal(d.held, 3);
  clock.advance(19);
  assert.deepEqual(out, []);
  clock.advance(1);
  assert.deepEqual(out, ["b", "c", "d"]);
  assert.equal(d.offer("e", 0), false);
  assert.equal(d.offer("f", 10), true);
  d.clear();
  clock.advance(50);
  assert.deepEqual(out, ["b", "c", "d"], "a cleared delay sends nothing");
});

Deno.test("failpoint terms: armed, re-armed and disarmed while running; status counts hits", () => {
  const f = points("afterCommit=1*off->panic");
  assert.deepEqual(f.status("afterCommit"), { desc: "1*off->panic", count: 0 });
  assert.equal(f.status("beforeCommit"), undefined, "not armed");
  f.hit("afterCommit");
  assert.deepEqual(f.status("afterCommit"), { desc: "1*off->panic", count: 1 });
  // re-armed: the new terms, counts afresh (gofail's Enable)
  f.arm("afterCommit", parsePointTerms("afterCommit", "2*off"), "2*off");
  f.hit("afterCommit");
  f.hit("afterCommit");
  f.hit("afterCommit"); // the terms ran out: nothing, and not counted
  assert.deepEqual(f.status("afterCommit"), { desc: "2*off", count: 2 });
  assert.equal(f.disarm("afterCommit"), true);
  assert.equal(f.disarm("afterCommit"), false, "not armed any more");
  assert.equal(f.status("afterCommit"), undefined);
  f.hit("afterCommit");
  // a delay armed and disarmed before the code asked how long: no wait is left behind
  f.arm("raftBeforeLeaderSend", parsePointTerms("raftBeforeLeaderSend", "sleep(40)"), "sleep(40)");
  f.hit("raftBeforeLeaderSend");
  f.disarm("raftBeforeLeaderSend");
  assert.equal(f.delay("raftBeforeLeaderSend"), 0);
  // the same check as the variable's
  assert.throws(() => parsePointTerms("raftBeforeSave", "sleep(100)"), FailpointSpecError);
  assert.deepEqual(
    [...parseFailpointSpec(' afterCommit = 3*off->panic ;defragOpenFileError=return("x")')],
    [
      ["afterCommit", {
        desc: "3*off->panic",
        terms: parsePointTerms("afterCommit", "3*off->panic"),
      }],
      ["defragOpenFileError", {
        desc: 'return("x")',
        terms: [{ action: "return", count: Infinity, text: "x" }],
      }],
    ],
  );
});
