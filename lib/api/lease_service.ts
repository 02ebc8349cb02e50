/**
 * etcd's Lease service: routes each call to the server's lease façade; a keep-alive stream
 * is answered one request at a time.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { Lease } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { LeaseServer } from "../server/lease_server.ts";
import { callerOf } from "./request_auth.ts";

/** The Lease service implementation for createApiHandler. */
export function leaseService(s: LeaseServer): Partial<ServiceImpl<typeof Lease>> {
  return {
    leaseGrant: (req, ctx) => s.grant(req, callerOf(ctx)),
    leaseRevoke: (req, ctx) => s.revoke(req, callerOf(ctx)),
    async *leaseKeepAlive(requests) {
      for await (const req of requests) yield await s.keepAlive(req);
    },
    leaseTimeToLive: (req, ctx) => s.timeToLive(req, callerOf(ctx)),
    leaseLeases: () => s.leases(),
  };
}
