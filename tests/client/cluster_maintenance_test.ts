import assert from "node:assert/strict";
import { AlarmType } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Errors } from "../../lib/client/mod.ts";
import { onEveryTarget } from "./targets.ts";

Deno.test("cluster: list, add a learner, update, promote refused, remove", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    const list = await c.cluster.list();
    assert.equal(list.members.length, 1);
    const self = list.members[0];
    assert.deepEqual(self.clientURLs, [t.url]);
    // the client's endpoints follow the member list
    await c.sync();
    assert.deepEqual(c.endpoints, [t.url]);
    const added = await c.cluster.add(["http://127.0.0.1:1"], { isLearner: true });
    assert.equal(added.member!.isLearner, true);
    assert.equal((await c.cluster.list()).members.length, 2);
    await assert.rejects(
      c.cluster.add(["http://127.0.0.1:1"]),
      // the id derives from the peer URLs and the second of the add: within the same second
      // it is the same id, after it the URLs are found taken
      (e) => Errors.memberExist.is(e) || Errors.peerURLExist.is(e),
    );
    await c.cluster.update(added.member!.ID, ["http://127.0.0.1:2"]);
    const updated = (await c.cluster.list()).members.find((m) => m.ID === added.member!.ID)!;
    assert.deepEqual(updated.peerURLs, ["http://127.0.0.1:2"]);
    await assert.rejects(c.cluster.promote(added.member!.ID), (e) => Errors.learnerNotReady.is(e));
    await c.cluster.remove(added.member!.ID);
    assert.equal((await c.cluster.list()).members.length, 1);
    await assert.rejects(c.cluster.remove(added.member!.ID), (e) => Errors.memberNotFound.is(e));
  });
});

Deno.test("maintenance: status, alarms, hashes, defragment, snapshot with progress", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    await c.put("m", "x");
    const st = await c.maintenance.status({ endpoint: t.url });
    assert.match(st.version, /^3\.\d+\.\d+/);
    assert.ok(st.dbSize > 0n);
    assert.equal(st.leader, st.header!.memberId);
    assert.deepEqual((await c.maintenance.alarms()).alarms, []);
    const h1 = await c.maintenance.hashKV(0);
    const h2 = await c.maintenance.hashKV(0, { endpoint: t.url });
    assert.equal(h1.hash, h2.hash);
    assert.ok((await c.maintenance.hash()).hash !== 0);
    await c.maintenance.defragment({ endpoint: t.url });
    const disarmed = await c.maintenance.disarm({
      memberID: st.header!.memberId,
      alarm: AlarmType.NOSPACE,
    });
    assert.deepEqual(disarmed.alarms, []);
    let bytes = 0, lastRemaining = -1n, progress = 0;
    for await (
      const chunk of c.maintenance.snapshot({
        onProgress: (p) => {
          progress++;
          lastRemaining = p.remaining;
          assert.ok(p.received > 0);
        },
      })
    ) bytes += chunk.length;
    assert.ok(bytes > 4096, `snapshot of ${bytes} bytes`);
    assert.ok(progress > 0);
    assert.equal(lastRemaining, 0n);
    await assert.rejects(c.maintenance.moveLeader(12345), (e) => Errors.badLeaderTransferee.is(e));
    await assert.rejects(c.maintenance.status({ endpoint: "http://127.0.0.1:9" }), /not one of/);
  });
});
