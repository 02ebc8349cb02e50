import assert from "node:assert/strict";
import { Errors, type EtcdError, GrpcCode, text } from "../../lib/client/mod.ts";
import { onEveryTarget } from "./targets.ts";

Deno.test("lock: a second holder waits for unlock; deadlines and aborts end a wait", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    const l1 = await c.lease.grant(30);
    const l2 = await c.lease.grant(30);
    const held = await c.lock.lock("L", l1.ID);
    assert.ok(text(held.key).startsWith("L/"));
    // a wait bounded by a deadline fails with DeadlineExceeded (when the server's side of the
    // deadline fires first, etcd answers Unknown "context deadline exceeded")
    await assert.rejects(
      c.lock.lock("L", l2.ID, { timeoutMs: 200 }),
      (e) =>
        (e as EtcdError).code === GrpcCode.DeadlineExceeded ||
        (e as EtcdError).message === "context deadline exceeded",
    );
    // an aborted wait fails with Canceled
    const ctrl = new AbortController();
    const aborted = c.lock.lock("L", l2.ID, { signal: ctrl.signal });
    setTimeout(() => ctrl.abort(), 100);
    await assert.rejects(aborted, (e) => (e as EtcdError).code === GrpcCode.Canceled);
    // the waiter gets the lock once the holder unlocks
    let got = false;
    const waiting = c.lock.lock("L", l2.ID).then((r) => {
      got = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(got, false);
    await c.lock.unlock(held.key);
    const second = await waiting;
    assert.notEqual(text(second.key), text(held.key));
    // a lock's key goes with its lease
    await c.lease.revoke(l2.ID);
    assert.equal(await c.get(second.key), undefined);
  });
});

Deno.test("election: campaign, leader, proclaim, observe, resign", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    await assert.rejects(c.election.leader("E"), (e) => Errors.electionNoLeader.is(e));
    const l1 = await c.lease.grant(30);
    const l2 = await c.lease.grant(30);
    const won = await c.election.campaign("E", l1.ID, "one");
    const leader = won.leader!;
    assert.equal(text((await c.election.leader("E")).kv!.value), "one");
    const ctrl = new AbortController();
    const seen: string[] = [];
    const observing = (async () => {
      for await (const r of c.election.observe("E", { signal: ctrl.signal })) {
        seen.push(text(r.kv!.value));
        if (seen.at(-1) === "two") break;
      }
    })();
    const second = c.election.campaign("E", l2.ID, "two");
    await c.election.proclaim(leader, "uno");
    assert.equal(text((await c.election.leader("E")).kv!.value), "uno");
    await c.election.resign(leader);
    const won2 = await second;
    assert.equal(won2.leader!.lease, l2.ID);
    await observing;
    assert.deepEqual(seen, ["one", "uno", "two"].slice(seen[0] === "one" ? 0 : 1));
    await assert.rejects(c.election.proclaim(leader, "x"), (e) => Errors.electionNotLeader.is(e));
    ctrl.abort();
  });
});
