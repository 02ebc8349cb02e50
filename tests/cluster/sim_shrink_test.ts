/**
 * A cluster shrunk to one member must still tell a removed member that it was removed
 * (docs/testing.md, finding 12): three members, one cut off and removed, a second removed,
 * then both the cut-off member and the lone survivor restart. etcd listens on its peer URLs
 * whatever the cluster's size, so the removed member's streams get etcd's 410 "removed
 * member" and it stops; before the fix a member alone at boot started no peer transport, and
 * the removed member campaigned at its old term for good. Seeds print and replay with SEED=N.
 */
import assert from "node:assert/strict";
import { MemberRemovedError } from "../../lib/server/member_calls.ts";
import { SimCluster } from "./sim_cluster.ts";

function seedOf(): number {
  const s = Deno.env.get("SEED");
  const seed = s !== undefined ? Number(s) : Math.floor(Math.random() * 2 ** 31);
  console.log(`seed=${seed} (replay with SEED=${seed})`);
  return seed;
}

Deno.test("sim membership: a member removed while cut off learns it from a cluster shrunk to one that restarted", async () => {
  const seed = seedOf();
  const c = await SimCluster.start({
    size: 3,
    seed,
    configure: (cfg) => {
      cfg.strictReconfigCheck = false;
    },
  });
  try {
    await c.until("a leader all agree on", () => c.leader() !== null);
    const leader = c.leader()!;
    const s = c.members.indexOf(leader);
    const [a, b] = [0, 1, 2].filter((i) => i !== s);
    const cut = c.members[a]!;
    c.net.isolate(cut.id);
    await c.settle("remove the cut-off member", leader.removeMember(cut.id));
    await c.settle("remove a second member", leader.removeMember(c.members[b]!.id));
    await c.until("the second member stopped", () => c.members[b]!.failure !== null);
    assert.deepEqual(leader.membership.list().map((m) => m.id), [leader.id]);
    assert.equal(cut.failure, null, "the cut-off member has not heard of its removal");

    // both restart: the removed member still believes it is a voter, the survivor is alone
    await c.crashMember(a, "process");
    await c.crashMember(s, "process");
    const removed = await c.startMember(a);
    const alone = await c.startMember(s);
    await c.until("the lone member leads", () => alone.isLeader);
    c.net.heal();
    await c.until("the removed member learned it was removed", () => removed.failure !== null);
    assert.ok(removed.failure instanceof MemberRemovedError, String(removed.failure));
    assert.ok(alone.isLeader && alone.failure === null, "the lone member goes on");
  } finally {
    await c.stop();
  }
});
