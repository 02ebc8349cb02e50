/**
 * Membership changes over the simulated network with etcd's checks and errors: add a
 * learner and a voter, the learner limit, promoting an unsynced learner, duplicate peer URLs,
 * unknown ids, updating peer URLs, removals under --strict-reconfig-check with a member down.
 * Seeds print and replay with SEED=N.
 */
import assert from "node:assert/strict";
import { Errors, EtcdError } from "../../lib/base/errors.ts";
import { HEALTH_INTERVAL_MS } from "../../lib/server/reconfig.ts";
import { SimCluster } from "./sim_cluster.ts";

function seedOf(): number {
  const s = Deno.env.get("SEED");
  const seed = s !== undefined ? Number(s) : Math.floor(Math.random() * 2 ** 31);
  console.log(`seed=${seed} (replay with SEED=${seed})`);
  return seed;
}

/** Settles `p` on the cluster and returns the etcd error it failed with. */
async function refusal(c: SimCluster, what: string, p: Promise<unknown>): Promise<EtcdError> {
  try {
    await c.settle(what, p);
  } catch (err) {
    assert.ok(err instanceof EtcdError, `${what}: ${err}`);
    return err;
  }
  throw new Error(`${what} was accepted`);
}

async function healthy(c: SimCluster): Promise<void> {
  await c.until("a leader all agree on", () => c.leader() !== null);
  await c.until("published", () => c.live.every((m) => m.membership.list().every((r) => r.name)));
  // etcd counts a peer as connected once reachable for its health interval
  const end = c.clock.now() + HEALTH_INTERVAL_MS + 100;
  await c.until("the health interval", () => c.clock.now() >= end);
}

Deno.test("sim membership: add a learner, limits and refusals, promote refused while unsynced, update, remove", async () => {
  const seed = seedOf();
  const c = await SimCluster.start({ size: 3, seed });
  try {
    await healthy(c);
    const leader = c.leader()!;
    const follower = c.live.find((m) => m !== leader)!;

    // a learner added through a follower: etcd's id for a run-time add, applied everywhere
    const added = await c.settle(
      "member add --learner",
      follower.addMember(["http://m4.sim:2380"], true),
    );
    assert.equal(added.member.isLearner, true);
    assert.equal(added.members.length, 4);
    const learnerId = added.member.id;
    await c.until(
      "the learner listed everywhere",
      () => c.live.every((m) => m.membership.get(learnerId)?.isLearner === true),
    );
    assert.equal(leader.node.raw.confState().learners.includes(learnerId), true);

    // --max-learners 1
    let e = await refusal(c, "a second learner", leader.addMember(["http://m5.sim:2380"], true));
    assert.equal(e.message, Errors.tooManyLearners().message);
    // peer URLs in use
    e = await refusal(c, "a duplicate peer URL", leader.addMember(["http://m1.sim:2380"], false));
    assert.equal(e.message, "etcdserver: Peer URLs already exists");
    // the learner never started: it is not in sync with the leader (asked through a follower)
    e = await refusal(c, "promote an unsynced learner", follower.promoteMember(learnerId));
    assert.equal(
      e.message,
      "etcdserver: can only promote a learner member which is in sync with leader",
    );
    // a voter is not a learner
    e = await refusal(c, "promote a voter", leader.promoteMember(follower.id));
    assert.equal(e.message, "etcdserver: can only promote a learner member");
    // unknown ids
    e = await refusal(c, "remove an unknown id", leader.removeMember(0x1234n));
    assert.equal(e.message, "etcdserver: member not found");
    e = await refusal(c, "update an unknown id", leader.updateMember(0x1234n, ["http://x:1"]));
    assert.equal(e.message, "etcdserver: member not found");

    // update the learner's peer URLs; a taken URL is refused
    await c.settle("member update", follower.updateMember(learnerId, ["http://m4b.sim:2380"]));
    await c.until(
      "the new URLs everywhere",
      () => c.live.every((m) => m.membership.get(learnerId)?.peerURLs[0] === "http://m4b.sim:2380"),
    );
    e = await refusal(
      c,
      "update to a taken URL",
      leader.updateMember(learnerId, ["http://m2.sim:2380"]),
    );
    assert.equal(e.message, "etcdserver: Peer URLs already exists");

    // remove the learner; its id may never come back
    const after = await c.settle("member remove", leader.removeMember(learnerId));
    assert.equal(after.length, 3);
    await c.until(
      "removed everywhere",
      () => c.live.every((m) => !m.membership.has(learnerId) && m.membership.isRemoved(learnerId)),
    );
    assert.equal(leader.node.raw.confState().learners.length, 0);
    e = await refusal(c, "remove it again", leader.removeMember(learnerId));
    assert.equal(e.message, "etcdserver: member not found");
    // writes still commit on the three voters
    await c.put(follower, "k", "v");
  } finally {
    await c.stop();
  }
});

Deno.test("sim membership: --strict-reconfig-check with a member down", async () => {
  const seed = seedOf();
  const c = await SimCluster.start({ size: 3, seed });
  try {
    await healthy(c);
    // stop a follower: the two left are a bare quorum
    const downIdx = c.members.findIndex((m) => m !== null && !m.isLeader);
    const downId = c.members[downIdx]!.id;
    await c.stopMember(downIdx);
    await c.until(
      "the peer seen down",
      () => c.live.every((m) => m.transport!.activeSince(downId) === 0),
    );
    await c.until("a leader all agree on", () => c.leader() !== null);
    const leader = c.leader()!;
    const other = c.live.find((m) => m !== leader)!;
    // adding a voter needs every voter connected (etcd 3.4's isConnectedFullySince)
    let e = await refusal(
      c,
      "add with a member down",
      leader.addMember(["http://m9.sim:2380"], false),
    );
    assert.equal(e.message, "etcdserver: unhealthy cluster");
    // removing a live voter would leave 1 of 2 connected
    e = await refusal(c, "remove a live member", leader.removeMember(other.id));
    assert.equal(e.message, "etcdserver: unhealthy cluster");
    // the member that is down is safe to remove
    const left = await c.settle("remove the member that is down", leader.removeMember(downId));
    assert.deepEqual(left.map((m) => m.id).sort(), [leader.id, other.id].sort());
    await c.until("both applied", () => c.live.every((m) => !m.membership.has(downId)));
    await c.put(other, "k", "v");
  } finally {
    await c.stop();
  }
});
