/**
 * Differential compatibility of token intake over gRPC and of refused watches: the same calls
 * go to a fresh etcd 3.4 and a fresh Concord. etcd resolves a token a request carries even
 * with auth disabled (AuthInfoFromCtx), so an unresolvable one is "invalid auth token"; a
 * refused watch is created and canceled at once, id -1, with the gRPC status text as reason,
 * which etcdctl prints as `watch was canceled (<reason>)`.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Auth, KV, Lease, Maintenance, Watch } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Lock } from "../../proto/gen/v3lockpb/v3lock_pb.ts";
import { startEtcd } from "../support/etcd.ts";
import { etcdctl, startTestServer } from "../server/harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** The first answer of a watch stream that asks for `key` (the client keeps its side open). */
async function firstWatch(
  client: ReturnType<typeof createClient<typeof Watch>>,
  key: string,
  headers: Record<string, string>,
): Promise<string> {
  const ac = new AbortController();
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  async function* requests(): AsyncIterable<pb.WatchRequest> {
    yield create(pb.WatchRequestSchema, {
      requestUnion: {
        case: "createRequest",
        value: create(pb.WatchCreateRequestSchema, { key: enc(key), watchId: 4n }),
      },
    });
    await held;
  }
  const it = client.watch(requests(), { headers, signal: ac.signal })[Symbol.asyncIterator]();
  try {
    const r = (await it.next()).value as pb.WatchResponse;
    return `watch ${key}: id=${r.watchId} created=${r.created} canceled=${r.canceled} ` +
      `reason=${JSON.stringify(r.cancelReason)} rev=${r.header?.revision}`;
  } finally {
    release();
    ac.abort();
    await it.return?.().catch(() => {});
  }
}

/** The script against one server over gRPC: one line per call. */
async function grpcScript(url: string): Promise<string[]> {
  const out: string[] = [];
  const sm = new Http2SessionManager(url);
  const t = createGrpcTransport({ baseUrl: url, sessionManager: sm });
  const kv = createClient(KV, t);
  const lease = createClient(Lease, t);
  const auth = createClient(Auth, t);
  const maint = createClient(Maintenance, t);
  const lock = createClient(Lock, t);
  const watch = createClient(Watch, t);
  const log = async (what: string, call: () => Promise<unknown>) => {
    try {
      await call();
      out.push(`${what}: ok`);
    } catch (err) {
      const e = ConnectError.from(err);
      out.push(`${what}: error ${e.code} ${e.rawMessage}`);
    }
  };
  const bogus = { headers: { token: "bogus" } };
  const bogusAuthz = { headers: { authorization: "bogus" } };
  try {
    // auth disabled
    await log("put (no token)", () => kv.put({ key: enc("a"), value: enc("1") }));
    await log("range bogus", () => kv.range({ key: enc("a") }, bogus));
    await log("range bogus (authorization)", () => kv.range({ key: enc("a") }, bogusAuthz));
    await log("put bogus", () => kv.put({ key: enc("a"), value: enc("2") }, bogus));
    await log("delete bogus", () => kv.deleteRange({ key: enc("a") }, bogus));
    await log("txn bogus", () => kv.txn({}, bogus));
    await log("compact bogus", () => kv.compact({ revision: 1n }, bogus));
    await log("lease grant bogus", () => lease.leaseGrant({ ID: 5n, TTL: 60n }, bogus));
    // the token is checked before the TTL bound (9,000,000,000 s is etcd's MaxLeaseTTL)
    await log(
      "lease grant bogus, TTL too large",
      () => lease.leaseGrant({ ID: 6n, TTL: 9_000_000_001n }, bogus),
    );
    await log("lease grant TTL too large", () => lease.leaseGrant({ ID: 6n, TTL: 9_000_000_001n }));
    await log("lease revoke bogus", () => lease.leaseRevoke({ ID: 5n }, bogus));
    await log("lease ttl bogus", () => lease.leaseTimeToLive({ ID: 5n }, bogus));
    await log("status bogus", () => maint.status({}, bogus));
    await log("move leader bogus", () => maint.moveLeader({ targetID: 1n }, bogus));
    await log("user list bogus", () => auth.userList({}, bogus));
    await log("user add bogus", () => auth.userAdd({ name: "x", password: "y" }, bogus));
    await log("auth enable bogus", () => auth.authEnable({}, bogus));
    await log("authenticate bogus", () => auth.authenticate({ name: "r", password: "p" }, bogus));
    await log("lock bogus", () => lock.lock({ name: enc("l") }, bogus));
    out.push(await firstWatch(watch, "a", { token: "bogus" }));
    out.push(await firstWatch(watch, "a", {}));
    await log("range (no token)", () => kv.range({ key: enc("a") }));

    // auth enabled: root's token works, a bogus one does not, none is an empty user
    await log("user add root", () => auth.userAdd({ name: "root", password: "pw" }));
    await log("grant root", () => auth.userGrantRole({ user: "root", role: "root" }));
    await log("auth enable", () => auth.authEnable({}));
    const { token } = await auth.authenticate({ name: "root", password: "pw" });
    const root = { headers: { token } };
    await log("range root", () => kv.range({ key: enc("a") }, root));
    await log("range bogus", () => kv.range({ key: enc("a") }, bogus));
    await log("range (no token)", () => kv.range({ key: enc("a") }));
    await log(
      "authenticate bogus",
      () => auth.authenticate({ name: "root", password: "pw" }, bogus),
    );
    out.push(await firstWatch(watch, "a", { token: "bogus" }));
    out.push(await firstWatch(watch, "a", {}));
    out.push(await firstWatch(watch, "a", { token }));
    await log("auth disable root", () => auth.authDisable({}, root));
    // disabling forgets the simple tokens: root's is unresolvable now
    await log("range stale root token", () => kv.range({ key: enc("a") }, root));
    out.push(await firstWatch(watch, "a", { token }));
  } finally {
    sm.abort(); // before the servers stop: Deno's http2 client must not see their GOAWAY
  }
  return out;
}

/**
 * etcdctl, after the gRPC script (root:pw exists, auth is off): a reader's watch outside its
 * permission, and a watch without a user.
 */
async function etcdctlScript(url: string): Promise<string[]> {
  const run = async (args: string[]) => {
    const r = await etcdctl(url, args);
    return `${args.join(" ")}: ${r.code} ${JSON.stringify(r.stdout)} ${JSON.stringify(r.stderr)}`;
  };
  const out: string[] = [];
  for (
    const args of [
      ["role", "add", "reader"],
      ["role", "grant-permission", "reader", "read", "/app/", "--prefix"],
      ["user", "add", "alice:alicepw"],
      ["user", "grant-role", "alice", "reader"],
      ["auth", "enable"],
      ["--user", "alice:alicepw", "watch", "/other"],
      ["watch", "/other"],
    ]
  ) out.push(await run(args));
  return out;
}

Deno.test("token intake over gRPC and refused watches (gRPC, etcdctl): as etcd 3.4", async () => {
  const [etcd, concord] = await Promise.all([startEtcd(), startTestServer()]);
  try {
    const a = await grpcScript(etcd.url);
    const z = await grpcScript(concord.url);
    const b = await etcdctlScript(etcd.url);
    const y = await etcdctlScript(concord.url);
    if (Deno.env.get("COMPAT_VERBOSE")) console.log([...a, ...b].join("\n"));
    assert.deepEqual(z, a);
    assert.deepEqual(y, b);
    // the script's expectations hold (a transcript equal to a wrong etcd would still fail)
    assert.ok(a.includes("range bogus: error 16 etcdserver: invalid auth token"), a.join("\n"));
    assert.ok(
      b.some((l) =>
        l.includes(
          "watch was canceled (rpc error: code = PermissionDenied desc = etcdserver: permission denied)",
        )
      ),
    );
  } finally {
    await Promise.all([etcd.stop(), concord.close()]);
  }
});
