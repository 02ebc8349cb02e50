/**
 * etcd's Lease service over a member: grants and revokes go through raft; keep-alives are
 * answered by the leader's lessor; time-to-live and the lease list read local state.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Lease } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Errors, EtcdError } from "../base/errors.ts";
import { MAX_LEASE_TTL } from "../lease/lessor.ts";
import type { Member } from "../server/member.ts";
import { RequestKind } from "../server/request.ts";
import { LEASE_OVERHEAD } from "../server/quota.ts";
import { authInfo, checkLeaseKeys } from "./request_auth.ts";
import { checkRevokeAuth, requestAuth } from "../server/auth_check.ts";

function isLeaseNotFound(err: unknown): boolean {
  return err instanceof EtcdError && err.message === Errors.leaseNotFound().message;
}

/** The Lease service implementation for createApiHandler. */
export function leaseService(m: Member): Partial<ServiceImpl<typeof Lease>> {
  return {
    async leaseGrant(req, ctx) {
      // etcd's order: the quota interceptor, the caller's token (resolved for every
      // proposal), then the lessor's TTL bound (at apply in etcd; nothing is written either way)
      await m.checkQuota(LEASE_OVERHEAD);
      await authInfo(m, ctx);
      if (req.TTL > BigInt(MAX_LEASE_TTL)) throw Errors.leaseTTLTooLarge();
      const id = req.ID === 0n ? m.newLeaseId() : req.ID;
      const a = await m.propose({
        kind: RequestKind.LeaseGrant,
        req: create(pb.LeaseGrantRequestSchema, { ID: id, TTL: req.TTL }),
      });
      if (a.kind !== "grant") throw new Error(`grant applied as ${a.kind}`);
      return create(pb.LeaseGrantResponseSchema, {
        header: m.header(a.revision),
        ID: a.id,
        TTL: BigInt(a.ttl),
      });
    },
    async leaseRevoke(req, ctx) {
      const info = await authInfo(m, ctx);
      // etcd: revoking deletes the attached keys, so it needs write permission on each
      // (checked here and again at apply)
      if (m.auth.enabled) checkRevokeAuth(m, info, req.ID);
      const a = await m.propose({ kind: RequestKind.LeaseRevoke, req }, requestAuth(info));
      if (a.kind !== "revision") throw new Error(`revoke applied as ${a.kind}`);
      return create(pb.LeaseRevokeResponseSchema, { header: m.header(a.revision) });
    },
    async *leaseKeepAlive(requests) {
      for await (const req of requests) {
        let ttl: number;
        try {
          ttl = await m.leaseRenew(req.ID);
        } catch (err) {
          if (!isLeaseNotFound(err)) throw err;
          ttl = 0; // etcd answers an unknown lease with TTL 0
        }
        yield create(pb.LeaseKeepAliveResponseSchema, {
          header: m.header(),
          ID: req.ID,
          TTL: BigInt(ttl),
        });
      }
    },
    async leaseTimeToLive(req, ctx) {
      // the keys only for a user who may read them all (etcd 3.4.26, CVE-2023-32082)
      const authRevision = req.keys ? await checkLeaseKeys(m, ctx, req.ID) : 0;
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
        if (!isLeaseNotFound(err)) throw err;
        // etcd's v3rpc answers an unknown lease with TTL -1 rather than an error
        return create(pb.LeaseTimeToLiveResponseSchema, {
          header: m.header(),
          ID: req.ID,
          TTL: -1n,
        });
      }
    },
    async leaseLeases() {
      await m.linearizableRead();
      return create(pb.LeaseLeasesResponseSchema, {
        header: m.header(),
        leases: m.lessor.leases().map((l) => create(pb.LeaseStatusSchema, { ID: l.id })),
      });
    },
  };
}
