/**
 * The Node driver: persist -> send -> apply -> advance per batch, one persist per batch,
 * messages only after their batch is durable, work arriving during a persist joins the next
 * batch, conf changes applied in log order, and a failed persist stops the node.
 */
import assert from "node:assert/strict";
import type { NodeId } from "../../lib/base/raftpb.ts";
import { Rand } from "../../lib/base/rand.ts";
import { ConfChangeOutcome, ConfChangeType } from "../../lib/raft/confchange.ts";
import { MemoryStorage } from "../../lib/raft/memory_storage.ts";
import type { Message } from "../../lib/raft/messages.ts";
import { type ApplyBatch, Node, type NodeHooks, type PersistBatch } from "../../lib/raft/node.ts";
import { type ReadState, StateType } from "../../lib/raft/raft.ts";
import { RawNode } from "../../lib/raft/raw_node.ts";
import { bytes, text } from "./cluster.ts";

/** A manually released promise, to hold a persist in flight. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

interface Member {
  node: Node;
  storage: MemoryStorage;
  events: string[];
  applied: ApplyBatch[];
  reads: ReadState[];
  hold: { promise: Promise<void>; open: () => void } | null;
}

/** Three Nodes over MemoryStorage with async hooks; messages are queued, delivered by pump. */
function cluster(
  validate?: NodeHooks["validateConfChange"],
): { members: Map<NodeId, Member>; wire: Message[]; pump: () => Promise<void> } {
  const voters = [1n, 2n, 3n];
  const wire: Message[] = [];
  const members = new Map<NodeId, Member>();
  for (const id of voters) {
    const storage = new MemoryStorage({
      voters,
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    const raw = new RawNode({
      id,
      storage,
      rand: new Rand(Number(id)),
      electionTick: 10,
      heartbeatTick: 1,
    });
    const m: Member = {
      node: undefined as unknown as Node,
      storage,
      events: [],
      applied: [],
      reads: [],
      hold: null,
    };
    const hooks: NodeHooks = {
      async persist(b: PersistBatch) {
        m.events.push(`persist ${b.entries.length}`);
        if (m.hold !== null) await m.hold.promise;
        await Promise.resolve(); // an fsync's worth of asynchrony
        if (b.snapshot !== null) storage.applySnapshot(b.snapshot);
        storage.append(b.entries);
        if (b.hardState !== null) storage.setHardState(b.hardState);
      },
      send(msgs: Message[]) {
        m.events.push(`send ${msgs.length}`);
        wire.push(...msgs);
      },
      async apply(b: ApplyBatch) {
        m.events.push(`apply ${b.entries.length}`);
        m.applied.push(b);
        await Promise.resolve();
      },
      readStates(rs: ReadState[]) {
        m.reads.push(...rs);
      },
      validateConfChange: validate,
    };
    m.node = new Node(raw, hooks);
    members.set(id, m);
  }
  const pump = async () => {
    for (let round = 0; round < 1000; round++) {
      await Promise.all([...members.values()].map((m) => m.node.process()));
      if (wire.length === 0) return;
      const batch = wire.splice(0);
      for (const msg of batch) members.get(msg.to)?.node.step(msg); // node 4 is not running
    }
    throw new Error("did not quiesce");
  };
  return { members, wire, pump };
}

function appliedData(m: Member): string[] {
  return m.applied.flatMap((b) =>
    b.entries.filter((e) => e.data.length > 0 && e.type === 0).map((e) => text(e.data))
  );
}

Deno.test("Node: elects, replicates and applies through async hooks", async () => {
  const { members, pump } = cluster();
  members.get(1n)!.node.campaign();
  await pump();
  assert.equal(members.get(1n)!.node.status().raftState, StateType.Leader);
  members.get(1n)!.node.propose(bytes("a"));
  await pump();
  for (const m of members.values()) assert.deepEqual(appliedData(m), ["a"]);
});

Deno.test("Node: messages go out only after their batch is persisted", async () => {
  const { members, wire, pump } = cluster();
  const leader = members.get(1n)!;
  leader.node.campaign();
  await pump();
  leader.events.length = 0;
  leader.hold = gate();
  leader.node.propose(bytes("x"));
  const running = leader.node.process();
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(leader.events, ["persist 1"]);
  assert.equal(wire.length, 0, "nothing sent while the entry is not durable");
  leader.hold.open();
  await running;
  assert.deepEqual(leader.events.slice(0, 2), ["persist 1", "send 2"]);
  leader.hold = null;
  await pump();
  assert.deepEqual(appliedData(leader), ["x"]);
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
  const { members, pump } = cluster((cc) => (cc.nodeId === 4n ? "member 4 is unknown" : null));
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
