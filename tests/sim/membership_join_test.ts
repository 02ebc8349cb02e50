/**
 * The membership workload starts an acknowledged learner as an operator would (harness defect
 * 16): the member that answered the add applied it, but the running members the learner's
 * start asks may not have yet, and the start then refuses ("the cluster has no member with
 * peer URLs ..."); before, that refusal was thrown out of the workload and ended the whole
 * sweep. Now it waits on the simulated clock until a running member lists the learner.
 */
import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { ConfigError } from "../../lib/server/config.ts";
import { SimCluster } from "../cluster/sim_cluster.ts";
import { joinMember, simMembersFetcher } from "../cluster/sim_join.ts";
import { HistoryArchive } from "./history_archive.ts";
import { type MembershipRecord, startLearner } from "./membership_workload.ts";
import type { RunContext } from "./run_context.ts";

Deno.test("membership workload: a learner whose add no running member applied yet starts once one has (harness defect 16)", async () => {
  const seed = testSeed() >>> 1;
  console.log(`seed=${seed} (replay with SEED=${seed})`);
  let cluster: SimCluster | null = null;
  const c = await SimCluster.start({
    size: 3,
    seed,
    configure: (cfg) => void (cfg.strictReconfigCheck = false),
    member: { fetchMembers: simMembersFetcher(() => cluster!) },
  });
  cluster = c;
  const trace: string[] = [];
  const ctx: RunContext = {
    c,
    r: new Rand(seed),
    archive: new HistoryArchive(),
    tick: () => 0,
    within: (p) => p.then((v) => ({ v }), (e: unknown) => ({ e })),
    sleep: (ms) => new Promise((res) => c.clock.after(ms, res)),
    note: (l) => trace.push(`${c.clock.now()}ms ${l}`),
  };
  try {
    await c.until("a leader", () => c.leader() !== null);
    const leader = c.members.findIndex((m) => m !== null && m.isLeader);
    const [cut, other] = [0, 1, 2].filter((i) => i !== leader);
    // one follower hears nothing of the add; the leader and the other apply it and answer
    c.net.isolate(c.members[cut]!.id);
    await c.settle("the add", c.members[leader]!.addMember(["http://m4.sim:2380"], true));
    // both members that applied it go down: the one running member has not applied it
    await c.settle("a crash", c.crashMember(leader, "process"));
    await c.settle("a crash", c.crashMember(other, "process"));
    const url = "http://m4.sim:2380";
    assert.ok(!c.members[cut]!.membership.list().some((x) => x.peerURLs.includes(url)));
    // what the workload did before: the start refuses (and its refusal ended the sweep)
    await assert.rejects(
      joinMember(c, "m4"),
      (e) => e instanceof ConfigError && /the cluster has no member with peer URLs/.test(e.message),
    );
    c.configs.pop(); // (joinMember's entries for the start that refused)
    c.disks.pop();
    c.members.pop();
    // the workload's start waits; the members come back, the cut one catches up
    const rec: MembershipRecord = {
      added: 1,
      promoted: 0,
      removed: 0,
      refused: 0,
      joinWaits: 0,
      joinRetries: 0,
      notStarted: 0,
    };
    const started = startLearner(ctx, "m4", rec);
    await c.step(200);
    assert.equal(rec.joinWaits, 1, trace.join("\n"));
    c.net.heal();
    await c.settle("a restart", c.startMember(leader));
    await c.settle("a restart", c.startMember(other));
    const m = await c.settle("the learner's start", started);
    assert.ok(m !== null, `the learner was not started:\n${trace.join("\n")}`);
    assert.equal(c.members.at(-1), m);
    assert.equal(rec.notStarted, 0);
    await c.until("the learner catches up", () => {
      const l = c.leader(c.live.filter((x) => x !== m));
      return l !== null && m.appliedIndex >= l.appliedIndex;
    });
  } finally {
    await c.stop();
  }
});
