/**
 * A member with fast raft timing (so the 1 s minimum lease TTL holds) served in-process, and
 * gRPC clients on it: what the v3lock and v3election tests share.
 */
import { createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { Auth, KV, Lease } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { KeyValue } from "../../proto/gen/mvccpb/kv_pb.ts";
import { Permission_Type } from "../../proto/gen/authpb/auth_pb.ts";
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
  /**
   * Enables auth with `root` (password rootpw) and a user `u` (password upw) whose role may
   * read and write the keys under `ok/`; returns both users' tokens.
   */
  enableAuth(): Promise<{ root: string; u: string }>;
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
  const auth = createClient(Auth, transport);
  return {
    s,
    transport,
    kv,
    lease: createClient(Lease, transport),
    auth,
    async under(prefix, token) {
      const r = await kv.range(
        { key: enc(prefix), rangeEnd: enc(prefix.slice(0, -1) + "0") },
        token ? { headers: { token } } : undefined,
      );
      return r.kvs;
    },
    async enableAuth() {
      await auth.userAdd({ name: "root", password: "rootpw" });
      await auth.userGrantRole({ user: "root", role: "root" });
      await auth.roleAdd({ name: "ok-writer" });
      await auth.roleGrantPermission({
        name: "ok-writer",
        perm: { permType: Permission_Type.READWRITE, key: enc("ok/"), rangeEnd: enc("ok0") },
      });
      await auth.userAdd({ name: "u", password: "upw" });
      await auth.userGrantRole({ user: "u", role: "ok-writer" });
      await auth.authEnable({});
      return {
        root: (await auth.authenticate({ name: "root", password: "rootpw" })).token,
        u: (await auth.authenticate({ name: "u", password: "upw" })).token,
      };
    },
    async close() {
      sm.abort();
      await s.close();
    },
  };
}
