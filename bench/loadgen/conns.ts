/**
 * The load generator's connections: `--conns` HTTP/2 connections spread over `--endpoints`, and
 * `--clients` clients assigned to them round-robin (etcd's benchmark does the same with its gRPC
 * client connections).
 *
 * Unary KV calls go over `--transport`: "h2" (default; bench/loadgen/h2_grpc.ts, our small
 * HTTP/2 client on Deno.connect, the cheapest), "fetch" (bench/loadgen/fetch_grpc.ts, Deno's
 * fetch with HTTP/2 prior knowledge; Nagle stalls at low concurrency) or "connect"
 * (@connectrpc/connect-node's gRPC transport on node:http2, the most CPU per call). Streams (watch, lease keep-alive) always use connect-node, on
 * sessions that open only when a stream is first used.
 *
 * Deno's node:http2 client aborts the process when a server's GOAWAY reaches an open session, so
 * `close()` must run before any server under test stops.
 */
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  KV,
  Lease,
  type PutRequestSchema,
  type PutResponse,
  type RangeRequestSchema,
  type RangeResponse,
  type TxnRequestSchema,
  type TxnResponse,
  Watch,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { FetchGrpcConn } from "./fetch_grpc.ts";
import { H2GrpcConn } from "./h2_grpc.ts";

/** The unary KV calls the workloads make; both transports provide them. */
export interface KvCalls {
  put(req: MessageInitShape<typeof PutRequestSchema>): Promise<PutResponse>;
  range(req: MessageInitShape<typeof RangeRequestSchema>): Promise<RangeResponse>;
  txn(req: MessageInitShape<typeof TxnRequestSchema>): Promise<TxnResponse>;
}

/** The services one benchmark client uses, all over one connection. */
export interface EtcdClient {
  kv: KvCalls;
  lease: Client<typeof Lease>;
  watch: Client<typeof Watch>;
}

/** Which client carries the unary KV calls. */
export type UnaryTransport = "h2" | "fetch" | "connect";

/** A set of connections and the clients that share them. */
export interface ConnPool {
  clients: EtcdClient[];
  /** Opens every KV connection (one Range each) so the run does not time connection setup. */
  warm(): Promise<void>;
  /** Closes every connection. */
  close(): Promise<void>;
}

/** Normalizes an endpoint (`host:port` or URL) into a base URL. */
export function endpointUrl(ep: string): string {
  return /^https?:\/\//.test(ep) ? ep.replace(/\/+$/, "") : `http://${ep}`;
}

/** Opens `conns` connections round-robin over `endpoints` and builds `clients` clients on them. */
export function openPool(
  endpoints: string[],
  conns: number,
  clients: number,
  unary: UnaryTransport = "h2",
): ConnPool {
  if (endpoints.length === 0) throw new RangeError("--endpoints is empty");
  if (!(conns >= 1) || !(clients >= 1)) throw new RangeError("--conns and --clients must be >= 1");
  const managers: Http2SessionManager[] = [];
  const fetchConns: FetchGrpcConn[] = [];
  const h2Conns: Promise<H2GrpcConn>[] = [];
  const perConn: EtcdClient[] = [];
  for (let i = 0; i < conns; i++) {
    const url = endpointUrl(endpoints[i % endpoints.length]);
    const sessionManager = new Http2SessionManager(url);
    managers.push(sessionManager);
    const transport = createGrpcTransport({ baseUrl: url, sessionManager });
    let kv: KvCalls;
    if (unary === "h2") {
      const conn = H2GrpcConn.connect(url);
      conn.catch(() => undefined); // surfaced by the first call (warm)
      h2Conns.push(conn);
      kv = {
        put: async (req) => (await conn).unary(KV.method.put, req),
        range: async (req) => (await conn).unary(KV.method.range, req),
        txn: async (req) => (await conn).unary(KV.method.txn, req),
      };
    } else if (unary === "fetch") {
      const conn = new FetchGrpcConn(url);
      fetchConns.push(conn);
      kv = {
        put: (req) => conn.unary(KV.method.put, req),
        range: (req) => conn.unary(KV.method.range, req),
        txn: (req) => conn.unary(KV.method.txn, req),
      };
    } else {
      kv = createClient(KV, transport);
    }
    perConn.push({
      kv,
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
    async close() {
      for (const m of managers) m.abort();
      for (const c of fetchConns) c.close();
      const opened = await Promise.allSettled(h2Conns);
      await Promise.all(opened.map((o) => o.status === "fulfilled" ? o.value.close() : undefined));
    },
  };
}
