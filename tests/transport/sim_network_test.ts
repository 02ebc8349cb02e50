import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import type { MemberId } from "../../lib/base/types.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { MessageType } from "../../lib/raft/mod.ts";
import { SimNetwork, type SimNetworkOptions } from "../../lib/transport/sim_network.ts";
import type { Transport } from "../../lib/transport/transport.ts";
import { msg, RecordingHost, snapMsg } from "./recording_host.ts";

const CID = 0xc1n;
const IDS: MemberId[] = [1n, 2n, 3n];

interface Cluster {
  net: SimNetwork;
  clock: SimClock;
  hosts: Map<MemberId, RecordingHost>;
  ts: Map<MemberId, Transport>;
}

function cluster(seed: number, opts: SimNetworkOptions = {}): Cluster {
  const clock = new SimClock();
  const net = new SimNetwork(new Rand(seed), clock, opts);
  const hosts = new Map<MemberId, RecordingHost>();
  const ts = new Map<MemberId, Transport>();
  for (const id of IDS) {
    const h = new RecordingHost(id, CID);
    hosts.set(id, h);
    ts.set(id, net.join(h));
  }
  for (const [id, t] of ts) {
    for (const p of IDS) if (p !== id) t.addPeer({ id: p, urls: [] });
  }
  return { net, clock, hosts, ts };
}

/** Lets microtasks (async snapshot steps) run between clock steps. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

async function run(c: Cluster, ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    c.clock.advance(1);
    await settle();
  }
}

/** A workload driven by its own rand: every member sends to random peers each ms. */
async function workload(c: Cluster, seed: number, ms: number): Promise<void> {
  const r = new Rand(seed ^ 0x5a5a);
  let n = 0;
  for (let i = 0; i < ms; i++) {
    for (const id of IDS) {
      const to = r.pick(IDS.filter((x) => x !== id));
      c.ts.get(id)!.send([msg(id, to, n++), msg(id, to, n++)]);
      if (r.chance(0.05)) c.ts.get(id)!.send([snapMsg(id, to, n++)]);
    }
    c.clock.advance(1);
    await settle();
  }
}

Deno.test("sim network: the same seed gives the same delivery trace", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const faults = {
    dropRate: 0.1,
    duplicateRate: 0.1,
    reorderRate: 0.2,
    maxDelayMs: 20,
    snapshotFaultRate: 0.4,
  };
  const traces: string[][] = [];
  for (const s of [seed, seed, seed + 1]) {
    const c = cluster(s, faults);
    for (const h of c.hosts.values()) h.snapshotFile = new Rand(seed).bytes(20_000);
    await workload(c, seed, 100);
    c.net.partition([1n], [2n, 3n], true);
    await workload(c, seed, 50);
    c.net.heal();
    await workload(c, seed, 50);
    await run(c, 30);
    traces.push(c.net.trace);
    const reports = [...c.hosts.values()].flatMap((h) => h.snapshotReports.map((x) => x.ok));
    assert.ok(reports.includes(true) && reports.includes(false), "snapshots pass and fail");
    c.net.trace.push(`reports ${reports.join(",")}`);
    assert.ok(c.net.trace.some((l) => l.includes("deliver dup")), "duplicates happen");
    assert.ok(c.net.trace.some((l) => l.includes(" lost ")), "losses happen");
  }
  assert.ok(traces[0].length > 1000);
  assert.deepEqual(traces[1], traces[0]);
  assert.notDeepEqual(traces[2], traces[0], "another seed, another trace");
});

Deno.test("sim network: duplicates raft's own messages but never a forwarded proposal", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const c = cluster(seed, { duplicateRate: 1 });
  for (let i = 0; i < 20; i++) {
    c.ts.get(1n)!.send([msg(1n, 2n, i), msg(1n, 2n, 100 + i, MessageType.Prop)]);
    c.clock.advance(1);
  }
  await run(c, 10);
  const got = c.hosts.get(2n)!.received;
  const count = (t: MessageType) => got.filter((m) => m.type === t).length;
  // the stream transport delivers a message at most once: a proposal (a client's write)
  // arrives once; raft resends the others itself, so their copies test raft's tolerance
  assert.equal(count(MessageType.Prop), 20);
  assert.equal(count(MessageType.Heartbeat), 40);
});

Deno.test("sim network: without reordering each link is FIFO; with it, messages overtake", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  for (const reorderRate of [0, 0.5]) {
    const c = cluster(seed, { maxDelayMs: 30, reorderRate });
    for (let i = 0; i < 200; i++) {
      c.ts.get(1n)!.send([msg(1n, 2n, i)]);
      c.clock.advance(1);
    }
    await run(c, 40);
    const got = c.hosts.get(2n)!.received.map((m) => m.commit);
    assert.equal(got.length, 200);
    const sorted = [...got].sort((a, b) => a - b);
    if (reorderRate === 0) assert.deepEqual(got, sorted);
    else assert.notDeepEqual(got, sorted);
    assert.deepEqual(sorted, [...Array(200).keys()]);
  }
});

Deno.test("sim network: partitions hold (one-way and both), heal delivers again", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const c = cluster(seed);
  const [h1, h2, h3] = IDS.map((id) => c.hosts.get(id)!);
  const [t1, t2, t3] = IDS.map((id) => c.ts.get(id)!);
  assert.ok(t1.activeSince(2n) > 0);

  // one way: 1 -> 2 cut, 2 -> 1 still flows
  c.net.partition([1n], [2n], true);
  assert.equal(t1.activeSince(2n), 0);
  assert.ok(t2.activeSince(1n) > 0);
  t1.send([msg(1n, 2n, 1), msg(1n, 3n, 2)]);
  t2.send([msg(2n, 1n, 3)]);
  await run(c, 20);
  assert.deepEqual(h2.received.map((m) => m.commit), []);
  assert.deepEqual(h3.received.map((m) => m.commit), [2]);
  assert.deepEqual(h1.received.map((m) => m.commit), [3]);
  assert.deepEqual(h1.unreachable, [2n], "the sender is told once per send call");

  // both ways, for 3 alone
  c.net.heal();
  c.net.isolate(3n);
  t3.send([msg(3n, 1n, 4), msg(3n, 2n, 5)]);
  t1.send([msg(1n, 3n, 6), msg(1n, 2n, 7)]);
  await run(c, 20);
  assert.deepEqual(h1.received.map((m) => m.commit), [3]);
  assert.deepEqual(h2.received.map((m) => m.commit), [7]);
  assert.deepEqual(h3.received.map((m) => m.commit), [2]);
  assert.deepEqual(h3.unreachable, [1n, 2n]);

  // a message in flight when its link is cut is lost
  c.net.heal();
  const before = c.clock.now();
  t1.send([msg(1n, 3n, 8)]);
  c.net.partition([1n], [3n]);
  await run(c, 20);
  assert.deepEqual(h3.received.map((m) => m.commit), [2]);

  // heal: everything flows again, activeSince is the heal time
  c.clock.advance(5);
  c.net.heal();
  assert.ok(t1.activeSince(3n) > before);
  t1.send([msg(1n, 3n, 9)]);
  t3.send([msg(3n, 1n, 10)]);
  await run(c, 20);
  assert.deepEqual(h3.received.map((m) => m.commit), [2, 9]);
  assert.deepEqual(h1.received.map((m) => m.commit), [3, 10]);
});

Deno.test("sim network: refusals as etcd's (other cluster, removed sender), closed members", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const c = cluster(seed);
  const stranger = new RecordingHost(9n, 0xbadn);
  const ts = c.net.join(stranger);
  ts.addPeer({ id: 1n, urls: [] });
  ts.send([msg(9n, 1n, 1)]);
  c.hosts.get(2n)!.removed.add(1n);
  c.ts.get(1n)!.send([msg(1n, 2n, 2), msg(1n, 3n, 3)]);
  await run(c, 20);
  assert.deepEqual(c.hosts.get(1n)!.received, []);
  assert.deepEqual(c.hosts.get(2n)!.received, []);
  assert.deepEqual(c.hosts.get(3n)!.received.map((m) => m.commit), [3]);
  assert.ok(c.net.trace.some((l) => l.includes("refused (cluster ID mismatch)")));
  assert.ok(c.net.trace.some((l) => l.includes("refused (removed member)")));
  // refused both ways: its stream (opened when the link came up) and its message
  assert.deepEqual(c.hosts.get(1n)!.removedBy, [2n, 2n]);

  // a closed member: unreachable, and its id may join again
  await c.ts.get(3n)!.close();
  assert.equal(c.ts.get(1n)!.activeSince(3n), 0);
  c.ts.get(1n)!.send([msg(1n, 3n, 4)]);
  assert.deepEqual(c.hosts.get(1n)!.unreachable, [3n]);
  const again = new RecordingHost(3n, CID);
  const t3 = c.net.join(again);
  t3.addPeer({ id: 1n, urls: [] });
  assert.ok(c.ts.get(1n)!.activeSince(3n) > 0);
  c.ts.get(1n)!.send([msg(1n, 3n, 5)]);
  await run(c, 20);
  assert.deepEqual(again.received.map((m) => m.commit), [5]);
  const s = c.ts.get(1n)!.stats().find((x) => x.id === 3n)!;
  assert.equal(s.dropped, 1);
  assert.equal(s.messagesSent, 2);
});

Deno.test("sim network: a removed member that comes back learns it from the stream it opens, sending nothing", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const c = cluster(seed);
  await run(c, 10);
  await c.ts.get(3n)!.close();
  c.hosts.get(1n)!.removed.add(3n);
  const back = new RecordingHost(3n, CID);
  const t3 = c.net.join(back);
  for (const p of [1n, 2n]) t3.addPeer({ id: p, urls: [] });
  await run(c, 10);
  assert.deepEqual(back.removedBy, [1n]);
  assert.ok(c.net.trace.some((l) => l.includes("refused stream (removed member)")));
});

Deno.test("sim network: a member answers a sender it has no peer for (remotes), raft messages only", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const c = cluster(seed);
  const newcomer = new RecordingHost(4n, CID);
  const t4 = c.net.join(newcomer);
  t4.addPeer({ id: 1n, urls: [] });
  // 1 does not know 4: nothing goes out to it before 4 has been heard
  c.ts.get(1n)!.send([msg(1n, 4n, 1)]);
  await run(c, 10);
  assert.equal(newcomer.received.length, 0);
  t4.send([msg(4n, 1n, 2)]);
  await run(c, 10);
  c.ts.get(1n)!.send([msg(1n, 4n, 3), snapMsg(1n, 4n, 4)]);
  await run(c, 10);
  assert.deepEqual(newcomer.received.map((m) => m.commit), [3]);
  assert.equal(c.ts.get(1n)!.stats().length, 2, "a remote is not a peer");
  // once a peer, always through the peer
  c.ts.get(1n)!.addPeer({ id: 4n, urls: [] });
  c.ts.get(1n)!.send([msg(1n, 4n, 5)]);
  await run(c, 10);
  assert.deepEqual(newcomer.received.map((m) => m.commit), [3, 5]);
});

Deno.test("sim network: snapshots travel through the host calls; faults fail them", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const c = cluster(seed);
  const h1 = c.hosts.get(1n)!;
  const h2 = c.hosts.get(2n)!;
  h1.snapshotFile = rand.bytes(200_000);
  c.ts.get(1n)!.send([snapMsg(1n, 2n, 7)]);
  await run(c, 20);
  assert.equal(h2.stored.length, 1);
  assert.deepEqual(h2.stored[0].bytes, h1.snapshotFile);
  assert.equal(h2.stored[0].m.snapshot?.metadata.index, 7);
  assert.deepEqual(h1.snapshotReports, [{ to: 2n, ok: true }]);
  assert.equal(h1.sourcesClosed, 1);

  // every body damaged: every send fails, the receiver's payload threw each time
  c.net.setFaults({ snapshotFaultRate: 1 });
  for (let i = 0; i < 6; i++) c.ts.get(1n)!.send([snapMsg(1n, 2n, 8 + i)]);
  await run(c, 20);
  assert.equal(h2.stored.length, 1);
  assert.equal(h2.snapshotErrors.length, 6);
  assert.deepEqual(h1.snapshotReports.slice(1), new Array(6).fill({ to: 2n, ok: false }));

  // over a cut link: failed at once, reported unreachable
  c.net.setFaults({ snapshotFaultRate: 0 });
  c.net.partition([1n], [2n]);
  c.ts.get(1n)!.send([snapMsg(1n, 2n, 20)]);
  await run(c, 20);
  assert.deepEqual(h1.snapshotReports.at(-1), { to: 2n, ok: false });
  assert.equal(h1.unreachable.at(-1), 2n);
  const s = c.ts.get(1n)!.stats().find((x) => x.id === 2n)!;
  assert.equal(s.snapshotsSent, 1);
  assert.equal(s.snapshotsFailed, 7);
  assert.equal(c.hosts.get(2n)!.received.filter((m) => m.type === MessageType.Snap).length, 0);
});

Deno.test("sim network: a link holds at most queueLimit messages in flight", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const clock = new SimClock();
  const net = new SimNetwork(new Rand(seed), clock, { queueLimit: 10, minDelayMs: 5 });
  const h1 = new RecordingHost(1n, CID);
  const h2 = new RecordingHost(2n, CID);
  const t1 = net.join(h1);
  net.join(h2);
  t1.addPeer({ id: 2n, urls: [] });
  t1.send(Array.from({ length: 15 }, (_, i) => msg(1n, 2n, i)));
  assert.deepEqual(h1.unreachable, [2n]);
  clock.advance(10);
  assert.deepEqual(h2.received.map((m) => m.commit), [...Array(10).keys()]);
  t1.send([msg(1n, 2n, 99)]);
  clock.advance(10);
  assert.equal(h2.received.at(-1)?.commit, 99);
  assert.equal(t1.stats()[0].dropped, 5);
});
