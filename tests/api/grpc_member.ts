/**
 * A member with fast raft timing (so the 1 s minimum lease TTL holds) served in-process, and
 * gRPC clients on it: what the v3lock and v3election tests share.
 */
import { createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { Auth, KV, Lease } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { KeyValue } from "../../proto/gen/mvccpb/kv_pb.ts";
import { startTestServer, type TestServer } from "../server/harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** The member, a transport to it and the KV, Lease and Auth clients. */
export interface GrpcMember {
  s: TestServer;
  transport: Transport;
  kv: ReturnType<typeof createClient<typeof KV>>;
  lease: ReturnType<typeof createClient<typeof Lease>>;
  auth: ReturnType<typeof createClient<typeof Auth>>;
  /** The key-values under `prefix` (ending in "/"), in key order, optionally as a user. */
  under(prefix: string, token?: string): Promise<KeyValue[]>;
  /** Closes the clients' session, then the member. */
  close(): Promise<void>;
}

/** Starts a member and its gRPC clients. */
export async function startGrpcMember(): Promise<GrpcMember> {
  const s = await startTestServer((c) => {
    c.heartbeatIntervalMs = 10;
    c.electionTimeoutMs = 100;
  });
  // closed before the server: Deno's node:http2 client must not see the server's GOAWAY
  const sm = new Http2SessionManager(s.url);
  const transport = createGrpcTransport({ baseUrl: s.url, sessionManager: sm });
  const kv = createClient(KV, transport);
  return {
    s,
    transport,
    kv,
    lease: createClient(Lease, transport),
    auth: createClient(Auth, transport),
    async under(prefix, token) {
      const r = await kv.range(
        { key: enc(prefix), rangeEnd: enc(prefix.slice(0, -1) + "0") },
        token ? { headers: { token } } : undefined,
      );
      return r.kvs;
    },
    async close() {
      sm.abort();
      await s.close();
    },
  };
}
