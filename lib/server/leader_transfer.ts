/**
 * Leadership transfer (etcd's MoveLeader and TransferLeadership): hand leadership to a
 * chosen voter and wait until raft reports it as the leader; or, before a leader stops or
 * leaves the cluster, hand it to the voter connected longest, so the others need no election.
 */
import { Errors } from "../base/errors.ts";
import type { MemberId } from "../base/types.ts";
import type { Clock } from "../io/clock.ts";
import type { Transport } from "../transport/transport.ts";
import type { MemberRecord } from "./membership.ts";

/** What a transfer reads of its member. */
export interface LeaderTransferHost {
  readonly id: MemberId;
  readonly clock: Clock;
  isLeader(): boolean;
  leader(): MemberId;
  members(): MemberRecord[];
  transport(): Transport | null;
  /** Asks raft to transfer leadership (MsgTransferLeader) and drives it. */
  transferLeader(target: MemberId): void;
}

interface Wait {
  target: MemberId;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** The pending transfers of one member. */
export class LeaderTransfer {
  readonly #h: LeaderTransferHost;
  #waits: Wait[] = [];
  #closed: unknown = null;

  constructor(host: LeaderTransferHost) {
    this.#h = host;
  }

  /**
   * Hands leadership to `target` (etcd's MoveLeader): refused by a follower and for a
   * non-voter; resolves once raft reports `target` as the leader, or fails with etcd's
   * request timeout after `timeoutMs`.
   */
  move(target: MemberId, timeoutMs: number): Promise<void> {
    if (this.#closed !== null) return Promise.reject(this.#closed);
    if (!this.#h.isLeader()) return Promise.reject(Errors.notLeader());
    // etcd: the transferee must be a member and not a learner
    const t = this.#h.members().find((m) => m.id === target);
    if (t === undefined || t.isLearner) return Promise.reject(Errors.badLeaderTransferee());
    if (this.#h.leader() === target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = this.#h.clock.after(timeoutMs, () => {
        this.#drop(w);
        reject(Errors.timeout());
      });
      const w: Wait = {
        target,
        resolve: () => {
          timer.cancel();
          resolve();
        },
        reject: (err) => {
          timer.cancel();
          reject(err);
        },
      };
      this.#waits.push(w);
      try {
        this.#h.transferLeader(target);
      } catch (err) {
        this.#drop(w);
        w.reject(err);
      }
    });
  }

  /**
   * etcd's TransferLeadership: a leader with other voters hands leadership to the one its
   * transport has been connected to longest. Does nothing for a follower or a leader alone;
   * fails with etcd's "unhealthy cluster" when no voter is connected.
   */
  async away(timeoutMs: number): Promise<MemberId | null> {
    if (!this.#h.isLeader()) return null;
    const t = this.#h.transport();
    const voters = this.#h.members().filter((m) => !m.isLearner && m.id !== this.#h.id);
    if (t === null || voters.length === 0) return null;
    let best: MemberId | null = null;
    let since = Infinity;
    for (const v of voters) {
      const s = t.activeSince(v.id);
      if (s > 0 && s < since) {
        best = v.id;
        since = s;
      }
    }
    if (best === null) throw Errors.unhealthy();
    await this.move(best, timeoutMs);
    return best;
  }

  /** Raft reports `lead` as the leader: transfers to it are done. */
  observe(lead: MemberId): void {
    if (this.#waits.length === 0) return;
    const due = this.#waits.filter((w) => w.target === lead);
    this.#waits = this.#waits.filter((w) => w.target !== lead);
    for (const w of due) w.resolve();
  }

  /** Fails every pending transfer (the member stops) and refuses new ones. */
  close(err: unknown): void {
    this.#closed ??= err;
    const waits = this.#waits;
    this.#waits = [];
    for (const w of waits) w.reject(err);
  }

  #drop(w: Wait): void {
    this.#waits = this.#waits.filter((x) => x !== w);
  }
}
