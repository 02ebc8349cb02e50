/**
 * etcd's Lease service: routes each call to the server's lease façade; a keep-alive stream
 * is answered one request at a time, in order. Over the direct gRPC path the answers are
 * encoded by hand (lease_keepalive_codec.ts) and a keep-alive the leader's lessor can answer
 * at once is answered without a promise of its own (docs/perf.md, "Lease keep-alive, sixth
 * session").
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { Lease, LeaseKeepAliveResponse } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { LeaseServer } from "../server/lease_server.ts";
import { acceptsEncoded, asResponse } from "./encoded_messages.ts";
import { keepAliveHeaderPrefix, KeepAliveResponses } from "./lease_keepalive_codec.ts";
import { callerOf } from "./request_auth.ts";

/** The Lease service implementation for createApiHandler. */
export function leaseService(s: LeaseServer): Partial<ServiceImpl<typeof Lease>> {
  let prefix: Uint8Array | undefined;
  return {
    leaseGrant: (req, ctx) => s.grant(req, callerOf(ctx)),
    leaseRevoke: (req, ctx) => s.revoke(req, callerOf(ctx)),
    async *leaseKeepAlive(requests, ctx) {
      if (!acceptsEncoded(ctx)) {
        for await (const req of requests) yield await s.keepAlive(req);
        return;
      }
      prefix ??= keepAliveHeaderPrefix(s.clusterId, s.memberId);
      const out = new KeepAliveResponses(prefix);
      for await (const req of requests) {
        const id = req.ID;
        const ttl = s.keepAliveNow(id) ?? await s.keepAliveTtl(id);
        yield asResponse<LeaseKeepAliveResponse>(out.encode(s.revision(), s.term(), id, ttl));
      }
    },
    leaseTimeToLive: (req, ctx) => s.timeToLive(req, callerOf(ctx)),
    leaseLeases: () => s.leases(),
  };
}
