/**
 * ReadIndex bookkeeping on the leader (Raft thesis §6.4): each read request records the
 * commit index at the time it arrived; once a quorum has answered a heartbeat sent after
 * it, the leader knows it was still leader then, and the request (and every request queued
 * before it) may be served at that index. Requests that arrive together share one heartbeat
 * round.
 */
import type { NodeId } from "../base/raftpb.ts";
import type { Message } from "./messages.ts";

/** A read request that has gathered enough acknowledgements to be served. */
export interface ReadIndexStatus {
  /** The original request (its `from` and `context` say whom to answer). */
  req: Message;
  /** The commit index when the request arrived: the read must wait until applied >= it. */
  index: number;
  acks: Set<NodeId>;
}

/** The key a request context is tracked under (one char per byte, built in one go). */
export function contextKey(ctx: Uint8Array | null): string {
  if (ctx === null || ctx.length === 0) return "";
  if (ctx.length <= 1024) {
    return String.fromCharCode.apply(null, ctx as unknown as number[]);
  }
  let s = "";
  for (let i = 0; i < ctx.length; i += 1024) {
    s += String.fromCharCode.apply(null, ctx.subarray(i, i + 1024) as unknown as number[]);
  }
  return s;
}

/** Pending read requests in arrival order. */
export class ReadOnly {
  readonly pending = new Map<string, ReadIndexStatus>();
  queue: string[] = [];

  /**
   * Queues a request at commit index `index`; returns its key (a duplicate context is not
   * queued twice).
   */
  addRequest(index: number, m: Message): string {
    const key = contextKey(m.context);
    if (this.pending.has(key)) return key;
    this.pending.set(key, { req: m, index, acks: new Set() });
    this.queue.push(key);
    return key;
  }

  /** Records a heartbeat ack for the request keyed `key`; returns the acks, or null. */
  recvAck(id: NodeId, key: string): Set<NodeId> | null {
    const rs = this.pending.get(key);
    if (rs === undefined) return null;
    rs.acks.add(id);
    return rs.acks;
  }

  /** Dequeues and returns every request up to and including the one keyed `key`. */
  advance(key: string): ReadIndexStatus[] {
    const at = this.queue.indexOf(key);
    if (at === -1) return [];
    const out: ReadIndexStatus[] = [];
    for (let i = 0; i <= at; i++) {
      const k = this.queue[i];
      const rs = this.pending.get(k);
      if (rs === undefined) throw new Error("raft: read-only queue and map disagree");
      out.push(rs);
      this.pending.delete(k);
    }
    this.queue = this.queue.slice(at + 1);
    return out;
  }

  /** The context of the newest pending request, or null if none. */
  lastPendingContext(): Uint8Array | null {
    if (this.queue.length === 0) return null;
    const rs = this.pending.get(this.queue[this.queue.length - 1]);
    return rs === undefined ? null : rs.req.context;
  }
}
