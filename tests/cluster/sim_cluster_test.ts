/**
 * Real members in one process over the simulated network, disk and clock: election, writes and
 * linearizable reads through followers, leader isolation, catch-up by snapshot. Seeds print
 * and replay with SEED=N.
 */
import assert from "node:assert/strict";
import { Errors } from "../../lib/base/errors.ts";
import { SimCluster } from "./sim_cluster.ts";
import type { Member } from "../../lib/server/member.ts";
import { create } from "@bufbuild/protobuf";
import { LeaseGrantRequestSchema, PutRequestSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { RequestKind } from "../../lib/server/request.ts";

function seedOf(): number {
  const s = Deno.env.get("SEED");
  const seed = s !== undefined ? Number(s) : Math.floor(Math.random() * 2 ** 31);
  console.log(`seed=${seed} (replay with SEED=${seed})`);
  return seed;
}

const dec = new TextDecoder();
const enc = new TextEncoder();

function value(m: Member, key: string): string | undefined {
  const kv = m.store.range({ key, end: undefined }).kvs[0];
  return kv === undefined ? undefined : dec.decode(kv.value);
}

Deno.test("sim cluster: 3 members elect one leader; writes and linearizable reads through any member", async () => {
  const seed = seedOf();
  const c = await SimCluster.start({ size: 3, seed });
  try {
    await c.until("a leader all agree on", () => c.leader() !== null);
    const leader = c.leader()!;
    const followers = c.live.filter((m) => m !== leader);
    assert.equal(followers.length, 2);
    // ids as etcd derives them: distinct, and one cluster id for all
    assert.equal(new Set(c.live.map((m) => m.id)).size, 3);
    assert.equal(new Set(c.live.map((m) => m.clusterId)).size, 1);
    let last = 0;
    for (const [i, m] of [leader, ...followers].entries()) {
      const a = await c.put(m, `k${i}`, `v${i}`);
      assert.equal(a.kind, "put");
      if (a.kind !== "put") continue;
      assert.ok(a.r.header.revision > last, "revisions grow");
      last = a.r.header.revision;
      // linearizable through a follower: it sees the write it did not apply first
      const other = followers[(i + 1) % 2];
      await c.settle("a linearizable read", other.linearizableRead());
      assert.equal(value(other, `k${i}`), `v${i}`);
    }
    // every member answers with its own id in the header, and holds the same data
    await c.until("all applied", () => c.live.every((m) => m.store.rev() === last));
    assert.deepEqual(new Set(c.live.map((m) => m.header().memberId)).size, 3);
    const hashes = c.live.map((m) => m.store.hashKV(0).hash);
    assert.equal(new Set(hashes).size, 1, `hashKV differs: ${hashes}`);
    // every member published its name and client URLs; all list the same three
    await c.until(
      "published attributes",
      () => c.live.every((m) => m.membership.list().every((r) => r.clientURLs.length === 1)),
    );
    for (const m of c.live) {
      assert.deepEqual(m.membership.list().map((r) => r.name).sort(), ["m1", "m2", "m3"]);
    }
  } finally {
    await c.stop();
  }
});

Deno.test("sim cluster: an isolated leader serves nothing; the majority elects another and goes on; all converge after heal", async () => {
  const seed = seedOf();
  const c = await SimCluster.start({ size: 3, seed });
  try {
    await c.until("a leader", () => c.leader() !== null);
    const old = c.leader()!;
    const rest = c.live.filter((m) => m !== old);
    await c.put(rest[0], "before", "1");
    c.net.isolate(old.id);
    // the old leader cannot commit: its write fails (leader changed or timed out), never hangs
    const stale = old.propose({
      kind: RequestKind.Put,
      req: create(PutRequestSchema, { key: enc.encode("lost"), value: enc.encode("x") }),
    });
    const staleRead = old.linearizableRead();
    await c.until("a new leader among the majority", () => c.leader(rest) !== null);
    const fresh = c.leader(rest)!;
    assert.notEqual(fresh.id, old.id);
    const err = await c.settle("the stale write fails", stale.then(() => null, (e) => e));
    assert.ok(err !== null, "a write on the isolated leader was acknowledged");
    const codes = [Errors.leaderChanged().message, Errors.timeout().message];
    assert.ok(codes.includes((err as Error).message), `unexpected: ${err}`);
    const rerr = await c.settle("the stale read fails", staleRead.then(() => null, (e) => e));
    assert.ok(rerr !== null, "a linearizable read on the isolated leader was served");
    const a = await c.put(rest[1], "after", "2");
    assert.equal(a.kind, "put");
    c.net.heal();
    await c.until("the old leader follows", () => c.leader() === fresh);
    await c.settle("a read on the old leader", old.linearizableRead());
    assert.equal(value(old, "after"), "2");
    assert.equal(value(old, "lost"), undefined, "the unacknowledged write never committed");
    await c.until("same revision", () => c.live.every((m) => m.store.rev() === fresh.store.rev()));
    assert.equal(new Set(c.live.map((m) => m.store.hashKV(0).hash)).size, 1);
  } finally {
    await c.stop();
  }
});

Deno.test("sim cluster: a member that was down past the leader's log compaction catches up by snapshot, then by log", async () => {
  const seed = seedOf();
  const c = await SimCluster.start({
    size: 3,
    seed,
    configure: (cfg) => (cfg.snapshotCount = 20),
    member: { snapshotCatchUpEntries: 5 },
  });
  try {
    await c.until("a leader", () => c.leader() !== null);
    const leader = c.leader()!;
    const down = c.live.findIndex((m) => m !== leader);
    await c.put(leader, "early", "0");
    await c.until("all hold 'early'", () => c.live.every((m) => value(m, "early") === "0"));
    await c.stopMember(down);
    for (let i = 0; i < 60; i++) await c.put(leader, `k${i % 7}`, `v${i}`);
    await c.until("the leader snapshotted past the log", () => leader.snapshotIndex >= 40);
    const back = await c.startMember(down);
    await c.until(
      "the restarted member caught up by snapshot",
      () => c.log.some((l) => l.includes("installed snapshot")),
    );
    await c.until("the restarted member caught up", () => back.store.rev() === leader.store.rev());
    // and by log after the snapshot
    await c.put(leader, "late", "1");
    await c.until("the late write reached it", () => value(back, "late") === "1");
    assert.equal(back.store.hashKV(0).hash, leader.store.hashKV(0).hash);
    assert.equal(value(back, "k6"), "v55");
  } finally {
    await c.stop();
  }
});

Deno.test("sim cluster: 5 members keep serving with 2 down and refuse writes with 3 down", async () => {
  const seed = seedOf();
  const c = await SimCluster.start({ size: 5, seed });
  try {
    await c.until("a leader", () => c.leader() !== null);
    const leaderIdx = c.members.findIndex((m) => m?.isLeader);
    const downs = [0, 1, 2, 3, 4].filter((i) => i !== leaderIdx).slice(0, 2);
    for (const i of downs) await c.stopMember(i);
    const leader = c.members[leaderIdx]!;
    assert.equal((await c.put(leader, "k", "with 3 of 5")).kind, "put");
    const third = [0, 1, 2, 3, 4].find((i) => i !== leaderIdx && !downs.includes(i))!;
    await c.stopMember(third);
    const survivor = c.live.find((m) => m !== leader)!;
    const err = await c.settle(
      "a write without a quorum fails",
      survivor.linearizableRead().then(() => null, (e) => e),
    );
    assert.ok(err !== null, "a linearizable read was served by 2 of 5 members");
  } finally {
    await c.stop();
  }
});

Deno.test("sim cluster: a lease keeps its remaining TTL across a leader change (checkpoints)", async () => {
  const seed = seedOf();
  const c = await SimCluster.start({ size: 3, seed });
  try {
    await c.until("a leader", () => c.leader() !== null);
    const leader = c.leader()!;
    const granted = await c.settle(
      "a lease grant",
      leader.propose({
        kind: RequestKind.LeaseGrant,
        req: create(LeaseGrantRequestSchema, { ID: 0x1234n, TTL: 600n }),
      }),
    );
    assert.equal(granted.kind, "grant");
    // past etcd's 5-minute checkpoint interval: the leader records the remaining TTL in raft
    const until = c.clock.now() + 320_000;
    await c.until("320 s passed", () => c.clock.now() >= until, 400_000);
    c.net.isolate(leader.id);
    const rest = c.live.filter((m) => m !== leader);
    await c.until("a new leader", () => c.leader(rest) !== null);
    const fresh = c.leader(rest)!;
    const t = await c.settle("time to live", fresh.leaseTimeToLive(0x1234n, false));
    // etcd issue #9395: without checkpoints the new leader restarts the lease at 600 s; with
    // them it resumes from the last checkpoint (taken at 300 s, 300 s left)
    assert.ok(t.ttl > 200 && t.ttl <= 301, `remaining TTL ${t.ttl} after 320 s of 600`);
  } finally {
    await c.stop();
  }
});

Deno.test("sim cluster: a write through a follower applies once while the network duplicates every message", async () => {
  const seed = seedOf();
  const c = await SimCluster.start({ size: 3, seed, network: { duplicateRate: 1 } });
  try {
    await c.until("a leader", () => c.leader() !== null);
    const leader = c.leader()!;
    const followers = c.live.filter((m) => m !== leader);
    await c.put(leader, "k", "through the leader");
    let last = leader.store.rev();
    for (let i = 0; i < 6; i++) {
      // the follower forwards its proposal to the leader as a MsgProp
      const a = await c.put(followers[i % 2], "k", `v${i}`);
      assert.equal(a.kind, "put");
      if (a.kind !== "put") continue;
      assert.equal(a.r.header.revision, last + 1, `seed=${seed}: put ${i} skipped a revision`);
      last = a.r.header.revision;
    }
    // a second copy of a proposal would land one more revision after the last answer
    const until = c.clock.now() + 500;
    await c.until("500 ms passed", () => c.clock.now() >= until);
    for (const m of c.live) {
      assert.equal(m.store.rev(), last, `seed=${seed}: ${m.config.name} applied a write twice`);
    }
  } finally {
    await c.stop();
  }
});

/** Where `behindSnapshot` leaves a scenario. */
interface BehindSnapshot {
  c: SimCluster;
  seed: number;
  leader: Member;
  /** The stopped member's position in `c.configs`. */
  down: number;
}

/**
 * The scenario the snapshot-install tests share: 3 members that snapshot every 20 entries, a
 * follower stopped while the leader writes until it has snapshotted past index 40, so that the
 * follower can catch up only by a snapshot; `then` restarts it its own way. Stops the cluster.
 */
async function behindSnapshot(then: (s: BehindSnapshot) => Promise<void>): Promise<void> {
  const seed = seedOf();
  const c = await SimCluster.start({
    size: 3,
    seed,
    configure: (cfg) => (cfg.snapshotCount = 20),
    member: { snapshotCatchUpEntries: 5 },
  });
  try {
    await c.until("a leader", () => c.leader() !== null);
    const leader = c.leader()!;
    const down = c.live.findIndex((m) => m !== leader);
    await c.stopMember(down);
    for (let i = 0; leader.snapshotIndex < 40; i++) await c.put(leader, `k${i % 7}`, `v${i}`);
    await then({ c, seed, leader, down });
  } finally {
    await c.stop();
  }
}

Deno.test("sim cluster: a member that installs a snapshot and nothing after it counts the snapshot applied", async () => {
  await behindSnapshot(async ({ c, seed, leader, down }) => {
    const back = await c.startMember(down);
    // the snapshot arrives; then the leader's link to it goes down before any entry follows
    const end = c.clock.now() + 5_000;
    while (back.snapshotIndex < leader.snapshotIndex) {
      assert.ok(c.clock.now() < end, `seed=${seed}: no snapshot installed in 5 s`);
      await c.step(1);
    }
    c.net.partition([leader.id], [back.id], true);
    // applied up to the snapshot all the same (etcd's applySnapshot sets appliedi): a read
    // waiting for an index up to it must not wait for an entry that is not coming
    await c.until(
      "applied up to the snapshot",
      () => back.appliedIndex >= back.snapshotIndex,
      2_000,
    );
    await c.settle(
      "the member waits for the snapshot's index",
      back.waitApplied(back.snapshotIndex),
      1_000,
    );
  });
});

Deno.test("sim cluster: a power loss while a member moves an installed snapshot's db into place loses nothing", async () => {
  await behindSnapshot(async ({ c, seed, leader, down }) => {
    // a slow disk: the directory sync that makes the db's new name durable takes 30 ms
    const disk = c.disks[down];
    disk.slowSync = { clock: c.clock, ms: 30 };
    await c.settle("restart", c.startMember(down));
    const snapDir = `/sim/${c.configs[down].name}/member/snap`;
    const received = async () => (await disk.readDir(snapDir)).some((f) => f.endsWith(".snap.db"));
    await c.until(
      "the snapshot's db received",
      () => c.log.some((l) => l.includes("received and saved database snapshot")),
    );
    // the received file was renamed to db; the rename is not durable until its directory sync
    const end = c.clock.now() + 5_000;
    while (await received()) {
      assert.ok(c.clock.now() < end, `seed=${seed}: the snapshot's db never moved into place`);
      await c.step(1);
    }
    await c.crashMember(down, "power");
    disk.slowSync = null;
    const again = await c.startMember(down);
    await c.until("caught up", () => again.appliedIndex === leader.appliedIndex);
    await c.put(leader, "after", "x");
    await c.until("the write applied", () => again.appliedIndex === leader.appliedIndex);
    assert.equal(again.store.rev(), leader.store.rev(), `seed=${seed}: revisions differ`);
    assert.equal(again.store.hashKV(0).hash, leader.store.hashKV(0).hash);
  });
});
