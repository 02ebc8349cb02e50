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
