/**
 * A member's side of leases that is not a request from a client: the leader's lessor asks
 * through raft to revoke the leases that expired and to checkpoint remaining TTLs (etcd's
 * lease checkpoints), and keep-alives and time-to-live are answered by the leader's lessor,
 * which a follower asks over the peer transport (lease_calls.ts).
 */
import { create } from "@bufbuild/protobuf";
import { Errors } from "../base/errors.ts";
import type { MemberId } from "../base/types.ts";
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
  lessor(): Lessor;
  isLeader(): boolean;
  leader(): MemberId;
  transport(): Transport | null;
  propose(p: Proposal): Promise<unknown>;
  /** etcd_debugging_server_lease_expired_total. */
  expired?: CountSink;
}

/** Lease work a member does on its own behalf or for the leader's lessor. */
export class MemberLeases {
  readonly #h: MemberLeasesHost;
  readonly #ids: LeaseIdGenerator;

  constructor(host: MemberLeasesHost) {
    this.#h = host;
    this.#ids = new LeaseIdGenerator(host.id, host.startedAtMs);
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
  renew(id: bigint): Promise<number> {
    const h = this.#h;
    if (h.isLeader()) return renewLocal(h.lessor(), id);
    const t = h.transport();
    if (h.leader() === 0n || t === null) return Promise.reject(Errors.noLeader());
    return renewAtLeader(t, h.leader(), id, h.timeoutMs);
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
