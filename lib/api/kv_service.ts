/**
 * etcd's KV service: routes each call to the server's KV façade with the caller's
 * credentials; the server decides what the call means.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { KV } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { KvServer } from "../server/kv_server.ts";
import { callerOf } from "./request_auth.ts";

/** The KV service implementation for createApiHandler. */
export function kvService(s: KvServer): Partial<ServiceImpl<typeof KV>> {
  return {
    range: (req, ctx) => s.range(req, callerOf(ctx)),
    put: (req, ctx) => s.put(req, callerOf(ctx)),
    deleteRange: (req, ctx) => s.deleteRange(req, callerOf(ctx)),
    txn: (req, ctx) => s.txn(req, callerOf(ctx)),
    compact: (req, ctx) => s.compact(req, callerOf(ctx)),
    rangeStream: (req, ctx) => s.rangeStream(req, callerOf(ctx), ctx.signal),
  };
}
