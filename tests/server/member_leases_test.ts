/**
 * The leader's lessor and the raft log (finding 13 of the whole-cluster simulation): a member
 * elected leader may still hold entries of earlier terms it has not applied (a revoke the old
 * leader proposed, uncommitted until the new term's first entry commits it). etcd promotes
 * the lessor only when the leader applies its term's empty entry, so a keep-alive is never
 * answered from leases such an entry is about to revoke.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { testSeed } from "../../lib/base/rand.ts";
import { Errors } from "../../lib/base/errors.ts";
import type { Member } from "../../lib/server/member.ts";
import { RequestKind } from "../../lib/server/request.ts";
import {
  LeaseGrantRequestSchema,
  LeaseRevokeRequestSchema,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { SimCluster } from "../cluster/sim_cluster.ts";
import { track } from "../support/track.ts";

const LEASE = 0x1313n;

/**
 * Leaves a revoke of LEASE from the current term uncommitted in every member's log: the
 * followers' answers to the leader are cut, so the leader (check quorum) steps down with the
 * entry replicated but not committed. Returns the old leader.
 */
async function strandRevoke(c: SimCluster): Promise<Member> {
  await c.until("a leader", () => c.leader() !== null);
  const old = c.leader()!;
  await c.settle(
    "the grant",
    old.propose({
      kind: RequestKind.LeaseGrant,
      req: create(LeaseGrantRequestSchema, { ID: LEASE, TTL: 60n }),
    }),
  );
  await c.until(
    "every member applied the grant",
    () => c.live.every((m) => m.lessor.exists(LEASE)),
  );
  const others = c.live.filter((m) => m !== old).map((m) => m.id);
  c.net.partition(others, [old.id], true); // the followers hear the leader; it hears nothing
  const revoke = track(old.propose({
    kind: RequestKind.LeaseRevoke,
    req: create(LeaseRevokeRequestSchema, { ID: LEASE }),
  }));
  const revokeIndex = old.commitIndex + 1;
  await c.until("the revoke failed with the leadership", () => revoke.state === "failed");
  assert.ok(
    c.live.every((m) => m.commitIndex < revokeIndex && m.lessor.exists(LEASE)),
    "the revoke was not committed",
  );
  c.net.heal();
  return old;
}

Deno.test("a re-elected leader answers no keep-alive before its old term's revoke applies", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const c = await SimCluster.start({
    size: 3,
    seed,
    network: { trace: false, minDelayMs: 3, maxDelayMs: 3 },
  });
  try {
    await strandRevoke(c);
    // the first moment some member leads again: its log still holds the uncommitted revoke
    let leader: Member | undefined;
    while (leader === undefined) {
      await c.step(1);
      leader = c.live.find((m) => m.isLeader);
      if (c.clock.now() > 60_000) throw new Error(`seed=${seed}: no leader again`);
    }
    assert.ok(leader.lessor.exists(LEASE), "the revoke is not applied yet");
    const renew = track(leader.leaseRenew(LEASE));
    await c.until("the keep-alive was answered", () => renew.state !== "pending");
    // etcd: the lessor is promoted once the term's first entry applies, after the old revoke
    assert.equal(renew.state, "failed", `keep-alive answered TTL ${renew.value}`);
    assert.ok(Errors.leaseNotFound.is(renew.error), `keep-alive failed with ${renew.error}`);
    assert.ok(c.live.every((m) => !m.lessor.exists(LEASE)));
  } finally {
    await c.stop();
  }
});
