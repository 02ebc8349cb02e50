/**
 * A member added at run time and started with --initial-cluster-state existing joins over the
 * simulated network: it learns its id and the cluster id from the running members, catches
 * up from the leader's log or by its snapshot, is promoted, and a removed member stops with
 * etcd's message. Seeds print and replay with SEED=N.
 */
import assert from "node:assert/strict";
import { HEALTH_INTERVAL_MS } from "../../lib/server/reconfig.ts";
import type { Member } from "../../lib/server/member.ts";
import { SimCluster } from "./sim_cluster.ts";
import { joinMember, simMembersFetcher } from "./sim_join.ts";

function seedOf(): number {
  const s = Deno.env.get("SEED");
  const seed = s !== undefined ? Number(s) : Math.floor(Math.random() * 2 ** 31);
  console.log(`seed=${seed} (replay with SEED=${seed})`);
  return seed;
}

const dec = new TextDecoder();

function value(m: Member, key: string): string | undefined {
  const kv = m.store.range({ key, end: undefined }).kvs[0];
  return kv === undefined ? undefined : dec.decode(kv.value);
}

async function grow(snapshots: boolean): Promise<void> {
  const seed = seedOf();
  let cluster: SimCluster | null = null;
  const c = await SimCluster.start({
    size: 3,
    seed,
    configure: (cfg) => {
      if (snapshots) cfg.snapshotCount = 20;
    },
    member: {
      fetchMembers: simMembersFetcher(() => cluster!),
      ...(snapshots ? { snapshotCatchUpEntries: 5 } : {}),
    },
  });
  cluster = c;
  try {
    await c.until("a leader all agree on", () => c.leader() !== null);
    await c.until("published", () => c.live.every((m) => m.membership.list().every((r) => r.name)));
    const end = c.clock.now() + HEALTH_INTERVAL_MS + 100;
    await c.until("the health interval", () => c.clock.now() >= end);
    const leader = c.leader()!;
    for (let i = 0; i < 60; i++) await c.put(c.live[i % 3], `k${i}`, `v${i}`);

    const { member } = await c.settle(
      "member add --learner",
      leader.addMember(["http://m4.sim:2380"], true),
    );
    const m4 = await joinMember(c, "m4");
    assert.equal(m4.id, member.id, "the joiner takes the id member add gave it");
    assert.equal(m4.clusterId, leader.clusterId);
    await c.until("the learner caught up", () => m4.store.rev() === leader.store.rev());
    assert.equal(value(m4, "k59"), "v59");
    if (snapshots) {
      assert.ok(
        c.log.some((l) => l.startsWith("m4: concord: received and saved database snapshot")),
        c.log.filter((l) => l.includes("snap") || l.startsWith("m4")).join("\n"),
      );
    }
    await c.settle("m4 published", m4.published);
    assert.equal(leader.membership.get(m4.id)?.name, "m4");
    assert.deepEqual(m4.membership.list(), leader.membership.list());

    // promote through a follower (forwarded to the leader, which sees it in sync)
    const follower = c.live.find((m) => m !== leader && m !== m4)!;
    await c.settle("promote", follower.promoteMember(m4.id));
    await c.until(
      "a voter everywhere",
      () => c.live.every((m) => m.node.raw.confState().voters.includes(m4.id)),
    );
    assert.equal(m4.membership.get(m4.id)?.isLearner, false);

    // remove the follower: it stops with etcd's message; the other three go on
    await c.settle("remove", leader.removeMember(follower.id));
    await c.until("the removed member stops", () => follower.failure !== null);
    assert.equal(
      (follower.failure as Error).message,
      "the member has been permanently removed from the cluster",
    );
    const rest = c.live.filter((m) => m !== follower);
    await c.put(m4, "after", "x");
    await c.until("applied on the three", () => rest.every((m) => value(m, "after") === "x"));
    const hashes = rest.map((m) => m.store.hashKV(0).hash);
    assert.equal(new Set(hashes).size, 1, `hashKV differs: ${hashes}`);
  } finally {
    await c.stop();
  }
}

Deno.test("sim join: a learner joins from the leader's log, is promoted; a removed member stops", () =>
  grow(false));

Deno.test("sim join: a learner joins by the leader's snapshot", () => grow(true));

Deno.test("sim join: a joiner that restarts before it learned anything from the log still catches up", async () => {
  const seed = seedOf();
  let cluster: SimCluster | null = null;
  const c = await SimCluster.start({
    size: 3,
    seed,
    member: { fetchMembers: simMembersFetcher(() => cluster!) },
  });
  cluster = c;
  try {
    await c.until("a leader all agree on", () => c.leader() !== null);
    const end = c.clock.now() + HEALTH_INTERVAL_MS + 100;
    await c.until("the health interval", () => c.clock.now() >= end);
    const leader = c.leader()!;
    await c.put(leader, "k", "v");
    const { member } = await c.settle(
      "member add --learner",
      leader.addMember(["http://m4.sim:2380"], true),
    );
    // the joiner hears nothing before it goes down: its WAL holds no entry, no snapshot
    c.net.isolate(member.id);
    const m4 = await joinMember(c, "m4");
    assert.equal(m4.appliedIndex, 0);
    await c.crashMember(3, "process");
    c.net.heal();
    const back = await c.startMember(3);
    // it must still answer the leader (which it hears) and catch up
    await c.until(
      "the restarted joiner caught up",
      () => back.store.rev() === leader.store.rev() && value(back, "k") === "v",
      10_000,
    );
  } finally {
    await c.stop();
  }
});

Deno.test("sim join: a member that catches up by snapshot across membership changes talks to the new members and not the removed", async () => {
  const seed = seedOf();
  let cluster: SimCluster | null = null;
  const c = await SimCluster.start({
    size: 3,
    seed,
    // a learner may be added while a member is down
    configure: (cfg) => {
      cfg.snapshotCount = 20;
      cfg.strictReconfigCheck = false;
    },
    member: { fetchMembers: simMembersFetcher(() => cluster!), snapshotCatchUpEntries: 5 },
  });
  cluster = c;
  try {
    await c.until("a leader all agree on", () => c.leader() !== null);
    const leader = c.leader()!;
    const down = c.members.findIndex((m) => m !== null && m !== leader);
    const gone = c.members.findIndex((m, i) => m !== null && m !== leader && i !== down);
    const goneId = c.members[gone]!.id;
    await c.stopMember(down);
    // while it is down: m4 joins and becomes a voter, another member is removed
    const { member } = await c.settle(
      "member add --learner",
      leader.addMember(["http://m4.sim:2380"], true),
    );
    const m4 = await joinMember(c, "m4");
    assert.equal(m4.id, member.id);
    await c.until(
      "the leader sees m4 caught up",
      () => leader.node.raw.raft.trk.progress.get(m4.id)?.match === leader.commitIndex,
    );
    await c.settle("promote", leader.promoteMember(m4.id));
    await c.settle("remove", leader.removeMember(goneId));
    await c.until("the removed member stops", () => c.members[gone]!.failure !== null);
    await c.stopMember(gone);
    // past the log the member had: it catches up by the leader's snapshot
    for (let i = 0; leader.snapshotIndex < 60; i++) await c.put(leader, `k${i % 5}`, `v${i}`);
    const back = await c.startMember(down);
    await c.until("the snapshot installed", () => back.snapshotIndex >= 60);
    const peers = () => back.transport!.stats().map((s) => s.id.toString(16)).sort().join();
    const want = [leader.id, m4.id].map((id) => id.toString(16)).sort().join();
    await c.until("its peers are the snapshot's members", () => peers() === want, 2_000)
      .catch((e) => assert.fail(`seed=${seed}: peers ${peers()}, members ${want}: ${e}`));
    // and it works with them: with the leader cut off, it and m4 are a quorum of three
    await c.until("caught up", () => back.appliedIndex === leader.appliedIndex);
    c.net.isolate(leader.id);
    await c.until("a leader of the two", () => c.leader([back, m4]) !== null, 5_000);
    await c.put(c.leader([back, m4])!, "after", "x");
  } finally {
    await c.stop();
  }
});

Deno.test("sim join: a member behind the add of the new leader answers it and catches up", async () => {
  const seed = seedOf();
  let cluster: SimCluster | null = null;
  const c = await SimCluster.start({
    size: 3,
    seed,
    configure: (cfg) => (cfg.strictReconfigCheck = false),
    member: { fetchMembers: simMembersFetcher(() => cluster!) },
  });
  cluster = c;
  try {
    await c.until("a leader all agree on", () => c.leader() !== null);
    const leader = c.leader()!;
    const behind = c.members.findIndex((m) => m !== null && m !== leader);
    await c.stopMember(behind);
    // while it is down, m4 joins, becomes a voter and then the leader
    const { member } = await c.settle(
      "member add --learner",
      leader.addMember(["http://m4.sim:2380"], true),
    );
    const m4 = await joinMember(c, "m4");
    await c.until(
      "the leader sees m4 caught up",
      () => leader.node.raw.raft.trk.progress.get(member.id)?.match === leader.commitIndex,
    );
    await c.settle("promote", leader.promoteMember(m4.id));
    await c.settle("move leader", leader.moveLeader(m4.id));
    await c.until("m4 leads", () => c.leader() === m4);
    await c.put(m4, "k", "v");
    // the member comes back knowing nothing of m4: m4's appends reach it, and its answers
    // must reach m4 (etcd's rafthttp answers an unknown sender through its "remotes")
    const back = await c.startMember(behind);
    await c.until(
      "it caught up from the new leader",
      () => value(back, "k") === "v" && back.appliedIndex === m4.appliedIndex,
      10_000,
    );
  } finally {
    await c.stop();
  }
});
