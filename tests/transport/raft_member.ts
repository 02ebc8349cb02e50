/**
 * A raft member for the transport tests: lib/raft's Node over MemoryStorage behind a
 * Transport (simulated or HTTP), applying entries as strings. Its members never compact, so
 * raft never sends them snapshots; the snapshot host calls refuse with a clear error.
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
  readonly applied: string[] = [];
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
        for (const e of b.entries) {
          if (e.data.length > 0) this.applied.push(new TextDecoder().decode(e.data));
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
  openSnapshot(_m: Message): Promise<SnapshotSource> {
    return Promise.reject(new Error("this test's members never compact, so never send snapshots"));
  }
  receiveSnapshot(_m: Message, _db: SnapshotPayload): Promise<void> {
    return Promise.reject(new Error("this test's members never receive snapshots"));
  }
}
