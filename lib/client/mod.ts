/**
 * Concord's etcd v3 client: typed, failover-aware, for Deno and browsers; it talks to
 * Concord and to etcd alike.
 *
 * - `new Client({ endpoints })` holds connections to the members and the namespaces of
 *   etcd's API: `kv`, `watch`, `lease`, `cluster`, `maintenance`, `auth`, `lock`, `election`.
 * - Calls go to the members round-robin. A member that is unavailable, has lost its leader
 *   or stops answering is passed over for a while; reads are retried on the next member,
 *   writes only when the client can tell they were not applied (never sent, or refused with
 *   "no leader"), so a write is never applied twice by the client.
 * - Every call takes `timeoutMs` and `signal`; errors are `EtcdError`s with etcd's gRPC code
 *   and message (`Errors.compacted.is(err)`); a missing key is not an error.
 * - With `username`/`password` the client fetches a token and fetches a new one when the
 *   server says it is invalid or stale; `autoSyncIntervalMs` follows the member list.
 * - Watches resume on another member at the next revision, without losing or repeating an
 *   event, and report compaction (`WatchCompactedError`); `lease.keepAlive` renews until
 *   cancelled; `Session`, `Mutex`, `Election`, `runStm` and `Namespace` are clientv3's
 *   concurrency recipes.
 * - In Deno the transport is gRPC over Concord's own HTTP/2 client (`grpcTransport`, TLS and
 *   keep-alive pings included); `browser.ts` is the same client for browsers, over gRPC-web.
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
