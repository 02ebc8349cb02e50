/**
 * Concord's etcd v3 client: typed, failover-aware, for Deno and browsers.
 *
 * @example
 * ```ts
 * import { Client, cmp, op } from "./mod.ts";
 * const client = new Client({ endpoints: Deno.env.get("ETCDCTL_ENDPOINTS")?.split(",") ?? "127.0.0.1:2379" });
 * const r = await client.txn()
 *   .if(cmp.version("config", "=", 0))
 *   .then(op.put("config", "v1"))
 *   .else(op.get("config"))
 *   .commit();
 * console.log(r.succeeded);
 * await client.close();
 * ```
 * @module
 */
import { Client } from "./client.ts";
import { grpcTransport } from "./grpc_transport.ts";

export * from "./api.ts";
export { grpcTransport, type GrpcTransportOptions } from "./grpc_transport.ts";
export type { H2ClientTls } from "../http/h2_client.ts";

// in Deno, clients speak gRPC over Concord's own HTTP/2 client unless told otherwise
Client.defaultTransport = grpcTransport();
