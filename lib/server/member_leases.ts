/**
 * A member's side of leases that is not a request from a client: the leader's lessor asks
 * through raft to revoke the leases that expired and to checkpoint remaining TTLs (etcd's
 * lease checkpoints), and keep-alives and time-to-live are answered by the leader's lessor,
 * which a follower asks over the peer transport (lease_calls.ts).
 *
 * The lessor becomes primary when the leader applies its term's empty entry, not when raft
 * elects it (etcd's applyEntryNormal: "promote lessor when the local member is leader and
 * finished applying all entries from the last term"). A new leader's log may hold entries of
 * earlier terms it has not applied yet, among them a revoke the old leader proposed for an
 * expired lease; a lessor promoted at the election answered keep-alives for that lease, which
 * the revoke then deleted (the simulation's finding 13, seed 2700627). Until the promotion a
 * keep-alive on the leader waits for it, as etcd's LeaseRenew retries its not-primary lessor.
 */
import { create } from "@bufbuild/protobuf";
import { Errors } from "../base/errors.ts";
import type { MemberId } from "../base/types.ts";
import type { Clock, Timer } from "../io/clock.ts";
import type { CountSink } from "../base/metric_sink.ts";
import type { LeaseCheckpoint, LeaseTimeToLive, Lessor } from "../lease/lessor.ts";
import { LeaseIdGenerator } from "../lease/lease_id.ts";
import type { Transport } from "../transport/transport.ts";
import {
  LeaseCheckpointRequestSchema,
  LeaseCheckpointSchema,
  LeaseRevokeRequestSchema,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { Proposal } from "./member.ts";
import { RequestKind } from "./request.ts";
import { renewAtLeader, renewLocal, timeToLiveAtLeader } from "./lease_calls.ts";

/** What the lease driver needs of its member. */
export interface MemberLeasesHost {
  id: MemberId;
  /** The member's wall clock at start, for lease ids (etcd's idutil). */
  startedAtMs: number;
  timeoutMs: number;
  /** A new leader's lessor gives every lease this much more (etcd: the election timeout). */
  electionTimeoutMs: number;
  clock: Clock;
  lessor(): Lessor;
  isLeader(): boolean;
  /** The current raft term. */
  term(): number;
  leader(): MemberId;
  transport(): Transport | null;
  propose(p: Proposal): Promise<unknown>;
  /** etcd_debugging_server_lease_expired_total. */
  expired?: CountSink;
  /** A planted bug for the simulation's lease checker (MemberOptions.testOnlyLeaseBug). */
  testOnlyBug?: LeaseBug;
}

/**
 * Lease bugs planted on purpose, to show the simulation's lease checker catches them; no flag
 * of `concord serve` sets one. `early-revoke`: the leader revokes a lease once half its TTL is
 * left; `keepalive-ignored`: a keep-alive is answered with the lease's TTL but renews nothing.
 */
export type LeaseBug = "early-revoke" | "keepalive-ignored";

/** A keep-alive waiting for the leader's lessor to be promoted. */
interface PromotionWaiter {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: Timer;
}

/** Lease work a member does on its own behalf or for the leader's lessor. */
export class MemberLeases {
  readonly #h: MemberLeasesHost;
  readonly #ids: LeaseIdGenerator;
  #waiters: PromotionWaiter[] = [];
  #closed = false;
  /** The planted bug `early-revoke`'s scan (null without it). */
  #earlyScan: Timer | null = null;

  constructor(host: MemberLeasesHost) {
    this.#h = host;
    this.#ids = new LeaseIdGenerator(host.id, host.startedAtMs);
    if (host.testOnlyBug === "early-revoke") {
      this.#earlyScan = host.clock.every(100, () => this.#revokeHalfExpired());
    }
  }

  /** The planted bug `early-revoke`: the leader revokes every lease with half its TTL left. */
  #revokeHalfExpired(): void {
    const lessor = this.#h.lessor();
    if (!this.#h.isLeader() || !lessor.isPrimary) return;
    const now = this.#h.clock.now();
    const due = lessor.leases().filter((l) => l.expiry - now < l.ttl * 500);
    if (due.length > 0) this.revokeExpired(due.map((l) => l.id));
  }

  /**
   * Raft changed this member's role. Losing the lead demotes the lessor at once; winning it
   * promotes nothing yet (see `appliedEmptyEntry`).
   */
  leadershipChanged(leader: boolean): void {
    if (leader) return;
    this.#h.lessor().demote();
    this.#settleWaiters(); // they ask the new leader
  }

  /**
   * The member applied an empty entry of `term`: raft's first entry of a leader's term. When
   * it is this leader's own, every entry of the earlier terms is applied, and the lessor
   * becomes the primary (every lease's TTL restarts, plus the election timeout).
   */
  appliedEmptyEntry(term: number): void {
    const h = this.#h;
    if (!h.isLeader() || term !== h.term() || h.lessor().isPrimary) return;
    h.lessor().promote(h.electionTimeoutMs);
    this.#settleWaiters();
  }

  /** The member stops: keep-alives still waiting for a promotion fail. */
  close(): void {
    this.#closed = true;
    this.#earlyScan?.cancel();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      w.timer.cancel();
      w.reject(Errors.stopped());
    }
  }

  /**
   * Resolves once this member's lessor may answer as the leader's: at once on a follower or
   * a promoted leader, else when the leader's promotion comes (or it loses the lead). Fails
   * with etcd's timeout after the request timeout, or when the member stops.
   */
  whenPromoted(): Promise<void> {
    const h = this.#h;
    if (this.#closed) return Promise.reject(Errors.stopped());
    if (!h.isLeader() || h.lessor().isPrimary) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w: PromotionWaiter = {
        resolve,
        reject,
        timer: h.clock.after(h.timeoutMs, () => {
          this.#waiters = this.#waiters.filter((x) => x !== w);
          reject(Errors.timeout());
        }),
      };
      this.#waiters.push(w);
    });
  }

  #settleWaiters(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      w.timer.cancel();
      w.resolve();
    }
  }

  /** The leader's lessor found these leases expired: revoke each through raft. */
  revokeExpired(ids: bigint[]): void {
    for (const id of ids) {
      this.#h.propose({
        kind: RequestKind.LeaseRevoke,
        req: create(LeaseRevokeRequestSchema, { ID: id }),
      }).then(
        () => this.#h.expired?.add(),
        () => {
          // the lessor reports a lease that is still there again after its retry interval
        },
      );
    }
  }

  /** etcd's lease checkpoints: the leader records remaining TTLs through raft. */
  checkpoint(batch: LeaseCheckpoint[]): void {
    const req = create(LeaseCheckpointRequestSchema, {
      checkpoints: batch.map((c) =>
        create(LeaseCheckpointSchema, { ID: c.id, remainingTTL: BigInt(c.remainingTtl) })
      ),
    });
    this.#h.propose({ kind: RequestKind.LeaseCheckpoint, req }).catch(() => {
      // a checkpoint lost to a leader change is taken again by the next leader
    });
  }

  /**
   * Renews lease `id` (etcd's LeaseRenew): the leader's lessor answers, a follower asks the
   * leader. Resolves with the TTL; throws leaseNotFound, or etcd's no leader / timeout.
   */
  async renew(id: bigint): Promise<number> {
    const h = this.#h;
    if (h.testOnlyBug === "keepalive-ignored") {
      // the planted bug: answered from the local lessor, renewed nowhere
      const l = h.lessor().lookup(id);
      if (l === undefined) throw Errors.leaseNotFound();
      return l.ttl;
    }
    if (h.isLeader() && !h.lessor().isPrimary) await this.whenPromoted();
    if (h.isLeader()) return await renewLocal(h.lessor(), id);
    const t = h.transport();
    if (h.leader() === 0n || t === null) throw Errors.noLeader();
    return await renewAtLeader(t, h.leader(), id, h.timeoutMs);
  }

  /**
   * `renew` when it needs no wait: on the leader with a promoted lessor, renews a live lease
   * and returns its TTL; otherwise returns undefined and changes nothing (ask `renew`).
   */
  renewNow(id: bigint): number | undefined {
    const h = this.#h;
    if (h.testOnlyBug === "keepalive-ignored" || !h.isLeader()) return undefined;
    return h.lessor().renewNow(id);
  }

  /** etcd's LeaseTimeToLive: remaining TTL as the leader's lessor counts it. */
  async timeToLive(id: bigint, keys: boolean): Promise<LeaseTimeToLive> {
    const h = this.#h;
    if (h.isLeader()) return h.lessor().timeToLive(id, keys);
    const t = h.transport();
    if (h.leader() === 0n || t === null) throw Errors.noLeader();
    return await timeToLiveAtLeader(t, h.leader(), id, keys, h.timeoutMs);
  }

  /** A fresh lease id not in use (etcd's idutil-style generator). */
  newId(): bigint {
    return this.#ids.next((id) => this.#h.lessor().exists(id));
  }
}
