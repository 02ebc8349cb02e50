/**
 * What the Node driver sends before a batch is durable: a leader's replication goes out while
 * its own persist runs (etcd's raftNode; raft thesis §10.2.1), yet nothing it committed
 * counting its own unsynced entries is applied or announced before that persist; a follower
 * forwards proposals at once but persists before it answers; a single voter's replication to a learner, which announces its
 * own unsynced commit, waits.
 */
import assert from "node:assert/strict";
import { type Message, MessageType, newMessage } from "../../lib/raft/messages.ts";
import { earlyMessages } from "../../lib/raft/node.ts";
import { bytes } from "./cluster.ts";
import { appliedData, cluster, gate, type Member } from "./node_cluster.ts";

/** Yields until `m`'s persist has been called `n` times (bounded). */
async function persistCalled(m: Member, n = 1): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (m.events.filter((e) => e.startsWith("persist")).length >= n) return;
    await Promise.resolve();
  }
  throw new Error(`persist not called ${n} times; events: ${m.events.join(", ")}`);
}

/** Lets queued microtasks run (a loop that could go on would). */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

Deno.test("Node: a leader replicates while it persists, and applies only after", async () => {
  const { members, wire, pump } = cluster();
  const leader = members.get(1n)!;
  leader.node.campaign();
  await pump();
  leader.events.length = 0;
  leader.hold = gate();
  leader.node.propose(bytes("x"));
  const running = leader.node.process();
  await persistCalled(leader);
  assert.deepEqual(leader.events, ["send 2", "persist 1"], "replication first, then the fsync");
  const apps = wire.splice(0);
  assert.deepEqual(apps.map((m) => m.type), [MessageType.App, MessageType.App]);
  const index = apps[0].entries[0].index;
  assert.ok(apps.every((m) => m.commit < index), "no commit index past the durable log");

  // both followers store and acknowledge while the leader's own persist is still held
  for (const m of apps) members.get(m.to)!.node.step(m);
  await Promise.all([members.get(2n)!.node.process(), members.get(3n)!.node.process()]);
  const acks = wire.splice(0);
  assert.deepEqual(acks.map((m) => m.type), [MessageType.AppResp, MessageType.AppResp]);
  for (const m of acks) leader.node.step(m);
  await settle();
  // raft counted the leader's unsynced entry, so its commit index covers it already...
  assert.equal(leader.node.status().commit, index);
  // ...but nobody hears of it and nothing is applied until the entry is on the leader's disk
  assert.deepEqual(appliedData(leader), []);
  assert.equal(wire.length, 0);
  assert.deepEqual(leader.events, ["send 2", "persist 1"]);

  leader.hold.open();
  leader.hold = null;
  await running;
  assert.deepEqual(appliedData(leader), ["x"]);
  const sent = wire.filter((m) => m.commit >= index);
  assert.equal(sent.length, 2, "the commit index goes out after the persist");
  await pump();
  for (const m of members.values()) assert.deepEqual(appliedData(m), ["x"]);
});

Deno.test("Node: a follower persists before it acknowledges", async () => {
  const { members, wire, pump } = cluster();
  const leader = members.get(1n)!;
  const follower = members.get(2n)!;
  leader.node.campaign();
  await pump();
  leader.node.propose(bytes("y"));
  await leader.node.process();
  follower.events.length = 0;
  follower.hold = gate();
  for (const m of wire.splice(0)) members.get(m.to)!.node.step(m);
  const running = follower.node.process();
  await persistCalled(follower);
  await settle();
  assert.deepEqual(follower.events, ["persist 1"]);
  assert.ok(!wire.some((m) => m.from === 2n), "no acknowledgement before the entry is durable");
  follower.hold.open();
  follower.hold = null;
  await running;
  assert.deepEqual(follower.events, ["persist 1", "send 1"]);
  assert.equal(wire.find((m) => m.from === 2n)?.type, MessageType.AppResp);
  await pump();
  assert.deepEqual(appliedData(leader), ["y"]);
});

Deno.test("Node: a follower forwards proposals while it persists, and acks after", async () => {
  const { members, wire, pump } = cluster();
  const leader = members.get(1n)!;
  const follower = members.get(2n)!;
  leader.node.campaign();
  await pump();
  leader.node.propose(bytes("a"));
  await leader.node.process();
  follower.events.length = 0;
  follower.hold = gate();
  // one batch for the follower: the leader's entry to store, and a client's proposal
  for (const m of wire.splice(0)) members.get(m.to)!.node.step(m);
  follower.node.propose(bytes("b"));
  const running = follower.node.process();
  await persistCalled(follower);
  await settle();
  assert.deepEqual(follower.events, ["send 1", "persist 1"]);
  const out = wire.filter((m) => m.from === 2n);
  assert.deepEqual(out.map((m) => m.type), [MessageType.Prop]);
  follower.hold.open();
  follower.hold = null;
  await running;
  assert.deepEqual(follower.events.slice(0, 3), ["send 1", "persist 1", "send 1"]);
  assert.ok(wire.some((m) => m.from === 2n && m.type === MessageType.AppResp));
  await pump();
  for (const m of members.values()) assert.deepEqual(appliedData(m), ["a", "b"]);
});

Deno.test("Node: a single voter's replication to a learner waits for its persist", async () => {
  // a single voter commits its entries as it appends them, so its messages to a learner carry
  // a commit index the leader's disk does not hold yet
  const { members, wire, pump } = cluster({ voters: [1n], learners: [2n] });
  const leader = members.get(1n)!;
  leader.node.campaign();
  await pump();
  leader.events.length = 0;
  leader.hold = gate();
  leader.node.propose(bytes("z"));
  const running = leader.node.process();
  await persistCalled(leader);
  await settle();
  assert.deepEqual(leader.events, ["persist 1"]);
  assert.equal(wire.length, 0);
  leader.hold.open();
  leader.hold = null;
  await running;
  assert.deepEqual(leader.events.slice(0, 2), ["persist 1", "send 1"]);
  const app = wire[0];
  assert.equal(app.type, MessageType.App);
  assert.equal(app.commit, app.entries[app.entries.length - 1].index);
  await pump();
  assert.deepEqual(appliedData(members.get(2n)!), ["z"]);
});

Deno.test("earlyMessages: forwarded requests, and a leader's replication up to the durable index", () => {
  const msg = (type: MessageType, commit: number): Message =>
    newMessage({ type, to: 2n, from: 1n, term: 3, commit });
  const app = msg(MessageType.App, 9);
  const beat = msg(MessageType.Heartbeat, 10);
  const past = msg(MessageType.App, 11);
  const vote = msg(MessageType.VoteResp, 0);
  const readResp = msg(MessageType.ReadIndexResp, 0);
  const timeout = msg(MessageType.TimeoutNow, 0);
  const prop = msg(MessageType.Prop, 0);
  const read = msg(MessageType.ReadIndex, 0);
  const ack = msg(MessageType.AppResp, 0);
  const entries = [{ index: 11 }, { index: 12 }];
  assert.deepEqual(
    earlyMessages([app, vote, beat, past, readResp, timeout, prop], entries, true),
    { now: [app, beat, prop], later: [vote, past, readResp, timeout] },
  );
  assert.equal(earlyMessages([past, vote], entries, true), null);
  // no entries in the batch: the whole log is durable
  assert.deepEqual(earlyMessages([past], [], true), { now: [past], later: [] });
  // not a leader with a durable term: only the forwarded requests
  assert.deepEqual(earlyMessages([app, prop, ack, read, beat], [], false), {
    now: [prop, read],
    later: [app, ack, beat],
  });
});
