/**
 * The load generator's connections: `--conns` HTTP/2 sessions spread over `--endpoints`, each its
 * own gRPC transport, and `--clients` clients assigned to them round-robin (etcd's benchmark does
 * the same with its gRPC client connections).
 *
 * Deno's node:http2 client aborts the process when a server's GOAWAY reaches an open session, so
 * `close()` must run before any server under test stops.
 */
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { KV, Lease, Watch } from "../../proto/gen/etcdserverpb/rpc_pb.ts";

/** The services one benchmark client uses, all over one connection. */
export interface EtcdClient {
  kv: Client<typeof KV>;
  lease: Client<typeof Lease>;
  watch: Client<typeof Watch>;
}

/** A set of connections and the clients that share them. */
export interface ConnPool {
  clients: EtcdClient[];
  /** Opens every connection (one Range each) so the run does not time connection setup. */
  warm(): Promise<void>;
  /** Aborts every HTTP/2 session. */
  close(): void;
}

/** Normalizes an endpoint (`host:port` or URL) into a base URL. */
export function endpointUrl(ep: string): string {
  return /^https?:\/\//.test(ep) ? ep.replace(/\/+$/, "") : `http://${ep}`;
}

/** Opens `conns` sessions round-robin over `endpoints` and builds `clients` clients on them. */
export function openPool(endpoints: string[], conns: number, clients: number): ConnPool {
  if (endpoints.length === 0) throw new RangeError("--endpoints is empty");
  if (!(conns >= 1) || !(clients >= 1)) throw new RangeError("--conns and --clients must be >= 1");
  const managers: Http2SessionManager[] = [];
  const perConn: EtcdClient[] = [];
  for (let i = 0; i < conns; i++) {
    const url = endpointUrl(endpoints[i % endpoints.length]);
    const sessionManager = new Http2SessionManager(url);
    managers.push(sessionManager);
    const transport = createGrpcTransport({ baseUrl: url, sessionManager });
    perConn.push({
      kv: createClient(KV, transport),
      lease: createClient(Lease, transport),
      watch: createClient(Watch, transport),
    });
  }
  const all: EtcdClient[] = [];
  for (let i = 0; i < clients; i++) all.push(perConn[i % conns]);
  return {
    clients: all,
    async warm() {
      await Promise.all(perConn.map((c) => c.kv.range({ key: new Uint8Array([0]), limit: 1n })));
    },
    close() {
      for (const m of managers) m.abort();
    },
  };
}
