/**
 * A snapshot damaged in transit (a byte flipped in the page file or its hash, or the body cut
 * short) between real members over the simulated network: the receiver must refuse it (the
 * body's SHA-256 trailer, snapshot_wire.ts), keep serving its old state, and take the leader's
 * next send once the link is clean. Seeds print and replay with SEED=N.
 */
import assert from "node:assert/strict";
import { testSeed } from "../../lib/base/rand.ts";
import type { Member } from "../../lib/server/member.ts";
import { SimCluster } from "./sim_cluster.ts";

const dec = new TextDecoder();

function value(m: Member, key: string): string | undefined {
  const kv = m.store.range({ key, end: undefined }).kvs[0];
  return kv === undefined ? undefined : dec.decode(kv.value);
}

Deno.test("sim cluster: a member refuses every snapshot damaged in transit, loses nothing, and installs the leader's next clean one", async () => {
  const seed = testSeed() >>> 1;
  console.log(`seed=${seed} (replay with SEED=${seed})`);
  const c = await SimCluster.start({
    size: 3,
    seed,
    configure: (cfg) => (cfg.snapshotCount = 20),
    member: { snapshotCatchUpEntries: 5 },
  });
  try {
    await c.until("a leader", () => c.leader() !== null);
    const leader = c.leader()!;
    const behind = c.live.find((m) => m !== leader)!;
    await c.put(leader, "early", "0");
    await c.until("all hold 'early'", () => c.live.every((m) => value(m, "early") === "0"));
    const revBefore = behind.store.rev();
    const hashBefore = behind.store.hashKV(0).hash;
    c.net.isolate(behind.id);
    for (let i = 0; i < 60; i++) await c.put(leader, `k${i % 7}`, `v${i}`);
    await c.until("the leader snapshotted past the log", () => leader.snapshotIndex >= 40);

    // every snapshot body damaged: the member must refuse each, and still hold its old state
    c.net.setFaults({ snapshotFaultRate: 1 });
    c.net.heal();
    await c.until("three damaged snapshots refused", () => c.net.snapshotDamage.refused >= 3);
    assert.equal(c.net.snapshotDamage.stored, 0, "a damaged snapshot was stored");
    assert.ok(
      !c.log.some((l) =>
        l.startsWith(`${behind.config.name}:`) && l.includes("installed snapshot")
      ),
    );
    assert.equal(behind.failure, null, "refusing a damaged snapshot failed the member");
    assert.equal(behind.store.rev(), revBefore);
    assert.equal(behind.store.hashKV(0).hash, hashBefore);
    assert.equal(value(behind, "early"), "0");
    // the receiver's peer metrics count each as a failed receive (etcd's snapshot_receive_failures)
    const failures = behind.transport!.stats().find((s) =>
      s.id === leader.id
    )!.snapshotReceiveFailures;
    assert.ok(failures >= 3, `${failures} snapshot receive failures counted`);

    // a clean link: the leader sends again and the member catches up
    c.net.setFaults({ snapshotFaultRate: 0 });
    await c.until("the member caught up", () => behind.store.rev() === leader.store.rev());
    assert.equal(behind.store.hashKV(0).hash, leader.store.hashKV(0).hash);
    assert.equal(value(behind, "k6"), "v55");
    assert.equal(c.net.snapshotDamage.stored, 0);
  } finally {
    await c.stop();
  }
});
