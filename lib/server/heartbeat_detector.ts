/**
 * etcd's heartbeat send check (pkg/contention's TimeoutDetector, used by its raft loop): a
 * leader that sends a peer a heartbeat more than twice the heartbeat interval after the
 * previous one was late (most often an overloaded leader or a slow disk), which etcd counts
 * in etcd_server_heartbeat_send_failures_total.
 */
import { type Message, MessageType } from "../raft/mod.ts";
import type { MemberId } from "../base/types.ts";

/** Watches the heartbeats a leader sends, per peer. */
export class HeartbeatDetector {
  readonly #maxGapMs: number;
  readonly #last = new Map<MemberId, number>();

  constructor(heartbeatMs: number) {
    this.#maxGapMs = 2 * heartbeatMs;
  }

  /** Forgets the last heartbeats (etcd resets it when this member becomes leader). */
  reset(): void {
    this.#last.clear();
  }

  /** How many of `msgs` are heartbeats sent late, at time `now` (ms). */
  late(msgs: readonly Message[], now: number): number {
    let n = 0;
    for (const m of msgs) {
      if (m.type !== MessageType.Heartbeat) continue;
      const last = this.#last.get(m.to);
      this.#last.set(m.to, now);
      if (last !== undefined && now - last > this.#maxGapMs) n++;
    }
    return n;
  }
}
