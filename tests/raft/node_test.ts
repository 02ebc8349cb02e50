/**
 * The Node driver: persist -> send -> apply -> advance per batch, one persist per batch (what
 * may go out before a batch is durable: node_early_send_test.ts), work arriving during a
 * persist joins the next batch, conf changes applied in log order, and a failed persist stops
 * the node.
 */
import assert from "node:assert/strict";
import { Rand } from "../../lib/base/rand.ts";
import { ConfChangeOutcome, ConfChangeType } from "../../lib/raft/confchange.ts";
import { MemoryStorage } from "../../lib/raft/memory_storage.ts";
import { Node } from "../../lib/raft/node.ts";
import { StateType } from "../../lib/raft/raft.ts";
import { RawNode } from "../../lib/raft/raw_node.ts";
import { bytes, text } from "./cluster.ts";
import { appliedData, cluster, gate } from "./node_cluster.ts";

Deno.test("Node: elects, replicates and applies through async hooks", async () => {
  const { members, pump } = cluster();
  members.get(1n)!.node.campaign();
  await pump();
  assert.equal(members.get(1n)!.node.status().raftState, StateType.Leader);
  members.get(1n)!.node.propose(bytes("a"));
  await pump();
  for (const m of members.values()) assert.deepEqual(appliedData(m), ["a"]);
});

Deno.test("Node: proposals that arrive during a persist share the next batch (one persist)", async () => {
  const { members, pump } = cluster();
  const leader = members.get(1n)!;
  leader.node.campaign();
  await pump();
  leader.hold = gate();
  leader.events.length = 0;
  leader.node.propose(bytes("first"));
  const running = leader.node.process();
  // let the loop take the first batch and block in its persist
  while (!leader.events.includes("persist 1")) await Promise.resolve();
  for (let i = 0; i < 100; i++) leader.node.propose(bytes(`p${i}`));
  leader.events.length = 0;
  const before = leader.node.batches;
  leader.hold.open();
  leader.hold = null;
  await running;
  assert.ok(leader.events.includes("persist 100"), `events: ${leader.events.join(", ")}`);
  assert.equal(leader.node.batches - before, 1, "the 100 proposals took one more batch");
  assert.ok(!leader.events.some((e) => e.startsWith("persist") && e !== "persist 100"));
  await pump();
  assert.equal(appliedData(members.get(3n)!).length, 101);
});

Deno.test("Node: conf changes are applied to membership in log order and reported", async () => {
  const { members, pump } = cluster();
  const leader = members.get(1n)!;
  leader.node.campaign();
  await pump();
  leader.node.proposeConfChange({
    type: ConfChangeType.AddLearnerNode,
    nodeId: 4n,
    context: bytes("ctx"),
  });
  await pump();
  const ccs = leader.applied.flatMap((b) => b.confChanges);
  assert.equal(ccs.length, 1);
  assert.equal(ccs[0].outcome, ConfChangeOutcome.Applied);
  assert.deepEqual(ccs[0].confState.learners, [4n]);
  assert.equal(text(ccs[0].change.context), "ctx");
  for (const m of members.values()) assert.deepEqual(m.node.raw.confState().learners, [4n]);
});

Deno.test("Node: ReadIndex states are delivered after the batch is applied", async () => {
  const { members, pump } = cluster();
  members.get(1n)!.node.campaign();
  await pump();
  members.get(2n)!.node.readIndex(bytes("r"));
  await pump();
  const reads = members.get(2n)!.reads;
  assert.equal(reads.length, 1);
  assert.equal(text(reads[0].context), "r");
});

Deno.test("Node: a failed persist stops the node for good", async () => {
  const raw = new RawNode({
    id: 1n,
    storage: new MemoryStorage({
      voters: [1n],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    }),
    rand: new Rand(1),
    electionTick: 10,
    heartbeatTick: 1,
  });
  const node = new Node(raw, {
    persist() {
      throw new Error("disk full");
    },
    send() {},
    apply() {},
  });
  node.campaign();
  await assert.rejects(node.process(), /disk full/);
  assert.throws(() => node.propose(bytes("x")), /stopped after an I\/O failure/);
});

Deno.test("Node: a conf change the server refuses at apply time is a no-op everywhere", async () => {
  const { members, pump } = cluster({
    validate: (cc) => (cc.nodeId === 4n ? "member 4 is unknown" : null),
  });
  const leader = members.get(1n)!;
  leader.node.campaign();
  await pump();
  leader.node.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 4n, context: bytes("") });
  await pump();
  for (const m of members.values()) {
    const ccs = m.applied.flatMap((b) => b.confChanges);
    assert.equal(ccs.length, 1);
    assert.equal(ccs[0].outcome, ConfChangeOutcome.Refused);
    assert.equal(ccs[0].refusal, "member 4 is unknown");
    assert.deepEqual(m.node.raw.confState().voters, [1n, 2n, 3n]);
  }
  // the next change is not blocked by the refused one
  leader.node.proposeConfChange({
    type: ConfChangeType.AddLearnerNode,
    nodeId: 5n,
    context: bytes(""),
  });
  await pump();
  assert.deepEqual(leader.node.raw.confState().learners, [5n]);
});

Deno.test("Node: work stepped in right after a loop finished is not left behind", async () => {
  const storage = new MemoryStorage({
    voters: [1n],
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  });
  const raw = new RawNode({
    id: 1n,
    storage,
    rand: new Rand(1),
    electionTick: 10,
    heartbeatTick: 1,
  });
  const applied: string[] = [];
  const node = new Node(raw, {
    persist(b) {
      storage.append(b.entries); // synchronous hooks: a loop can finish without awaiting
      if (b.hardState !== null) storage.setHardState(b.hardState);
    },
    send() {},
    apply(b) {
      for (const e of b.entries) if (e.data.length > 0) applied.push(text(e.data));
    },
  });
  node.campaign();
  const p1 = node.process();
  await p1;
  node.propose(bytes("late"));
  await node.process();
  assert.deepEqual(applied, ["late"]);
  assert.equal(raw.hasReady(), false);
  // and concurrent callers share one loop
  node.propose(bytes("a"));
  const [x, y] = [node.process(), node.process()];
  assert.equal(x, y);
  await x;
  assert.deepEqual(applied, ["late", "a"]);
});
