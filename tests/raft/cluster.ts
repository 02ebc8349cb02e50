/**
 * Test harness: in-process raft nodes over MemoryStorage, each driven through the full
 * Ready cycle (persist -> send -> apply -> advance), and a network that delivers messages
 * synchronously in FIFO order, with cuts, isolation, drops and message-type filters. The
 * simulator (sim.ts) reuses SimNode with an adversarial network instead.
 */
import { type Entry, EntryType, type NodeId, type Snapshot } from "../../lib/base/raftpb.ts";
import { Rand } from "../../lib/base/rand.ts";
import { type ConfChange, decodeConfChange } from "../../lib/raft/confchange.ts";
import { MemoryStorage } from "../../lib/raft/memory_storage.ts";
import { type Message, MessageType } from "../../lib/raft/messages.ts";
import type { RaftConfig, ReadState } from "../../lib/raft/raft.ts";
import { RawNode, type Ready } from "../../lib/raft/raw_node.ts";

/** The tuning a harness node gets unless a test overrides it. */
export interface NodeOptions {
  electionTick?: number;
  heartbeatTick?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  maxSizePerMsg?: number;
  maxInflightMsgs?: number;
  maxInflightBytes?: number;
  maxUncommittedEntriesSize?: number;
  disableProposalForwarding?: boolean;
}

/** The hash-chain state machine: state after index i = mix(state after i-1, entry i). */
export function mixEntry(h: number, e: Entry): number {
  h = Math.imul(h ^ e.index, 0x9e3779b1) ^ Math.imul(e.term + 7, 0x85ebca6b);
  h = Math.imul(h ^ (e.type + 1), 0xc2b2ae35);
  const d = e.data;
  for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i], 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Encodes the state machine (applied index and hash) as snapshot data. */
export function encodeState(index: number, hash: number): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setFloat64(0, index);
  v.setUint32(8, hash);
  return b;
}

export function decodeState(b: Uint8Array): { index: number; hash: number } {
  if (b.length === 0) return { index: 0, hash: 0 };
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { index: v.getFloat64(0), hash: v.getUint32(8) };
}

/** Hooks the simulator uses to check invariants as things happen. */
export interface NodeObserver {
  onPersist?(node: SimNode, entries: readonly Entry[]): void;
  onApply?(node: SimNode, index: number, hash: number, entry: Entry | null): void;
  onReadState?(node: SimNode, rs: ReadState): void;
}

/** One node: a RawNode over its own MemoryStorage, with a hash-chain state machine. */
export class SimNode {
  readonly id: NodeId;
  readonly storage: MemoryStorage;
  raw!: RawNode;
  /** Applied index and state hash (volatile: reset to the snapshot on restart). */
  appliedIndex = 0;
  hash = 0;
  /** Non-empty normal entries applied since the last restart (for assertions). */
  appliedData: Uint8Array[] = [];
  readStates: ReadState[] = [];
  confChanges: ConfChange[] = [];
  up = true;
  readonly options: NodeOptions;
  readonly seed: number;
  observer: NodeObserver | null = null;
  restarts = 0;

  constructor(id: NodeId, storage: MemoryStorage, options: NodeOptions, seed: number) {
    this.id = id;
    this.storage = storage;
    this.options = options;
    this.seed = seed;
    this.start();
  }

  config(): RaftConfig {
    const o = this.options;
    return {
      id: this.id,
      storage: this.storage,
      rand: new Rand(this.seed * 31 + this.restarts),
      electionTick: o.electionTick ?? 10,
      heartbeatTick: o.heartbeatTick ?? 1,
      applied: this.appliedIndex,
      preVote: o.preVote ?? true,
      checkQuorum: o.checkQuorum ?? true,
      maxSizePerMsg: o.maxSizePerMsg,
      maxInflightMsgs: o.maxInflightMsgs,
      maxInflightBytes: o.maxInflightBytes,
      maxUncommittedEntriesSize: o.maxUncommittedEntriesSize,
      disableProposalForwarding: o.disableProposalForwarding,
    };
  }

  /** (Re)starts from durable state: the storage; the state machine from its snapshot. */
  start(): void {
    const snap = this.storage.snapshot();
    const st = decodeState(snap.data);
    this.appliedIndex = snap.metadata.index;
    this.hash = st.hash;
    this.appliedData = [];
    this.readStates = [];
    this.raw = new RawNode(this.config());
    this.up = true;
  }

  /** kill -9: everything not in storage is lost. */
  crash(): void {
    this.up = false;
    this.pending = null;
  }

  restart(): void {
    this.restarts++;
    this.start();
  }

  /**
   * Runs Ready cycles until idle; returns the messages to send. With `defer`, the next
   * Ready is taken but its persist/send/apply is left pending (as while an async fsync is in
   * flight): raft keeps stepping meanwhile, and a crash loses the pending batch.
   */
  handleReady(defer = false): Message[] {
    const out: Message[] = [];
    if (!this.up) return out;
    if (this.pending !== null) {
      if (defer) return out;
      const rd = this.pending;
      this.pending = null;
      this.finishReady(rd, out);
    }
    while (this.up && this.raw.hasReady()) {
      const rd = this.raw.ready();
      if (defer) {
        this.pending = rd;
        return out;
      }
      this.finishReady(rd, out);
    }
    return out;
  }

  /** A Ready taken but not yet persisted, sent or applied. */
  pending: Ready | null = null;

  private finishReady(rd: Ready, out: Message[]): void {
    if (rd.snapshot !== null) this.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) {
      this.storage.append(rd.entries);
      this.observer?.onPersist?.(this, rd.entries);
    }
    if (rd.hardState !== null) this.storage.setHardState(rd.hardState);
    for (const m of rd.messages) out.push(m);
    if (rd.snapshot !== null) this.applySnapshot(rd.snapshot);
    for (const e of rd.committedEntries) this.applyEntry(e);
    for (const rs of rd.readStates) {
      this.readStates.push(rs);
      this.observer?.onReadState?.(this, rs);
    }
    this.raw.advance();
  }

  private applySnapshot(s: Snapshot): void {
    const st = decodeState(s.data);
    if (st.index !== s.metadata.index) throw new Error("snapshot data/metadata mismatch");
    this.appliedIndex = st.index;
    this.hash = st.hash;
    this.observer?.onApply?.(this, this.appliedIndex, this.hash, null);
  }

  private applyEntry(e: Entry): void {
    if (e.index !== this.appliedIndex + 1) {
      throw new Error(`node ${this.id} applies ${e.index} after ${this.appliedIndex}`);
    }
    this.appliedIndex = e.index;
    this.hash = mixEntry(this.hash, e);
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      this.confChanges.push(cc);
      this.raw.applyConfChange(cc);
    } else if (e.data.length > 0) {
      this.appliedData.push(e.data);
    }
    this.observer?.onApply?.(this, e.index, this.hash, e);
  }

  /** Snapshots the state machine at the applied index and compacts the log up to it. */
  compact(): boolean {
    const i = this.appliedIndex;
    if (i <= this.storage.snapshot().metadata.index) return false;
    this.storage.createSnapshot(i, this.raw.confState(), encodeState(i, this.hash));
    this.storage.compact(i);
    return true;
  }
}

const enc = new TextEncoder();
export function bytes(s: string): Uint8Array {
  return enc.encode(s);
}
const dec = new TextDecoder();
export function text(b: Uint8Array): string {
  return dec.decode(b);
}

/** Node ids 1n..n as bigints. */
export function nodeIds(n: number): NodeId[] {
  return Array.from({ length: n }, (_, i) => BigInt(i + 1));
}

/** Creates `n` nodes bootstrapped with voters (and learners) in a snapshot at index 1. */
export function bootstrap(
  voters: NodeId[],
  learners: NodeId[] = [],
  options: NodeOptions = {},
  seed = 1,
): SimNode[] {
  const out: SimNode[] = [];
  for (const id of voters.concat(learners)) {
    out.push(new SimNode(id, bootstrapStorage(voters, learners), options, seed + Number(id)));
  }
  return out;
}

/** A storage holding the bootstrap snapshot: index 1, term 1, the initial membership. */
export function bootstrapStorage(voters: NodeId[], learners: NodeId[]): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot({
    data: encodeState(1, 0),
    metadata: {
      index: 1,
      term: 1,
      confState: {
        voters: voters.slice(),
        learners: learners.slice(),
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      },
    },
  });
  s.setHardState({ term: 1, vote: 0n, commit: 1 });
  return s;
}

/** A storage for a node that joins later: empty, it learns everything from the leader. */
export function joinerStorage(): MemoryStorage {
  return new MemoryStorage();
}

/**
 * Synchronous network: `deliver` runs until no message is left. Filters decide per message
 * whether it is delivered.
 */
export class Cluster {
  readonly nodes = new Map<NodeId, SimNode>();
  readonly #cut = new Set<string>();
  readonly #ignored = new Set<MessageType>();
  readonly #dropRate = new Map<string, number>();
  readonly rand: Rand;
  /** Applied to every delivered message (e.g. a round trip through the wire codec). */
  wire: ((m: Message) => Message) | null = null;
  /** Every message delivered, for assertions (cleared by the test when needed). */
  delivered: Message[] = [];
  queue: Message[] = [];

  constructor(nodes: SimNode[], seed = 1) {
    for (const n of nodes) this.nodes.set(n.id, n);
    this.rand = new Rand(seed);
  }

  node(id: NodeId | number): SimNode {
    const n = this.nodes.get(BigInt(id));
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  add(n: SimNode): void {
    this.nodes.set(n.id, n);
  }

  /** Cuts the link between a and b in both directions. */
  cut(a: NodeId | number, b: NodeId | number): void {
    this.#cut.add(`${a}-${b}`);
    this.#cut.add(`${b}-${a}`);
  }

  /** Cuts every link of `id`. */
  isolate(id: NodeId | number): void {
    for (const other of this.nodes.keys()) if (other !== BigInt(id)) this.cut(id, other);
  }

  /** Drops messages from a to b with probability p. */
  drop(a: NodeId | number, b: NodeId | number, p: number): void {
    this.#dropRate.set(`${a}-${b}`, p);
  }

  ignore(t: MessageType): void {
    this.#ignored.add(t);
  }

  /** Heals every cut, drop and filter. */
  recover(): void {
    this.#cut.clear();
    this.#ignored.clear();
    this.#dropRate.clear();
  }

  #passes(m: Message): boolean {
    const key = `${m.from}-${m.to}`;
    if (this.#cut.has(key) || this.#ignored.has(m.type)) return false;
    const p = this.#dropRate.get(key);
    if (p !== undefined && this.rand.chance(p)) return false;
    const to = this.nodes.get(m.to);
    return to !== undefined && to.up;
  }

  /** Collects every node's pending output, then delivers until quiet. */
  deliver(extra: Message[] = []): void {
    for (const m of extra) this.queue.push(m);
    for (const n of this.nodes.values()) for (const m of n.handleReady()) this.queue.push(m);
    let guard = 0;
    while (this.queue.length > 0) {
      if (++guard > 1_000_000) throw new Error("network did not quiesce");
      const sent = this.queue.shift()!;
      if (!this.#passes(sent)) continue;
      const m = this.wire === null ? sent : this.wire(sent);
      this.delivered.push(m);
      const to = this.nodes.get(m.to)!;
      to.raw.step(m);
      for (const out of to.handleReady()) this.queue.push(out);
    }
  }

  /** Ticks every live node once, then delivers. */
  tick(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const node of this.nodes.values()) if (node.up) node.raw.tick();
      this.deliver();
    }
  }

  /** Makes `id` campaign and delivers the result. */
  campaign(id: NodeId | number): void {
    this.node(id).raw.campaign();
    this.deliver();
  }

  /** The current leader if exactly one live node leads in the highest term, else null. */
  leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const n of this.nodes.values()) {
      if (!n.up || n.raw.raft.state !== 2) continue;
      if (best === null || n.raw.raft.term > best.raw.raft.term) best = n;
    }
    return best;
  }
}
