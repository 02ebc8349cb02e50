/**
 * The load generator's connections: `--conns` HTTP/2 connections spread over `--endpoints`, and
 * `--clients` clients assigned to them round-robin (etcd's benchmark does the same with its gRPC
 * client connections).
 *
 * `--transport` picks the gRPC client: "h2" (default; bench/loadgen/h2_grpc.ts, our small
 * HTTP/2 client on Deno.connect, the cheapest), "fetch" (unary calls over Deno's fetch with
 * HTTP/2 prior knowledge, bench/loadgen/fetch_grpc.ts; Nagle stalls at low concurrency; streams
 * over connect-node) or "connect" (@connectrpc/connect-node's gRPC transport on node:http2, the
 * most CPU per call).
 *
 * Deno's node:http2 client aborts the process when a server's GOAWAY reaches an open session, so
 * `close()` must run before any server under test stops.
 */
import type { Client } from "@connectrpc/connect";
import type { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  KV,
  Lease,
  type LeaseGrantRequestSchema,
  type LeaseGrantResponse,
  type LeaseKeepAliveRequestSchema,
  type LeaseKeepAliveResponse,
  type LeaseRevokeRequestSchema,
  type LeaseRevokeResponse,
  type PutRequestSchema,
  type PutResponse,
  type RangeRequestSchema,
  type RangeResponse,
  type TxnRequestSchema,
  type TxnResponse,
  Watch,
  type WatchRequestSchema,
  type WatchResponse,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { FetchGrpcConn } from "./fetch_grpc.ts";
import { H2GrpcConn } from "./h2_grpc.ts";
import { RequestQueue } from "./queue.ts";

/** The unary KV calls the workloads make. */
export interface KvCalls {
  put(req: MessageInitShape<typeof PutRequestSchema>): Promise<PutResponse>;
  range(req: MessageInitShape<typeof RangeRequestSchema>): Promise<RangeResponse>;
  txn(req: MessageInitShape<typeof TxnRequestSchema>): Promise<TxnResponse>;
}

/** A bidirectional stream: send requests, read answers (undefined at the end), close. */
export interface BidiStream<Req, Res> {
  send(req: Req): void;
  next(): Promise<Res | undefined>;
  close(): Promise<void>;
}

/** The lease calls the workloads make. */
export interface LeaseCalls {
  grant(req: MessageInitShape<typeof LeaseGrantRequestSchema>): Promise<LeaseGrantResponse>;
  revoke(req: MessageInitShape<typeof LeaseRevokeRequestSchema>): Promise<LeaseRevokeResponse>;
  keepAlive(): Promise<
    BidiStream<MessageInitShape<typeof LeaseKeepAliveRequestSchema>, LeaseKeepAliveResponse>
  >;
}

/** The services one benchmark client uses, all over one connection. */
export interface EtcdClient {
  kv: KvCalls;
  lease: LeaseCalls;
  watch(): Promise<BidiStream<MessageInitShape<typeof WatchRequestSchema>, WatchResponse>>;
}

/** Which gRPC client the generator uses. */
export type ClientTransport = "h2" | "fetch" | "connect";

/** A set of connections and the clients that share them. */
export interface ConnPool {
  clients: EtcdClient[];
  /** Opens every connection (one Range each) so the run does not time connection setup. */
  warm(): Promise<void>;
  /**
   * Client c's connection, for the fast loops (bench/loadgen/fast_loop.ts, watch_feed.ts);
   * undefined unless the transport is h2.
   */
  h2Conns(): Promise<H2GrpcConn[]> | undefined;
  /** Closes every connection. */
  close(): Promise<void>;
}

/** Normalizes an endpoint (`host:port` or URL) into a base URL. */
export function endpointUrl(ep: string): string {
  return /^https?:\/\//.test(ep) ? ep.replace(/\/+$/, "") : `http://${ep}`;
}

/** A connect-node bidi call as a BidiStream. */
function connectStream<Req, Res>(
  open: (reqs: AsyncIterable<Req>, signal: AbortSignal) => AsyncIterable<Res>,
): BidiStream<Req, Res> {
  const queue = new RequestQueue<Req>();
  const ac = new AbortController();
  const recv = open(queue, ac.signal)[Symbol.asyncIterator]();
  return {
    send: (req) => queue.push(req),
    next: async () => {
      const r = await recv.next();
      return r.done ? undefined : r.value;
    },
    async close() {
      queue.close();
      ac.abort();
      await recv.return?.().catch(() => undefined);
    },
  };
}

/** @connectrpc's modules, loaded only for the fetch and connect transports (~0.2 s of CPU). */
type ConnectModules = [
  typeof import("@connectrpc/connect"),
  typeof import("@connectrpc/connect-node"),
];

function connectClient(
  { createClient }: ConnectModules[0],
  transport: ReturnType<typeof createGrpcTransport>,
): EtcdClient {
  const kv: Client<typeof KV> = createClient(KV, transport);
  const lease = createClient(Lease, transport);
  const watch = createClient(Watch, transport);
  return {
    kv,
    lease: {
      grant: (req) => lease.leaseGrant(req),
      revoke: (req) => lease.leaseRevoke(req),
      keepAlive: async () =>
        connectStream((reqs, signal) => lease.leaseKeepAlive(reqs, { signal })),
    },
    watch: async () => connectStream((reqs, signal) => watch.watch(reqs, { signal })),
  };
}

function h2Client(conn: Promise<H2GrpcConn>): EtcdClient {
  const stream = <Req, Res>(
    open: (c: H2GrpcConn) => Promise<
      { send(r: Req): Promise<void>; next(): Promise<Res | undefined>; cancel(): void }
    >,
  ) =>
  async (): Promise<BidiStream<Req, Res>> => {
    const s = await open(await conn);
    return {
      // A failed send surfaces through next() (the stream or connection ends with the error).
      send: (req) => void s.send(req).catch(() => undefined),
      next: () => s.next(),
      close: async () => s.cancel(),
    };
  };
  return {
    kv: {
      put: async (req) => (await conn).unary(KV.method.put, req),
      range: async (req) => (await conn).unary(KV.method.range, req),
      txn: async (req) => (await conn).unary(KV.method.txn, req),
    },
    lease: {
      grant: async (req) => (await conn).unary(Lease.method.leaseGrant, req),
      revoke: async (req) => (await conn).unary(Lease.method.leaseRevoke, req),
      keepAlive: stream((c) => c.stream(Lease.method.leaseKeepAlive)),
    },
    watch: stream((c) => c.stream(Watch.method.watch)),
  };
}

/** Opens `conns` connections round-robin over `endpoints` and builds `clients` clients on them. */
export async function openPool(
  endpoints: string[],
  conns: number,
  clients: number,
  kind: ClientTransport = "h2",
): Promise<ConnPool> {
  if (endpoints.length === 0) throw new RangeError("--endpoints is empty");
  if (!(conns >= 1) || !(clients >= 1)) throw new RangeError("--conns and --clients must be >= 1");
  const connect: ConnectModules | undefined = kind === "h2"
    ? undefined
    : await Promise.all([import("@connectrpc/connect"), import("@connectrpc/connect-node")]);
  const managers: Http2SessionManager[] = [];
  const fetchConns: FetchGrpcConn[] = [];
  const h2Conns: Promise<H2GrpcConn>[] = [];
  const perConn: EtcdClient[] = [];
  for (let i = 0; i < conns; i++) {
    const url = endpointUrl(endpoints[i % endpoints.length]);
    if (kind === "h2") {
      const conn = H2GrpcConn.connect(url);
      conn.catch(() => undefined); // surfaced by the first call (warm)
      h2Conns.push(conn);
      perConn.push(h2Client(conn));
      continue;
    }
    // Sessions of connect-node open on first use.
    const [connectMod, node] = connect!;
    const sessionManager = new node.Http2SessionManager(url);
    managers.push(sessionManager);
    const client = connectClient(
      connectMod,
      node.createGrpcTransport({ baseUrl: url, sessionManager }),
    );
    if (kind === "fetch") {
      const conn = new FetchGrpcConn(url);
      fetchConns.push(conn);
      client.kv = {
        put: (req) => conn.unary(KV.method.put, req),
        range: (req) => conn.unary(KV.method.range, req),
        txn: (req) => conn.unary(KV.method.txn, req),
      };
    }
    perConn.push(client);
  }
  const all: EtcdClient[] = [];
  for (let i = 0; i < clients; i++) all.push(perConn[i % conns]);
  return {
    clients: all,
    h2Conns: () =>
      kind === "h2"
        ? Promise.all(Array.from({ length: clients }, (_, i) => h2Conns[i % conns]))
        : undefined,
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
