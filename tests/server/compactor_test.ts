import assert from "node:assert/strict";
import { SimClock } from "../../lib/io/clock.ts";
import { type CompactorHost, startCompactor } from "../../lib/server/compactor.ts";

/** A host whose revision grows by one per `advance` step and records compactions. */
function host(clock: SimClock) {
  const compacted: number[] = [];
  let rev = 1;
  let leader = true;
  const h: CompactorHost = {
    clock,
    rev: () => rev,
    isLeader: () => leader,
    compact: (r) => {
      compacted.push(r);
      return Promise.resolve();
    },
    isCompacted: () => false,
  };
  return {
    h,
    compacted,
    bump: (n: number) => (rev += n),
    setLeader: (v: boolean) => (leader = v),
  };
}

async function step(clock: SimClock, ms: number): Promise<void> {
  clock.advance(ms);
  await Promise.resolve();
  await Promise.resolve();
}

Deno.test("compactor: periodic compacts the revision of one retention ago, every retention", async () => {
  const clock = new SimClock();
  const t = host(clock);
  const c = startCompactor("periodic", 10_000, t.h); // samples every 1 s
  for (let i = 0; i < 10; i++) {
    t.bump(10);
    await step(clock, 1000);
  }
  // 10 s passed: the revision sampled at the start (1) is compacted
  assert.deepEqual(t.compacted, [1]);
  for (let i = 0; i < 10; i++) {
    t.bump(10);
    await step(clock, 1000);
  }
  // again 10 s later, at the revision sampled 10 s before
  assert.equal(t.compacted.length, 2);
  assert.equal(t.compacted[1], 91);
  c.stop();
});

Deno.test("compactor: revision mode keeps `retention` revisions, only on the leader", async () => {
  const clock = new SimClock();
  const t = host(clock);
  const c = startCompactor("revision", 5, t.h, 1000);
  await step(clock, 1000); // rev 1 - 5 <= 0: nothing
  assert.deepEqual(t.compacted, []);
  t.bump(20);
  await step(clock, 1000);
  assert.deepEqual(t.compacted, [16]);
  await step(clock, 1000); // same target: not again
  assert.deepEqual(t.compacted, [16]);
  t.setLeader(false);
  t.bump(10);
  await step(clock, 1000);
  assert.deepEqual(t.compacted, [16]);
  t.setLeader(true);
  await step(clock, 1000);
  assert.deepEqual(t.compacted, [16, 26]);
  c.stop();
});

Deno.test("compactor: retention 0 is off", async () => {
  const clock = new SimClock();
  const t = host(clock);
  const c = startCompactor("periodic", 0, t.h);
  t.bump(100);
  await step(clock, 3_600_000);
  assert.deepEqual(t.compacted, []);
  c.stop();
});
