/**
 * Every member's status over the simulated network (the same member code, peer call
 * member-status): three voters and a learner, each reported with its own Status (the learner
 * as a learner); a member cut off from the asking one is reported unreachable, the others
 * still with their figures; after the heal it answers again. Seeds print and replay with
 * SEED=N.
 */
import assert from "node:assert/strict";
import { toBinary } from "@bufbuild/protobuf";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { NOBODY } from "../../lib/server/caller.ts";
import { MaintenanceServer } from "../../lib/server/maintenance_server.ts";
import type { Member } from "../../lib/server/member.ts";
import type { MemberStatus } from "../../lib/server/members_status.ts";
import { HEALTH_INTERVAL_MS } from "../../lib/server/reconfig.ts";
import { SimCluster } from "../cluster/sim_cluster.ts";
import { joinMember, simMembersFetcher } from "../cluster/sim_join.ts";

function seedOf(): number {
  const s = Deno.env.get("SEED");
  const seed = s !== undefined ? Number(s) : Math.floor(Math.random() * 2 ** 31);
  console.log(`seed=${seed} (replay with SEED=${seed})`);
  return seed;
}

/** A member's own Status, as bytes (to compare whole answers). */
async function own(m: Member): Promise<Uint8Array> {
  return toBinary(pb.StatusResponseSchema, await new MaintenanceServer(m).status());
}

Deno.test("members status (sim): voters and a learner each with their own status; a cut-off member unreachable", async () => {
  const seed = seedOf();
  // the fetcher is called only once the cluster exists (when m4 joins)
  const ref: { cluster?: SimCluster } = {};
  const c = await SimCluster.start({
    size: 3,
    seed,
    member: { fetchMembers: simMembersFetcher(() => ref.cluster!) },
  });
  ref.cluster = c;
  try {
    await c.until("a leader all agree on", () => c.leader() !== null);
    await c.until("published", () => c.live.every((m) => m.membership.list().every((r) => r.name)));
    // a member is added only once the leader has seen its peers active this long
    const end = c.clock.now() + HEALTH_INTERVAL_MS + 100;
    await c.until("the health interval", () => c.clock.now() >= end);
    const leader = c.leader()!;
    const { member } = await c.settle(
      "member add --learner",
      leader.addMember(["http://m4.sim:2380"], true),
    );
    const m4 = await joinMember(c, "m4");
    await c.put(leader, "k", "v");
    await c.until(
      "every member applied the put",
      () => c.live.every((m) => m.appliedIndex === leader.appliedIndex && m.leader !== 0n),
    );
    const asking = c.live.find((m) => m !== leader && m !== m4)!;
    const maint = new MaintenanceServer(asking);
    const ask = (what: string) =>
      c.settle(what, maint.membersStatus(NOBODY, 500)) as Promise<MemberStatus[]>;

    // a quiet cluster: each entry is byte for byte that member's own Status (every backend
    // committed first: a batch commit in between would change a db size)
    await c.settle("backends committed", Promise.all(c.live.map((m) => m.backend.commit())));
    const all = await ask("every member's status");
    assert.equal(all.length, 4);
    for (const m of c.live) {
      const e = all.find((x) => x.member.id === m.id)!;
      assert.ok("status" in e, `${m.config.name}: ${"error" in e ? e.error.message : ""}`);
      assert.deepEqual(toBinary(pb.StatusResponseSchema, e.status), await own(m), m.config.name);
    }
    const learner = all.find((x) => x.member.id === member.id)!;
    assert.ok("status" in learner);
    assert.equal(learner.status.isLearner, true);
    assert.equal(learner.member.isLearner, true);
    assert.equal(all.filter((x) => "status" in x && x.status.isLearner).length, 1);

    // the learner cut off from the asking member: unreachable; the others still answer
    c.net.partition([asking.id], [m4.id]);
    const cut = await ask("the status with the learner cut off");
    const gone = cut.find((x) => x.member.id === m4.id)!;
    assert.ok("error" in gone, "a cut-off member has no status");
    assert.equal(gone.error.code, 14, gone.error.message);
    assert.equal(cut.filter((x) => "status" in x).length, 3);

    c.net.heal();
    const back = await ask("the status after the heal");
    assert.equal(back.filter((x) => "status" in x).length, 4);
  } finally {
    await c.stop();
  }
});
