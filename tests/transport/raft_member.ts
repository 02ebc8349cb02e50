/**
 * A raft member for the transport tests: lib/raft's Node over MemoryStorage behind a
 * Transport (simulated or HTTP), applying entries as strings. `compact()` snapshots the
 * applied strings as the "page file" and drops the log, so a lagging peer must be sent a
 * snapshot: the file goes through openSnapshot / receiveSnapshot, is kept only once its
 * payload verified, and only then is the MsgSnap stepped into raft, as a real host does.
 */
import { Rand } from "../../lib/base/rand.ts";
import type { ClusterId, MemberId } from "../../lib/base/types.ts";
import { MemoryStorage, type Message, Node, RawNode } from "../../lib/raft/mod.ts";
import type {
  SnapshotPayload,
  SnapshotSource,
  Transport,
  TransportHost,
} from "../../lib/transport/transport.ts";

/** One raft member: its Node behind the network's Transport. */
export class RaftMember implements TransportHost {
  readonly node: Node;
  readonly storage: MemoryStorage;
  applied: string[] = [];
  /** Index of the last applied entry. */
  appliedIndex = 0;
  /** Page files by snapshot index: made by compact(), or received from a peer. */
  readonly files = new Map<number, Uint8Array>();
  snapshotsReceived = 0;
  transport!: Transport;

  constructor(
    readonly memberId: MemberId,
    readonly clusterId: ClusterId,
    voters: readonly MemberId[],
    seed: number,
  ) {
    this.storage = new MemoryStorage({
      voters: [...voters],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    const raw = new RawNode({
      id: memberId,
      storage: this.storage,
      rand: new Rand(seed + Number(memberId)),
      electionTick: 10,
      heartbeatTick: 1,
      preVote: true,
      checkQuorum: true,
    });
    const storage = this.storage;
    this.node = new Node(raw, {
      persist: (b) => {
        if (b.snapshot !== null) storage.applySnapshot(b.snapshot);
        storage.append(b.entries);
        if (b.hardState !== null) storage.setHardState(b.hardState);
      },
      send: (msgs) => this.transport.send(msgs),
      apply: (b) => {
        if (b.snapshot !== null) {
          const index = b.snapshot.metadata.index;
          const file = this.files.get(index);
          if (file === undefined) throw new Error(`no page file for snapshot ${index}`);
          this.applied = JSON.parse(new TextDecoder().decode(file));
          this.appliedIndex = index;
        }
        for (const e of b.entries) {
          if (e.data.length > 0) this.applied.push(new TextDecoder().decode(e.data));
          this.appliedIndex = e.index;
        }
      },
    });
  }

  receive(m: Message): void {
    this.node.step(m);
    void this.node.process();
  }
  reportUnreachable(to: MemberId): void {
    this.node.reportUnreachable(to);
    void this.node.process();
  }
  reportSnapshot(to: MemberId, ok: boolean): void {
    this.node.reportSnapshot(to, ok);
    void this.node.process();
  }
  isRemoved(_id: MemberId): boolean {
    return false;
  }
  /** This test member answers no peer calls. */
  handleCall(_from: MemberId, method: string, _body: Uint8Array): Promise<Uint8Array> {
    return Promise.reject(new Error(`raft test member: no peer call ${method}`));
  }
  /** Snapshots the applied state (its page file kept in `files`) and compacts the log. */
  compact(): void {
    const index = this.appliedIndex;
    const file = new TextEncoder().encode(JSON.stringify(this.applied));
    this.files.set(index, file);
    this.storage.createSnapshot(index, this.node.raw.confState(), new Uint8Array(0));
    this.storage.compact(index);
  }
  openSnapshot(m: Message): Promise<SnapshotSource> {
    const index = m.snapshot?.metadata.index ?? 0;
    const file = this.files.get(index);
    if (file === undefined) return Promise.reject(new Error(`no page file at ${index}`));
    return Promise.resolve({
      size: file.length,
      read: async function* () {
        for (let p = 0; p < file.length; p += 1000) yield file.subarray(p, p + 1000);
      },
      close: () => {},
    });
  }
  async receiveSnapshot(m: Message, db: SnapshotPayload): Promise<void> {
    const parts: Uint8Array[] = [];
    for await (const c of db.chunks) parts.push(c.slice());
    const file = new Uint8Array(parts.reduce((n, c) => n + c.length, 0));
    let p = 0;
    for (const c of parts) {
      file.set(c, p);
      p += c.length;
    }
    this.files.set(m.snapshot?.metadata.index ?? 0, file);
    this.snapshotsReceived++;
    this.node.step(m);
    void this.node.process();
  }
}
