/**
 * The raft loop of a member (etcd's raftNode): raft's driver over the WAL, the in-memory raft
 * storage and the snapshot files; the ticker; messages out to the transport and in from it;
 * raft snapshots taken every --snapshot-count applied entries (with the log compaction, snapshot
 * purge and WAL release that follow); and snapshots received from the leader, persisted before
 * raft may act on them. What an applied entry means is not its business: committed entries go
 * to the member's `apply` hook.
 */
import type { MemberId } from "../base/types.ts";
import { type Logger, tookField } from "../base/log.ts";
import type { Clock, Timer } from "../io/clock.ts";
import type { Wal } from "../wal/wal.ts";
import type { Snapshotter } from "../snap/snapshotter.ts";
import {
  type ApplyBatch,
  type ConfChange,
  type MemoryStorage,
  type Message,
  Node,
  type PersistBatch,
  type RawNode,
  type ReadState,
  type SoftState,
  StateType,
} from "../raft/mod.ts";
import type { CountSink } from "../base/metric_sink.ts";
import { delayAt, type FaultPoints, OrderedDelay } from "../base/fault_points.ts";
import { HeartbeatDetector } from "./heartbeat_detector.ts";
import type {
  SnapshotPayload,
  SnapshotSource,
  Transport,
  TransportHost,
} from "../transport/transport.ts";
import type { ClusterId } from "../base/types.ts";

/**
 * Entries kept in raft's log behind a snapshot, so a slow follower can catch up from the log
 * rather than a snapshot (etcd's snapshotCatchUpEntries).
 */
export const SNAPSHOT_CATCH_UP_ENTRIES = 5000;

/** etcd warns of an fdatasync slower than this (its wal.warnSyncDuration). */
const SLOW_FSYNC_MS = 1000;

/** What the loop hands to the member. */
export interface RaftLoopHooks {
  /** Applies committed state (a received snapshot first, then entries). */
  apply(b: ApplyBatch): Promise<void> | void;
  readStates(rs: ReadState[]): void;
  softState(s: SoftState): void;
  /** Vets a committed conf change (see NodeHooks.validateConfChange). */
  validateConfChange?(change: ConfChange, index: number): string | null;
  /** Runs on every tick, after raft's (request deadlines). */
  tick(): void;
  /** The loop cannot go on (a WAL or apply failure): the member must stop serving. */
  fail(err: unknown): void;
  /** Makes the backend durable up to the applied index before a snapshot names it. */
  commitBackend(): Promise<void>;
  /** A member removed from the cluster (its messages are refused). */
  isRemoved(id: MemberId): boolean;
  /**
   * A peer refused this member's messages as those of a removed member (etcd's 410): it was
   * removed from the cluster and must stop serving.
   */
  removed?(by: MemberId): void;
  /** A consistent copy of the page file for a follower that needs a snapshot. */
  openSnapshot(m: Message): Promise<SnapshotSource>;
  /** A peer's call that is not a raft message (lease renewals and TTLs on the leader). */
  handleCall(from: MemberId, method: string, body: Uint8Array): Promise<Uint8Array>;
}

/** How the loop is set up. */
export interface RaftLoopOptions {
  id: MemberId;
  clusterId: ClusterId;
  raw: RawNode;
  storage: MemoryStorage;
  wal: Wal;
  snapshotter: Snapshotter;
  clock: Clock;
  heartbeatMs: number;
  /** Entries applied between raft snapshots (etcd's --snapshot-count). */
  snapshotCount: number;
  /** The index of the newest raft snapshot (0: none). */
  snapshotIndex: number;
  /** Entries kept behind a snapshot (default SNAPSHOT_CATCH_UP_ENTRIES). */
  catchUpEntries?: number;
  hooks: RaftLoopHooks;
  log: Logger;
  /** Counts heartbeats sent late (etcd_server_heartbeat_send_failures_total). */
  heartbeatSendFailures?: CountSink;
  /**
   * A PLANTED BUG, for the simulation's checkers only (tests/sim: `--bug ack-before-fsync`;
   * no flag of `concord serve` sets it): a Ready's entries and HardState count as persisted
   * before the WAL's write and fdatasync finish, so the member acknowledges entries to the
   * leader, votes, and applies and answers proposals that a power loss can still take away.
   */
  testOnlyAckBeforeFsync?: boolean;
  /** Fault points for tests (lib/base/fault_points.ts); none in production. */
  faults?: FaultPoints;
}

/** The raft loop; also the transport's host (messages and snapshots from peers land here). */
export class RaftLoop implements TransportHost {
  readonly node: Node;
  readonly memberId: MemberId;
  readonly clusterId: ClusterId;
  readonly #o: RaftLoopOptions;
  #transport: Transport | null = null;
  #ticker: Timer | null = null;
  #snapIndex: number;
  #snapshotRun: Promise<void> | null = null;
  #stopped = false;
  #failed = false;
  /** Batches held at a send fault point (only with fault points). */
  #held: OrderedDelay<Message[]> | null = null;

  constructor(o: RaftLoopOptions) {
    this.#o = o;
    this.memberId = o.id;
    this.clusterId = o.clusterId;
    this.#snapIndex = o.snapshotIndex;
    const send = o.heartbeatSendFailures === undefined
      ? (msgs: Message[]) => this.#transport?.send(msgs)
      : this.#checkedSend(o.heartbeatSendFailures);
    this.node = new Node(o.raw, {
      persist: (b) => this.#persist(b),
      send: o.faults === undefined ? send : this.#delayedSend(o.faults, send),
      apply: (b) => o.hooks.apply(b),
      validateConfChange: o.hooks.validateConfChange,
      readStates: (rs) => o.hooks.readStates(rs),
      softState: (s) => o.hooks.softState(s),
    });
  }

  /** Sends through the transport, counting late heartbeats while this member leads. */
  #checkedSend(failures: CountSink): (msgs: Message[]) => void {
    const detector = new HeartbeatDetector(this.#o.heartbeatMs);
    return (msgs) => {
      if (this.node.raw.raft.state !== StateType.Leader) detector.reset();
      else {
        const late = detector.late(msgs, this.#o.clock.now());
        if (late > 0) failures.add(late);
      }
      this.#transport?.send(msgs);
    };
  }

  /**
   * Sends through fault points: raftBeforeLeaderSend while this member leads, else
   * raftBeforeFollowerSend (etcd's raft.go: before the transport takes a Ready's messages). A
   * delay there holds the batch, and every batch after it, in order, on the member's clock, as
   * etcd's raft loop sleeping there would.
   */
  #delayedSend(faults: FaultPoints, send: (msgs: Message[]) => void): (msgs: Message[]) => void {
    this.#held = new OrderedDelay<Message[]>(
      (ms, fn) => this.#o.clock.after(ms, fn),
      (batches) => {
        if (this.#stopped || this.#failed) return;
        for (const b of batches) send(b);
      },
    );
    const held = this.#held;
    return (msgs) => {
      if (msgs.length === 0) return send(msgs);
      const ms = delayAt(
        faults,
        this.node.raw.raft.state === StateType.Leader
          ? "raftBeforeLeaderSend"
          : "raftBeforeFollowerSend",
      );
      if (!held.offer(msgs, ms)) send(msgs);
    };
  }

  /** Connects the loop to its peers (none for a cluster of one). */
  setTransport(t: Transport): void {
    this.#transport = t;
  }

  get transport(): Transport | null {
    return this.#transport;
  }

  /** Starts ticking every heartbeat interval. */
  start(): void {
    this.#ticker = this.#o.clock.every(this.#o.heartbeatMs, () => {
      if (this.#stopped || this.#failed) return;
      try {
        this.node.tick();
        this.#o.hooks.tick();
        this.drive();
      } catch (err) {
        this.#fail(err);
      }
    });
  }

  /** Runs raft's Ready loop for whatever was stepped in. */
  drive(): void {
    if (this.#stopped || this.#failed) return;
    this.node.process().catch((err) => this.#fail(err));
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#o.hooks.fail(err);
  }

  async #persist(b: PersistBatch): Promise<void> {
    const { wal, storage, snapshotter, faults } = this.#o;
    if (b.snapshot !== null) {
      // etcd's order: the snapshot file, then its WAL record, then the entries after it; the
      // page file it names was stored by receiveSnapshot before raft saw the message
      faults?.hit("raftBeforeSaveSnap");
      await snapshotter.save(b.snapshot);
      faults?.hit("raftBeforeWALSaveSnaphot");
      const md = b.snapshot.metadata;
      await wal.saveSnapshot({ index: md.index, term: md.term, confState: md.confState });
      faults?.hit("raftAfterSaveSnap");
    }
    faults?.hit("raftBeforeSave");
    const saving = this.#o.clock.now();
    // with peers, the fdatasync runs off this thread, which meanwhile takes the peers'
    // messages and the clients' requests (INLINE_SYNC_BYTES); a batch that only moves the
    // commit index writes nothing now: it goes with the next save (raft's mustSync)
    const saved = wal.save(b.hardState, b.entries, {
      inlineSync: this.node.raw.raft.trk.progress.size <= 1,
      sync: b.mustSync || b.snapshot !== null,
    });
    if (this.#o.testOnlyAckBeforeFsync === true) {
      // the planted bug: go on before the save is durable (a failed save still fails the loop)
      saved.catch((err) => this.#fail(err));
    } else await saved;
    faults?.hit("raftAfterSave");
    const took = this.#o.clock.now() - saving;
    // etcd warns past 1 s of fdatasync; the WAL's save is its write and fdatasync together
    if (took > SLOW_FSYNC_MS) {
      this.#o.log.warn("slow fdatasync", {
        took: tookField(took),
        "expected-duration": "1s",
        entries: b.entries.length,
      });
    }
    if (b.snapshot !== null) {
      faults?.hit("raftBeforeApplySnap");
      storage.applySnapshot(b.snapshot);
      this.#snapIndex = b.snapshot.metadata.index;
      faults?.hit("raftAfterApplySnap");
    }
    if (b.entries.length > 0) storage.append(b.entries);
    if (b.hardState !== null) storage.setHardState(b.hardState);
  }

  // --- the transport's host ---

  receive(m: Message): void {
    if (this.#stopped || this.#failed) return;
    try {
      this.node.step(m);
    } catch (err) {
      // a message raft cannot take (a stale term, a peer's bug) must not stop the member
      this.#o.log.warn("dropped a raft message", { from: m.from.toString(16), error: err });
      return;
    }
    this.drive();
  }

  reportUnreachable(to: MemberId): void {
    if (this.#stopped || this.#failed) return;
    try {
      this.node.reportUnreachable(to);
    } catch (err) {
      // the node failed on an I/O error a moment ago (this loop hears of it a microtask
      // later): thrown into the transport's send, it was an unhandled rejection (seed
      // 22501786); the member fails with the node's own error, as it would a moment later
      this.#fail(nodeFailure(err));
      return;
    }
    this.drive();
  }

  reportSnapshot(to: MemberId, ok: boolean): void {
    if (this.#stopped || this.#failed) return;
    if (ok) this.#o.log.info("sent database snapshot", { "remote-peer-id": to.toString(16) });
    else {this.#o.log.warn("failed to send database snapshot", {
        "remote-peer-id": to.toString(16),
      });}
    try {
      this.node.reportSnapshot(to, ok);
    } catch (err) {
      this.#fail(nodeFailure(err)); // (as in reportUnreachable)
      return;
    }
    this.drive();
  }

  isRemoved(id: MemberId): boolean {
    return this.#o.hooks.isRemoved(id);
  }

  removedByPeer(by: MemberId): void {
    if (this.#stopped || this.#failed) return;
    this.#o.hooks.removed?.(by);
  }

  openSnapshot(m: Message): Promise<SnapshotSource> {
    return this.#o.hooks.openSnapshot(m);
  }

  handleCall(from: MemberId, method: string, body: Uint8Array): Promise<Uint8Array> {
    return this.#o.hooks.handleCall(from, method, body);
  }

  /**
   * Stores the leader's page file as `<index>.snap.db` (temp name, fsync, rename: never a
   * partial file under the final name), then lets raft take the snapshot message. The apply
   * of the snapshot opens that file as the new backend.
   */
  async receiveSnapshot(m: Message, db: SnapshotPayload): Promise<void> {
    if (m.snapshot === null) throw new Error("a snapshot message without a snapshot");
    const index = m.snapshot.metadata.index;
    const started = this.#o.clock.now();
    const { size } = await this.#o.snapshotter.saveDbFrom(index, db.chunks);
    this.#o.log.info("received and saved database snapshot", {
      "snapshot-index": index,
      "remote-snapshot-sender-id": m.from.toString(16),
      "snapshot-size-bytes": size,
      took: tookField(this.#o.clock.now() - started),
    });
    this.receive(m);
  }

  // --- raft snapshots ---

  /** The index of the newest raft snapshot, 0 when none was taken. */
  get snapshotIndex(): number {
    return this.#snapIndex;
  }

  /**
   * Starts a snapshot once --snapshot-count entries were applied since the last one. Applies
   * that land while one is being written are covered by the check when it finishes, so a
   * burst that ends during a snapshot still gets the one it is due.
   */
  maybeSnapshot(applied: number): void {
    if (
      this.#snapshotRun === null && !this.#stopped && !this.#failed &&
      applied > this.#snapIndex && applied - this.#snapIndex >= this.#o.snapshotCount
    ) {
      this.#snapshotRun = this.#snapshot(applied).then(
        () => {
          this.#snapshotRun = null;
          this.maybeSnapshot(this.node.raw.raft.raftLog.applied);
        },
        (err) => {
          this.#snapshotRun = null;
          this.#fail(err);
        },
      );
    }
  }

  /**
   * Takes a raft snapshot at the applied index: commits the backend (which then holds
   * everything up to that index), saves the snapshot file, records it in the WAL, compacts
   * raft's log (keeping SNAPSHOT_CATCH_UP_ENTRIES), purges old snapshot files and releases the
   * WAL segments before the oldest snapshot kept. The snapshot carries no data: the
   * membership lives in the backend, and the page file travels beside the message.
   */
  async #snapshot(index: number): Promise<void> {
    const { storage, snapshotter, wal } = this.#o;
    const started = this.#o.clock.now();
    this.#o.log.info("triggering snapshot", {
      "local-member-id": this.#o.id.toString(16),
      "local-member-applied-index": index,
      "local-member-snapshot-index": this.#snapIndex,
      "local-member-snapshot-count": this.#o.snapshotCount,
    });
    const confState = this.node.raw.confState();
    await this.#o.hooks.commitBackend();
    const snap = storage.createSnapshot(index, confState, new Uint8Array(0));
    await snapshotter.save(snap);
    this.#o.faults?.hit("raftBeforeWALSaveSnaphot");
    await wal.saveSnapshot({ index, term: snap.metadata.term, confState });
    const compactTo = index - (this.#o.catchUpEntries ?? SNAPSHOT_CATCH_UP_ENTRIES);
    if (compactTo > storage.firstIndex()) storage.compact(compactTo);
    await snapshotter.purge();
    const names = await snapshotter.snapNames();
    const oldest = names.length > 0 ? parseInt(names[0].slice(17, 33), 16) : index;
    await wal.releaseBefore(Math.min(oldest, index));
    this.#o.faults?.hit("raftAfterWALRelease");
    this.#snapIndex = index;
    this.#o.log.info("saved snapshot", {
      "snapshot-index": index,
      "compact-index": compactTo > 0 ? compactTo : 0,
      took: tookField(this.#o.clock.now() - started),
    });
  }

  /**
   * Stops ticking, lets the running batch finish and the snapshot in progress end. The WAL
   * stays open: the member closes it after the backend.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#ticker?.cancel();
    this.#held?.clear();
    await this.#transport?.close();
    try {
      await this.node.process();
    } catch {
      // already reported through fail
    }
    await this.#snapshotRun;
  }
}

/** The error that stopped the raft node (its refusal carries it as the cause), else `err`. */
function nodeFailure(err: unknown): unknown {
  return err instanceof Error && err.cause !== undefined ? err.cause : err;
}
