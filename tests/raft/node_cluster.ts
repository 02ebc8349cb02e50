/**
 * Test harness for the Node driver (node_test.ts, node_early_send_test.ts): Nodes over
 * MemoryStorage with asynchronous hooks that log what they were called with, a persist that
 * a test can hold open, and a wire of queued messages that `pump` delivers until quiet.
 */
import type { NodeId } from "../../lib/base/raftpb.ts";
import { Rand } from "../../lib/base/rand.ts";
import { MemoryStorage } from "../../lib/raft/memory_storage.ts";
import type { Message } from "../../lib/raft/messages.ts";
import { type ApplyBatch, Node, type NodeHooks, type PersistBatch } from "../../lib/raft/node.ts";
import type { ReadState } from "../../lib/raft/raft.ts";
import { RawNode } from "../../lib/raft/raw_node.ts";
import { text } from "./cluster.ts";

/** A manually released promise, to hold a persist in flight. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** One node of the harness and what its hooks saw. */
export interface Member {
  node: Node;
  storage: MemoryStorage;
  /** "persist N" (entries), "send N" (messages), "apply N" (entries), in call order. */
  events: string[];
  applied: ApplyBatch[];
  reads: ReadState[];
  /** While set, this member's persist calls wait for it. */
  hold: { promise: Promise<void>; open: () => void } | null;
}

/** The membership and the conf change vetting of a harness cluster. */
export interface ClusterOptions {
  validate?: NodeHooks["validateConfChange"];
  /** Default 1, 2, 3. */
  voters?: NodeId[];
  learners?: NodeId[];
}

/** Nodes over MemoryStorage with async hooks; messages are queued, delivered by pump. */
export function cluster(
  o: ClusterOptions = {},
): { members: Map<NodeId, Member>; wire: Message[]; pump: () => Promise<void> } {
  const voters = o.voters ?? [1n, 2n, 3n];
  const learners = o.learners ?? [];
  const wire: Message[] = [];
  const members = new Map<NodeId, Member>();
  for (const id of [...voters, ...learners]) {
    const storage = new MemoryStorage({
      voters,
      learners,
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
      validateConfChange: o.validate,
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

/** The data of the normal, non-empty entries `m` applied, as text. */
export function appliedData(m: Member): string[] {
  return m.applied.flatMap((b) =>
    b.entries.filter((e) => e.data.length > 0 && e.type === 0).map((e) => text(e.data))
  );
}
