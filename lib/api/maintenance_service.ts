/** etcd's Maintenance service: routes each call to the server's maintenance façade. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { Maintenance } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { MaintenanceServer } from "../server/maintenance_server.ts";
import { callerOf } from "./request_auth.ts";

/** The Maintenance service implementation for createApiHandler. */
export function maintenanceService(s: MaintenanceServer): Partial<ServiceImpl<typeof Maintenance>> {
  return {
    status: () => s.status(),
    hash: (_req, ctx) => s.hash(callerOf(ctx)),
    hashKV: (req, ctx) => s.hashKV(req, callerOf(ctx)),
    defragment: (_req, ctx) => s.defragment(callerOf(ctx)),
    alarm: (req, ctx) => s.alarm(req, callerOf(ctx)),
    moveLeader: (req, ctx) => s.moveLeader(req, callerOf(ctx)),
    snapshot: (_req, ctx) => s.snapshot(callerOf(ctx), ctx.signal),
  };
}
