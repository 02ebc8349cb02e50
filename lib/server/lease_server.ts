/**
 * The Lease part of the server façade: grants and revokes go through raft; keep-alives and
 * time-to-live are answered by the leader's lessor (a follower asks the leader); the lease
 * list reads local state after a ReadIndex round.
 */
import { create } from "@bufbuild/protobuf";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Errors } from "../base/errors.ts";
import { MAX_LEASE_TTL } from "../lease/lessor.ts";
import type { Member } from "./member.ts";
import { RequestKind } from "./request.ts";
import { LEASE_OVERHEAD } from "./quota.ts";
import { checkRevokeAuth, requestAuth } from "./auth_check.ts";
import { type Caller, resolveCaller } from "./caller.ts";

/** etcd's Lease calls over one member. */
export class LeaseServer {
  readonly #m: Member;

  constructor(m: Member) {
    this.#m = m;
  }

  /** LeaseGrant: an id is chosen here when the request leaves it 0. */
  async grant(req: pb.LeaseGrantRequest, caller: Caller): Promise<pb.LeaseGrantResponse> {
    const m = this.#m;
    // etcd's order: the quota interceptor, the caller's token (resolved for every
    // proposal), then the lessor's TTL bound (at apply in etcd; nothing is written either way)
    await m.checkQuota(LEASE_OVERHEAD);
    await resolveCaller(m, caller);
    if (req.TTL > BigInt(MAX_LEASE_TTL)) throw Errors.leaseTTLTooLarge();
    const id = req.ID === 0n ? m.newLeaseId() : req.ID;
    const a = await m.propose({
      kind: RequestKind.LeaseGrant,
      req: create(pb.LeaseGrantRequestSchema, { ID: id, TTL: req.TTL }),
    });
    return create(pb.LeaseGrantResponseSchema, {
      header: m.header(a.revision),
      ID: a.id,
      TTL: BigInt(a.ttl),
    });
  }

  /** LeaseRevoke: deletes the attached keys, so it needs write permission on each. */
  async revoke(req: pb.LeaseRevokeRequest, caller: Caller): Promise<pb.LeaseRevokeResponse> {
    const m = this.#m;
    const info = await resolveCaller(m, caller);
    // checked here and again at apply
    if (m.auth.enabled) checkRevokeAuth(m, info, req.ID);
    const a = await m.propose({ kind: RequestKind.LeaseRevoke, req }, requestAuth(info));
    return create(pb.LeaseRevokeResponseSchema, { header: m.header(a.revision) });
  }

  /** One keep-alive of a LeaseKeepAlive stream; an unknown lease is answered with TTL 0. */
  async keepAlive(req: pb.LeaseKeepAliveRequest): Promise<pb.LeaseKeepAliveResponse> {
    const ttl = this.keepAliveNow(req.ID) ?? await this.keepAliveTtl(req.ID);
    return create(pb.LeaseKeepAliveResponseSchema, {
      header: this.#m.header(),
      ID: req.ID,
      TTL: BigInt(ttl),
    });
  }

  /**
   * A keep-alive the leader's lessor answers at once (a live lease): renews it and returns
   * its TTL; undefined when it needs `keepAliveTtl` (a follower, an unknown or expired lease,
   * a leader not promoted yet), with nothing done. Spares a stream's keep-alive its promises.
   */
  keepAliveNow(id: bigint): number | undefined {
    return this.#m.leaseRenewNow(id);
  }

  /** The TTL a keep-alive of lease `id` answers: 0 for an unknown lease, as etcd. */
  async keepAliveTtl(id: bigint): Promise<number> {
    try {
      return await this.#m.leaseRenew(id);
    } catch (err) {
      if (!Errors.leaseNotFound.is(err)) throw err;
      return 0; // as etcd
    }
  }

  /** The member's cluster id (the response header's first field). */
  get clusterId(): bigint {
    return this.#m.clusterId;
  }

  /** The member's id (the response header's second field). */
  get memberId(): bigint {
    return this.#m.id;
  }

  /** The revision a response header carries now. */
  revision(): number {
    return this.#m.store.rev();
  }

  /** The raft term a response header carries now. */
  term(): number {
    return this.#m.term;
  }

  /**
   * LeaseTimeToLive: the keys only for a user who may read them all (etcd 3.4.26's fix of
   * CVE-2023-32082); an unknown lease is answered with TTL -1, as etcd's v3rpc does.
   */
  async timeToLive(
    req: pb.LeaseTimeToLiveRequest,
    caller: Caller,
  ): Promise<pb.LeaseTimeToLiveResponse> {
    const m = this.#m;
    const authRevision = req.keys ? await this.#checkLeaseKeys(caller, req.ID) : 0;
    await m.linearizableRead();
    try {
      const t = await m.leaseTimeToLive(req.ID, req.keys);
      if (req.keys && m.auth.enabled && m.auth.revision !== authRevision) {
        throw Errors.authOldRevision();
      }
      return create(pb.LeaseTimeToLiveResponseSchema, {
        header: m.header(),
        ID: t.id,
        TTL: BigInt(t.ttl),
        grantedTTL: BigInt(t.grantedTtl),
        keys: t.keys,
      });
    } catch (err) {
      if (!Errors.leaseNotFound.is(err)) throw err;
      return create(pb.LeaseTimeToLiveResponseSchema, { header: m.header(), ID: req.ID, TTL: -1n });
    }
  }

  /** LeaseLeases: every lease id, after a ReadIndex round. */
  async leases(): Promise<pb.LeaseLeasesResponse> {
    const m = this.#m;
    await m.linearizableRead();
    return create(pb.LeaseLeasesResponseSchema, {
      header: m.header(),
      leases: m.lessor.leases().map((l) => create(pb.LeaseStatusSchema, { ID: l.id })),
    });
  }

  /**
   * etcd 3.4.26's check before a LeaseTimeToLive that lists keys: with auth enabled, the
   * caller must be a user who may read every key attached to the lease. Returns the auth
   * revision the check saw; the caller refuses its answer if auth changed meanwhile.
   */
  async #checkLeaseKeys(caller: Caller, id: bigint): Promise<number> {
    const m = this.#m;
    const revision = m.auth.revision;
    if (!m.auth.enabled) return revision;
    const info = await resolveCaller(m, caller);
    if (info === undefined) throw Errors.userEmpty();
    if (m.lessor.exists(id)) {
      const none = new Uint8Array(0);
      for (const key of m.lessor.timeToLive(id, true).keys) m.auth.checkRange(info, key, none);
    }
    return revision;
  }
}
