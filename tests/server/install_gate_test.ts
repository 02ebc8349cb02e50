/**
 * Reads during a snapshot install (issue 13): the install closes the member's old store before
 * the received one opens, and a read in between failed with `backend is closed`, where etcd's
 * read waits for the install. The gate alone (open, wait, timeout, close), then a member of a
 * simulated cluster serving a serializable and a linearizable range while it installs.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { testSeed } from "../../lib/base/rand.ts";
import { Errors } from "../../lib/base/errors.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { InstallGate } from "../../lib/server/install_gate.ts";
import { KvServer } from "../../lib/server/kv_server.ts";
import { MaintenanceServer } from "../../lib/server/maintenance_server.ts";
import { NOBODY } from "../../lib/server/caller.ts";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { SimCluster } from "../cluster/sim_cluster.ts";
import type { Member } from "../../lib/server/member.ts";
import { track } from "../support/track.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const turn = () => new Promise((r) => setTimeout(r, 0));

Deno.test("install gate: open at once, waits for the install's end, times out, fails on close", async () => {
  const clock = new SimClock(0);
  const g = new InstallGate(clock, 100);
  const open = track(g.wait());
  await turn();
  assert.equal(open.state, "ok");

  g.begin();
  const ends = track(g.wait());
  const late = track(g.wait());
  clock.advance(50);
  await turn();
  assert.equal(ends.state, "pending");
  g.end();
  await turn();
  assert.equal(ends.state, "ok");
  assert.equal(late.state, "ok");
  clock.advance(100); // their timers were cancelled
  await turn();

  g.begin();
  const times = track(g.wait());
  clock.advance(99);
  await turn();
  assert.equal(times.state, "pending");
  clock.advance(1);
  await turn();
  assert.equal(times.state, "failed");
  assert.ok(Errors.timeout.is(times.error));

  const stops = track(g.wait());
  g.close(Errors.stopped());
  await turn();
  assert.equal(stops.state, "failed");
  assert.ok(Errors.stopped.is(stops.error));
  await assert.rejects(g.wait(), (e) => Errors.stopped.is(e));
});

Deno.test("a member installing a snapshot serves reads once the new store is open", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const c = await SimCluster.start({
    size: 3,
    seed,
    network: { trace: false },
    configure: (cfg) => (cfg.snapshotCount = 20),
    member: { snapshotCatchUpEntries: 5 },
  });
  try {
    await c.until("a leader", () => c.leader() !== null);
    const leader = c.leader()!;
    const i = c.members.findIndex((m) => m !== null && m !== leader);
    const f = c.members[i]!;
    const key = enc.encode("k6");
    await c.put(leader, "k6", "early");
    await c.until(
      "the follower holds k6",
      () => f.store.range({ key: "k6", end: undefined }).kvs.length === 1,
    );
    c.net.isolate(f.id);
    for (let n = 0; n < 60; n++) await c.put(leader, `k${n % 7}`, `v${n}`);
    await c.until("the leader snapshotted past the log", () => leader.snapshotIndex >= 40);
    // every fsync takes 20 ms: the install's rename and directory sync span steps
    c.disks[i].slowSync = { clock: c.clock, ms: 20 };
    c.net.heal();
    while (!(f.applyingSnapshot && f.store.closed)) {
      await c.step(1);
      if (c.clock.now() > 60_000) throw new Error(`seed=${seed}: no install with the store closed`);
    }
    // a serializable and a linearizable read every millisecond until the install is done: the
    // old store is closed first, then its backend, then the new one opens
    const kv = new KvServer(f);
    const reads: { name: string; at: number; r: ReturnType<typeof track<pb.RangeResponse>> }[] = [];
    while (f.applyingSnapshot) {
      reads.push({
        name: "serializable",
        at: c.clock.now(),
        r: track(kv.range(create(pb.RangeRequestSchema, { key, serializable: true }), NOBODY)),
      });
      reads.push({
        name: "linearizable",
        at: c.clock.now(),
        r: track(kv.range(create(pb.RangeRequestSchema, { key }), NOBODY)),
      });
      await c.step(1);
    }
    await c.until("every read answered", () => reads.every((x) => x.r.state !== "pending"));
    assert.ok(reads.length >= 4, `${reads.length} reads during the install`);
    for (const { name, at, r } of reads) {
      const what = `the ${name} read at ${at} ms`;
      assert.equal(r.state, "ok", `${what} failed: ${r.error}`);
      const kvs = r.value!.kvs;
      assert.equal(kvs.length, 1, `${what} answered k6 absent`);
      assert.equal(dec.decode(kvs[0].value), "v55", `${what} answered the closed store's value`);
    }
    assert.ok(!f.applyingSnapshot);
  } finally {
    await c.stop();
  }
});

/** A 3-member simulated cluster that snapshots every 20 entries, keeping 5 behind. */
function startCluster(seed: number): Promise<SimCluster> {
  return SimCluster.start({
    size: 3,
    seed,
    network: { trace: false },
    configure: (cfg) => (cfg.snapshotCount = 20),
    member: { snapshotCatchUpEntries: 5 },
  });
}

/**
 * Puts `keys` keys under `prefix` (values `e` + `pad`) through the leader, cuts a follower off
 * once it holds them, overwrites them 60 times ("late") until the leader's snapshot is past
 * the follower's log, and slows the follower's fsyncs: healing the network starts an install.
 */
async function followerBehindSnapshot(
  c: SimCluster,
  prefix: string,
  keys: number,
  pad: string,
): Promise<{ leader: Member; f: Member }> {
  await c.until("a leader", () => c.leader() !== null);
  const leader = c.leader()!;
  const i = c.members.findIndex((m) => m !== null && m !== leader);
  const f = c.members[i]!;
  const key = (n: number) => `${prefix}${String(n % keys).padStart(2, "0")}`;
  for (let n = 0; n < keys; n++) await c.put(leader, key(n), `e${pad}`);
  await c.until("the follower holds every key", () => f.store.rev() === leader.store.rev());
  c.net.isolate(f.id);
  for (let n = 0; n < 60; n++) await c.put(leader, key(n), "late");
  await c.until("the leader snapshotted past the log", () => leader.snapshotIndex >= 60);
  c.disks[i].slowSync = { clock: c.clock, ms: 20 };
  return { leader, f };
}

Deno.test("a RangeStream's later chunks and the Maintenance reads wait for a snapshot install", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const c = await startCluster(seed);
  try {
    // 40 keys of 100-byte values: a stream of them takes several chunks (the first 1 KiB)
    const pad = "x".repeat(96);
    const { f } = await followerBehindSnapshot(c, "r/", 40, pad);

    // streams opened on the follower before the install, each at its old revision, one chunk read
    const kv = new KvServer(f);
    const maint = new MaintenanceServer(f);
    const streams: AsyncGenerator<pb.RangeStreamResponse>[] = [];
    const firsts: pb.RangeStreamResponse[] = [];
    const rev = f.store.rev();
    for (let n = 0; n < 40; n++) {
      const s = kv.rangeStream(
        create(pb.RangeRequestSchema, {
          key: enc.encode("r/"),
          rangeEnd: enc.encode("r0"),
          serializable: true,
        }),
        NOBODY,
        new AbortController().signal,
      );
      const first = await c.settle("a first chunk", s.next());
      assert.ok(!first.done);
      firsts.push(first.value);
      streams.push(s);
    }
    assert.ok(firsts[0].rangeResponse!.kvs.length < 40, "the stream takes several chunks");

    c.net.heal();
    while (!(f.applyingSnapshot && f.store.closed)) {
      await c.step(1);
      if (c.clock.now() > 60_000) throw new Error(`seed=${seed}: no install with the store closed`);
    }
    // every millisecond of the install: one stream's second chunk pulled, and each
    // Maintenance read
    type Read = { name: string; at: number; r: ReturnType<typeof track<unknown>> };
    const reads: Read[] = [];
    const rest = async (s: AsyncGenerator<pb.RangeStreamResponse>) => {
      const out: pb.RangeStreamResponse[] = [];
      for await (const x of s) out.push(x);
      return out;
    };
    const saveAll = async () => {
      let bytes = 0;
      for await (const x of maint.snapshot(NOBODY, new AbortController().signal)) {
        bytes += x.blob.length;
      }
      return bytes;
    };
    const pulled: {
      at: number;
      s: number;
      r: ReturnType<typeof track<pb.RangeStreamResponse[]>>;
    }[] = [];
    while (f.applyingSnapshot) {
      const at = c.clock.now();
      if (pulled.length < streams.length) {
        pulled.push({ at, s: pulled.length, r: track(rest(streams[pulled.length])) });
      }
      // (a rejection, not a throw, had Status stayed synchronous)
      reads.push({ name: "status", at, r: track(Promise.resolve().then(() => maint.status())) });
      reads.push({ name: "hash", at, r: track(maint.hash(NOBODY)) });
      reads.push({
        name: "hashKV",
        at,
        r: track(maint.hashKV(create(pb.HashKVRequestSchema, { revision: BigInt(rev) }), NOBODY)),
      });
      reads.push({ name: "snapshot", at, r: track(saveAll()) });
      await c.step(1);
    }
    const answered = () =>
      reads.every((x) => x.r.state !== "pending") && pulled.every((x) => x.r.state !== "pending");
    await c.until("every read answered", answered);
    assert.ok(pulled.length >= 2, `${pulled.length} streams pulled during the install`);
    const want = f.store.hashKV(rev).hash;
    const failed = [
      ...reads.filter((x) => x.r.state !== "ok").map((x) =>
        `${x.name} at ${x.at} ms: ${x.r.error}`
      ),
      ...pulled.filter((x) => x.r.state !== "ok").map((x) =>
        `stream ${x.s} at ${x.at} ms: ${x.r.error}`
      ),
    ];
    assert.deepEqual(failed, [], "reads failed during the install");
    for (const { name, at, r } of reads) {
      if (name === "hashKV") {
        assert.equal((r.value as pb.HashKVResponse).hash, want, `hashKV at ${at} ms`);
      }
    }
    for (const { at, s, r } of pulled) {
      const what = `stream ${s}, its second chunk pulled at ${at} ms`;
      assert.equal(r.state, "ok", `${what} failed: ${r.error}`);
      // every chunk at the stream's revision: every key's early value, in order, once
      const kvs = [firsts[s], ...r.value!].flatMap((x) => x.rangeResponse!.kvs);
      assert.deepEqual(
        kvs.map((x) => dec.decode(x.key)),
        Array.from({ length: 40 }, (_, n) => `r/${String(n).padStart(2, "0")}`),
        what,
      );
      assert.ok(kvs.every((x) => dec.decode(x.value) === `e${pad}`), `${what}: a late value`);
      assert.equal(r.value!.at(-1)!.rangeResponse!.header!.revision, BigInt(rev), what);
    }
  } finally {
    await c.stop();
  }
});

Deno.test("a defrag a snapshot install cuts short defragments the new backend and answers OK", async () => {
  // etcd's old backend waits for a defrag before it closes, so its Defragment answers OK; a
  // Concord install closes the backend under the copy (`backend is closed`), and the call
  // then defragments the backend the install opened
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const c = await startCluster(seed);
  try {
    const { f } = await followerBehindSnapshot(c, "d/", 60, "x".repeat(200));

    // a defrag kept running on the follower every millisecond until its install ends
    const maint = new MaintenanceServer(f);
    const defrags: { at: number; r: ReturnType<typeof track<unknown>> }[] = [];
    let cutShort = 0; // defrags running when the install closed the old backend
    c.net.heal();
    let sawInstall = false;
    while (!sawInstall || f.applyingSnapshot) {
      if (!f.backend.defragmenting && !f.applyingSnapshot) {
        defrags.push({ at: c.clock.now(), r: track(maint.defragment(NOBODY)) });
      }
      const running = f.backend.defragmenting;
      await c.step(1);
      if (f.applyingSnapshot && !sawInstall) {
        sawInstall = true;
        if (running) cutShort++;
      }
      if (c.clock.now() > 60_000) throw new Error(`seed=${seed}: no install`);
    }
    // and one asked while the store is closed waits for the install
    await c.until("every defrag answered", () => defrags.every((d) => d.r.state !== "pending"));
    const failed = defrags.filter((d) => d.r.state !== "ok").map((d) => `at ${d.at}: ${d.r.error}`);
    assert.deepEqual(failed, [], `seed=${seed}: defrags failed`);
    assert.equal(cutShort, 1, `seed=${seed}: no defrag was running when the install began`);
    assert.deepEqual(f.backend.check(), []);
    const got = f.store.range({ key: "d/", end: "d0" });
    assert.equal(got.kvs.length, 60);
    assert.ok(got.kvs.every((kv) => dec.decode(kv.value) === "late"), "the install's data");
  } finally {
    // (a stop may wait for a commit's fsync on the slow disk: the clock must run meanwhile)
    await c.settle("the cluster stopped", c.stop());
  }
});
