/**
 * A TransportHost for the transport tests that records everything the transport calls: the
 * messages received, unreachable and snapshot reports, and the snapshots stored (their bytes
 * kept in memory once the payload's iteration completed, as a real host keeps a file only
 * after it verified).
 */
import type { ClusterId, MemberId } from "../../lib/base/types.ts";
import { type Message, MessageType, newMessage } from "../../lib/raft/mod.ts";
import {
  PeerCallError,
  type SnapshotPayload,
  type SnapshotSource,
  type TransportHost,
} from "../../lib/transport/transport.ts";

export interface StoredSnapshot {
  m: Message;
  bytes: Uint8Array;
}

export class RecordingHost implements TransportHost {
  readonly received: Message[] = [];
  readonly unreachable: MemberId[] = [];
  readonly snapshotReports: { to: MemberId; ok: boolean }[] = [];
  readonly removed = new Set<MemberId>();
  /** Peers that refused us with 410 (removedByPeer calls). */
  readonly removedBy: MemberId[] = [];
  /** Snapshots fully received and verified. */
  readonly stored: StoredSnapshot[] = [];
  /** Errors thrown by payload iterations (cut, corrupted). */
  readonly snapshotErrors: Error[] = [];
  /** The page file openSnapshot hands out (chunked by `chunkSize`). */
  snapshotFile: Uint8Array = new Uint8Array(0);
  chunkSize = 64 * 1024;
  /** Lies about the size by this much (to test the sender's check). */
  sizeSkew = 0;
  sourcesClosed = 0;
  #waiters: (() => void)[] = [];

  constructor(readonly memberId: MemberId, readonly clusterId: ClusterId) {}

  receive(m: Message): void {
    this.received.push(m);
    this.#wake();
  }
  reportUnreachable(to: MemberId): void {
    this.unreachable.push(to);
    this.#wake();
  }
  reportSnapshot(to: MemberId, ok: boolean): void {
    this.snapshotReports.push({ to, ok });
    this.#wake();
  }
  /** Peer calls received, in order. */
  readonly calls: { from: MemberId; method: string; body: Uint8Array }[] = [];

  /** "echo" answers the body; "refuse" fails with etcd's lease not found; others Unimplemented. */
  handleCall(from: MemberId, method: string, body: Uint8Array): Promise<Uint8Array> {
    this.calls.push({ from, method, body });
    if (method === "echo") return Promise.resolve(body);
    if (method === "refuse") {
      return Promise.reject(new PeerCallError(5, "etcdserver: requested lease not found"));
    }
    return Promise.reject(new PeerCallError(12, `unknown peer call ${method}`));
  }

  removedByPeer(by: MemberId): void {
    this.removedBy.push(by);
  }
  isRemoved(id: MemberId): boolean {
    return this.removed.has(id);
  }

  openSnapshot(_m: Message): Promise<SnapshotSource> {
    const file = this.snapshotFile;
    const chunk = this.chunkSize;
    return Promise.resolve({
      size: file.length + this.sizeSkew,
      read: async function* () {
        for (let p = 0; p < file.length; p += chunk) yield file.slice(p, p + chunk);
      },
      close: () => this.sourcesClosed++,
    });
  }

  /** When set, receiveSnapshot fails at once with this message (reading nothing). */
  refuseSnapshots = "";

  async receiveSnapshot(m: Message, db: SnapshotPayload): Promise<void> {
    if (this.refuseSnapshots !== "") throw new Error(this.refuseSnapshots);
    const parts: Uint8Array[] = [];
    let n = 0;
    try {
      for await (const c of db.chunks) {
        parts.push(c.slice());
        n += c.length;
      }
    } catch (e) {
      this.snapshotErrors.push(e as Error);
      this.#wake();
      throw e;
    }
    const bytes = new Uint8Array(n);
    let p = 0;
    for (const c of parts) {
      bytes.set(c, p);
      p += c.length;
    }
    this.stored.push({ m, bytes });
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `cond` holds; fails after `timeoutMs` naming `what`. */
  async until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        timer = setTimeout(r, Math.min(left, 50));
      });
      clearTimeout(timer);
    }
  }
}

/** A small heartbeat-like message from -> to carrying `n` in its commit field. */
export function msg(
  from: MemberId,
  to: MemberId,
  n: number,
  type = MessageType.Heartbeat,
): Message {
  return newMessage({ type, from, to, term: 1, commit: n });
}

/** An append carrying `count` entries of `size` bytes each. */
export function bigApp(from: MemberId, to: MemberId, n: number, size: number): Message {
  const data = new Uint8Array(size).fill(n & 0xff);
  return newMessage({
    type: MessageType.App,
    from,
    to,
    term: 1,
    index: n,
    logTerm: 1,
    commit: n,
    entries: [{ term: 1, index: n + 1, type: 0, data }],
  });
}

/** A MsgSnap from -> to at `index`. */
export function snapMsg(from: MemberId, to: MemberId, index: number): Message {
  return newMessage({
    type: MessageType.Snap,
    from,
    to,
    term: 2,
    snapshot: {
      data: new Uint8Array([1, 2, 3]),
      metadata: {
        index,
        term: 2,
        confState: {
          voters: [from, to],
          learners: [],
          votersOutgoing: [],
          learnersNext: [],
          autoLeave: false,
        },
      },
    },
  });
}
