/**
 * Linearizable reads by ReadIndex (etcd's linearizableReadLoop): callers queue, one round at a
 * time asks raft for the commit index the leader confirmed with a quorum, and every caller of
 * the round is released once the applied index reaches it. Concurrent readers share a round.
 * A request lost on the way (a follower's forward while its stream to the leader is not up
 * yet) is sent again every RETRY_MS, as etcd's readIndexRetryTime; a round that gets no
 * answer in time fails its readers with etcd's timeout; `close` fails every reader, queued or
 * in a round.
 *
 * A round's context is a fresh id from the member's request-id sequence (etcd's
 * `reqIDGen.Next()`), never a counter of its own: a leader answers a read index to the member
 * that asked, and a member restarted meanwhile must not take the answer to its previous
 * incarnation's round (an older index) for its own (sim seed 40000917: a linearizable range
 * served at revision 31 after a write at 36 was acknowledged). Unique contexts also keep two
 * members' rounds apart at the leader, which keeps one pending read per context.
 */
import { Errors } from "../base/errors.ts";
import type { Clock, Timer } from "../io/clock.ts";
import type { CountSink } from "../base/metric_sink.ts";
import { ProposalDroppedError, type ReadState } from "../raft/mod.ts";

/** How long a round waits for raft's answer before asking again (etcd: 500 ms). */
export const READ_INDEX_RETRY_MS = 500;

interface Reader {
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** What a round needs from the member. */
export interface ReadRoundHooks {
  clock: Clock;
  timeoutMs: number;
  /** Asks raft for a read index tagged `ctx` (throws ProposalDroppedError without a leader). */
  readIndex(ctx: Uint8Array): void;
  /** A fresh id, unique across the member's incarnations (its request-id sequence). */
  nextId(): bigint;
  /** Resolves once the applied index reaches `index`. */
  waitApplied(index: number): Promise<void>;
  /** Counts rounds that failed (etcd_server_read_indexes_failed_total). */
  failed?: CountSink;
  /** Counts rounds raft did not answer before a retry (etcd_server_slow_read_indexes_total). */
  slow?: CountSink;
}

/** The queue of linearizable readers and the round in flight. */
export class ReadRounds {
  readonly #h: ReadRoundHooks;
  #queue: Reader[] = [];
  #round: { id: bigint; readers: Reader[]; timer: Timer; retry: Timer } | null = null;
  #closed: unknown = null;

  constructor(hooks: ReadRoundHooks) {
    this.#h = hooks;
  }

  /** Resolves when a read served now would be linearizable. */
  wait(): Promise<void> {
    if (this.#closed !== null) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      this.#queue.push({ resolve, reject });
      this.#start();
    });
  }

  #start(): void {
    if (this.#round !== null || this.#queue.length === 0 || this.#closed !== null) return;
    const readers = this.#queue;
    this.#queue = [];
    const id = this.#h.nextId();
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setBigUint64(0, id, false);
    const timer = this.#h.clock.after(this.#h.timeoutMs, () => {
      if (this.#round?.id !== id) return;
      this.#round.retry.cancel();
      this.#round = null;
      this.#h.failed?.add();
      for (const r of readers) r.reject(Errors.timeout());
      this.#start();
    });
    const retry = this.#h.clock.every(READ_INDEX_RETRY_MS, () => {
      if (this.#round?.id !== id) return;
      this.#h.slow?.add();
      try {
        this.#h.readIndex(ctx);
      } catch {
        // no leader right now: the next retry or the round's timeout settles it
      }
    });
    this.#round = { id, readers, timer, retry };
    try {
      this.#h.readIndex(ctx);
    } catch (err) {
      timer.cancel();
      retry.cancel();
      this.#round = null;
      this.#h.failed?.add();
      const e = err instanceof ProposalDroppedError ? Errors.noLeader() : err;
      for (const r of readers) r.reject(e);
    }
  }

  /** Raft confirmed read indexes: release the round they answer. */
  confirmed(states: readonly ReadState[]): void {
    for (const rs of states) {
      const round = this.#round;
      if (round === null || rs.context.length !== 8) continue;
      const id = new DataView(rs.context.buffer, rs.context.byteOffset, 8).getBigUint64(0);
      if (id !== round.id) continue;
      round.timer.cancel();
      round.retry.cancel();
      this.#round = null;
      this.#h.waitApplied(rs.index).then(
        () => {
          for (const r of round.readers) r.resolve();
        },
        (err) => {
          for (const r of round.readers) r.reject(err);
        },
      );
      this.#start();
    }
  }

  /** Fails every reader, now and later. */
  close(err: unknown): void {
    if (this.#closed === null) this.#closed = err;
    const round = this.#round;
    this.#round = null;
    if (round !== null) {
      round.timer.cancel();
      round.retry.cancel();
      for (const r of round.readers) r.reject(this.#closed);
    }
    const queued = this.#queue;
    this.#queue = [];
    for (const r of queued) r.reject(this.#closed);
  }
}
