/**
 * The bounded queue of messages waiting for one peer's stream. Bounded so a slow or dead peer
 * costs at most `limit` messages of memory and never blocks the raft loop: when it is full the
 * message is refused (the caller drops it, counts it and tells raft the peer is unreachable,
 * as etcd's rafthttp does with its 4096-message stream buffer). Everything queued since the
 * last write leaves in the next one, as one batch.
 */
import type { Message } from "../raft/mod.ts";

/** etcd's streamBufSize: messages held per peer before new ones are dropped. */
export const DEFAULT_QUEUE_LIMIT = 4096;

export class PeerQueue {
  #items: Message[] = [];

  constructor(readonly limit = DEFAULT_QUEUE_LIMIT) {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(`peer queue limit must be a positive integer, got ${limit}`);
    }
  }

  get length(): number {
    return this.#items.length;
  }

  /** Queues `m`; false (and nothing queued) when the queue is full. */
  push(m: Message): boolean {
    if (this.#items.length >= this.limit) return false;
    this.#items.push(m);
    return true;
  }

  /** Everything queued, oldest first; the queue is empty afterwards. */
  takeAll(): Message[] {
    const out = this.#items;
    this.#items = [];
    return out;
  }

  /** Empties the queue; returns how many messages were discarded. */
  clear(): number {
    const n = this.#items.length;
    this.#items = [];
    return n;
  }
}
