/**
 * A 3-node raft cluster in one process for benchmarks: RawNodes over MemoryStorage and an
 * in-memory network, driven by a lean synchronous Ready loop (persist = append to memory,
 * send = push to a queue, apply = count). All three nodes' work runs on the calling thread.
 */
import { Rand } from "../lib/base/rand.ts";
import type { NodeId } from "../lib/base/raftpb.ts";
import { MemoryStorage } from "../lib/raft/memory_storage.ts";
import type { Message } from "../lib/raft/messages.ts";
import { StateType } from "../lib/raft/raft.ts";
import { RawNode } from "../lib/raft/raw_node.ts";

interface BenchNode {
  id: NodeId;
  raw: RawNode;
  storage: MemoryStorage;
  applied: number;
  reads: number;
}

/** The cluster; `leader` is node 1 after construction. */
export class BenchCluster {
  readonly nodes: BenchNode[] = [];
  readonly #byId = new Map<NodeId, BenchNode>();
  #queue: Message[] = [];
  #batches = 0;

  constructor(size = 3) {
    const voters: NodeId[] = [];
    for (let i = 1; i <= size; i++) voters.push(BigInt(i));
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
        maxSizePerMsg: 1 << 20,
        maxInflightMsgs: 256,
      });
      const n = { id, raw, storage, applied: 0, reads: 0 };
      this.nodes.push(n);
      this.#byId.set(id, n);
    }
    this.nodes[0].raw.campaign();
    this.run();
    if (this.nodes[0].raw.raft.state !== StateType.Leader) throw new Error("no leader");
  }

  get leader(): RawNode {
    return this.nodes[0].raw;
  }

  /** Entries applied by the leader so far. */
  get applied(): number {
    return this.nodes[0].applied;
  }

  get reads(): number {
    return this.nodes[0].reads;
  }

  /** Runs Ready cycles and deliveries until the cluster is idle. */
  run(): void {
    let busy = true;
    while (busy) {
      busy = false;
      for (const n of this.nodes) {
        if (!n.raw.hasReady()) continue;
        busy = true;
        const rd = n.raw.ready();
        if (rd.snapshot !== null) n.storage.applySnapshot(rd.snapshot);
        if (rd.entries.length > 0) n.storage.append(rd.entries);
        if (rd.hardState !== null) n.storage.setHardState(rd.hardState);
        const q = this.#queue;
        for (let i = 0; i < rd.messages.length; i++) q.push(rd.messages[i]);
        n.applied += rd.committedEntries.length;
        n.reads += rd.readStates.length;
        n.raw.advance();
      }
      const q = this.#queue;
      if (q.length > 0) {
        busy = true;
        this.#queue = [];
        for (let i = 0; i < q.length; i++) this.#byId.get(q[i].to)!.raw.step(q[i]);
      }
    }
    if (++this.#batches % 256 === 0) this.compact();
  }

  /** Keeps memory flat: drop applied log prefixes. */
  compact(): void {
    for (const n of this.nodes) {
      const applied = n.raw.raft.raftLog.applied;
      const keep = applied - 1024;
      if (keep > n.storage.firstIndex()) n.storage.compact(keep);
    }
  }
}

/** `count` 100-byte payloads, allocated once and reused by every batch. */
export function payloads(count: number, size = 100): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) out.push(new Uint8Array(size).fill(i & 0xff));
  return out;
}
