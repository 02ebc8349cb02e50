import assert from "node:assert/strict";
import { Errors, text } from "../../lib/client/mod.ts";
import { onEveryTarget } from "./targets.ts";

Deno.test("lease: grant, timeToLive, leases, keepAliveOnce, revoke", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    const g = await c.lease.grant(30);
    assert.equal(g.TTL, 30n);
    const own = await c.lease.grant(30, { id: 0x1234 });
    assert.equal(own.ID, 0x1234n);
    await assert.rejects(c.lease.grant(30, { id: 0x1234 }), (e) => Errors.leaseExist.is(e));
    await c.put("l/1", "x", { lease: g.ID });
    const ttl = await c.lease.timeToLive(g.ID, { keys: true });
    assert.equal(ttl.grantedTTL, 30n);
    assert.ok(ttl.TTL > 0n && ttl.TTL <= 30n);
    assert.deepEqual(ttl.keys.map(text), ["l/1"]);
    const ids = (await c.lease.leases()).leases.map((l) => l.ID).sort();
    assert.deepEqual(ids, [g.ID, 0x1234n].sort());
    const ka = await c.lease.keepAliveOnce(g.ID);
    assert.equal(ka.ID, g.ID);
    assert.equal(ka.TTL, 30n);
    await c.lease.revoke(g.ID);
    assert.equal(await c.get("l/1"), undefined);
    assert.equal((await c.lease.timeToLive(g.ID)).TTL, -1n);
    await assert.rejects(c.lease.keepAliveOnce(g.ID), (e) => Errors.leaseNotFound.is(e));
    await assert.rejects(c.lease.revoke(g.ID), (e) => Errors.leaseNotFound.is(e));
  });
});

Deno.test("lease: keepAlive renews past the TTL until cancelled; done rejects when revoked", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    const { ID } = await c.lease.grant(2);
    await c.put("ka", "x", { lease: ID });
    let renewals = 0;
    const ka = c.lease.keepAlive(ID, { onRenew: () => renewals++ });
    // twice the TTL: without renewals the key would be gone
    const until = Date.now() + 4200;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 300));
      assert.notEqual(await c.get("ka"), undefined, "the key outlived its lease's TTL");
    }
    assert.ok(renewals >= 3, `renewals=${renewals}`);
    ka.cancel();
    await ka.done;

    const second = await c.lease.grant(3);
    const ka2 = c.lease.keepAlive(second.ID);
    await c.lease.revoke(second.ID);
    await assert.rejects(ka2.done, (e) => Errors.leaseNotFound.is(e));
  });
});
