/**
 * Differential compatibility of the v3lock and v3election services: the same calls go to a
 * fresh etcd 3.4 and a fresh Concord, over gRPC and over the JSON gateway; the answers
 * (revisions, keys, values, errors with their codes) must match after normalizing only the
 * member and cluster ids, the raft term and the lease ids the servers choose themselves.
 */
import assert from "node:assert/strict";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { KV, Lease } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Lock } from "../../proto/gen/v3lockpb/v3lock_pb.ts";
import { Election } from "../../proto/gen/v3electionpb/v3election_pb.ts";
import { freePort, startEtcd } from "../support/etcd.ts";
import { startTestServer, waitFor } from "../server/harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const b64 = (s: string) => btoa(s);

/** A message as JSON text without the protobuf-es type names; bytes as text. */
function show(v: unknown): string {
  return JSON.stringify(v, (k, x) => {
    if (k === "$typeName") return undefined;
    if (typeof x === "bigint") return x.toString();
    if (x instanceof Uint8Array) return dec(x);
    return x;
  });
}

/**
 * What two correct servers may disagree on: their ids and raft term, and the ids of leases
 * they granted themselves (lease 0 asks for a session lease). The test's own leases are small.
 */
function normalize(text: string): string {
  return text
    .replace(/"(clusterId|memberId|raftTerm|cluster_id|member_id|raft_term)":"\d+"/g, '"$1":"N"')
    .replace(/"(lease|ID)":"\d{10,}"/g, '"$1":"L"')
    .replace(/\/[0-9a-f]{10,}\b/g, "/L")
    .replace(/"(key)":"([^"]*)"/g, (_m, k: string, v: string) => {
      // gateway keys are base64: normalize a session lease's hex inside them too
      try {
        const d = atob(v);
        if (/\/[0-9a-f]{10,}$/.test(d)) return `"${k}":"${btoa(d.replace(/[0-9a-f]{10,}$/, "L"))}"`;
      } catch {
        // not base64
      }
      return `"${k}":"${v}"`;
    });
}

/** The same script against one server, over gRPC: its transcript. */
async function grpcScript(url: string): Promise<string[]> {
  const out: string[] = [];
  const sm = new Http2SessionManager(url);
  const t = createGrpcTransport({ baseUrl: url, sessionManager: sm });
  const lock = createClient(Lock, t);
  const el = createClient(Election, t);
  const kv = createClient(KV, t);
  const lease = createClient(Lease, t);
  const ac = new AbortController();
  const log = async (what: string, call: () => Promise<unknown>) => {
    try {
      out.push(`${what}: ${normalize(show(await call()))}`);
    } catch (err) {
      const e = ConnectError.from(err);
      out.push(`${what}: error ${e.code} ${e.rawMessage}`);
    }
  };
  /** Starts a call that waits; its answer is logged when awaited. */
  const later = <T>(call: Promise<T>) => {
    const p = call.then((v) => ({ v }), (e: unknown) => ({ e }));
    return async (what: string) => {
      const r = await p;
      if ("v" in r) out.push(`${what}: ${normalize(show(r.v))}`);
      else {out.push(
          `${what}: error ${ConnectError.from(r.e).code} ${ConnectError.from(r.e).rawMessage}`,
        );}
    };
  };
  const exists = async (key: string) => (await kv.range({ key: enc(key) })).kvs.length === 1;
  try {
    await lease.leaseGrant({ ID: 0x10n, TTL: 60n });
    await lease.leaseGrant({ ID: 0x20n, TTL: 60n });
    await log("lock n/10", () => lock.lock({ name: enc("n"), lease: 0x10n }));
    const b = later(lock.lock({ name: enc("n"), lease: 0x20n }));
    await waitFor("n/20", () => exists("n/20"));
    await log("unlock n/10", () => lock.unlock({ key: enc("n/10") }));
    await b("lock n/20 (waited)");
    await log("lock n/20 again", () => lock.lock({ name: enc("n"), lease: 0x20n }));

    // a waiter whose own lease expires while it waits
    await lease.leaseGrant({ ID: 0x30n, TTL: 2n });
    const d = later(lock.lock({ name: enc("n"), lease: 0x30n }));
    await waitFor("n/30", () => exists("n/30"));
    await waitFor("lease 0x30 to expire", async () => {
      return (await lease.leaseTimeToLive({ ID: 0x30n })).TTL === -1n;
    });
    await log("unlock n/20", () => lock.unlock({ key: enc("n/20") }));
    await d("lock n/30 (its lease expired while waiting)");

    await log("lock unknown lease", () => lock.lock({ name: enc("n"), lease: 0x99n }));
    await log("lock lease 0", () => lock.lock({ name: enc("z"), lease: 0n }));
    await log("unlock empty key", () => lock.unlock({ key: new Uint8Array() }));
    await log("unlock missing key", () => lock.unlock({ key: enc("n/77") }));

    await log("leader (none)", () => el.leader({ name: enc("e") }));
    const observe = el.observe({ name: enc("e") }, { signal: ac.signal })[Symbol.asyncIterator]();
    const seen = async (what: string) => {
      const r = await observe.next();
      out.push(`observe ${what}: ${normalize(show(r.value))}`);
    };
    const first = observe.next();
    const a = await el.campaign({ name: enc("e"), lease: 0x10n, value: enc("a") });
    out.push(`campaign e/10: ${normalize(show(a))}`);
    out.push(`observe first: ${normalize(show((await first).value))}`);
    await log("leader", () => el.leader({ name: enc("e") }));
    const c = later(el.campaign({ name: enc("e"), lease: 0x20n, value: enc("b") }));
    await waitFor("e/20", () => exists("e/20"));
    await log("proclaim a2", () => el.proclaim({ leader: a.leader, value: enc("a2") }));
    await seen("a2");
    await log("campaign e/10 again", () => {
      return el.campaign({ name: enc("e"), lease: 0x10n, value: enc("a3") });
    });
    await seen("a3");
    await log("resign e/10", () => el.resign({ leader: a.leader }));
    await c("campaign e/20 (waited)");
    await seen("b");
    await log("proclaim stale", () => el.proclaim({ leader: a.leader, value: enc("x") }));
    await log("resign stale", () => el.resign({ leader: a.leader }));
    await log("proclaim no leader", () => el.proclaim({ value: enc("x") }));
    await log("resign no leader", () => el.resign({}));
    await log("campaign unknown lease", () => {
      return el.campaign({ name: enc("e"), lease: 0x99n, value: enc("v") });
    });
    await log("leader e/20", () => el.leader({ name: enc("e") }));
    await log("campaign lease 0", () => el.campaign({ name: enc("y"), value: enc("v") }));
    await log("range all", () => kv.range({ key: enc("\0"), rangeEnd: enc("\0") }));
    ac.abort();
    await observe.return?.();
  } finally {
    ac.abort();
    sm.abort();
  }
  return out;
}

/** One gateway call: path, and a body, or a function of this server's earlier answers. */
type GatewayCall = [path: string, body: object | ((prev: unknown[]) => unknown)];

const leaderOf = (i: number) => (prev: unknown[]) => ({
  leader: (prev[i] as { leader: unknown }).leader,
});

const GATEWAY: GatewayCall[] = [
  ["/v3/lease/grant", { ID: 0x40, TTL: 60 }],
  ["/v3/lock/lock", { name: b64("g"), lease: 0x40 }],
  ["/v3/lock/lock", { name: b64("g"), lease: 12345 }],
  ["/v3/lock/unlock", { key: b64("g/40") }],
  ["/v3/lock/unlock", {}],
  ["/v3/election/campaign", { name: b64("ge"), lease: 0x40, value: b64("v1") }],
  ["/v3/election/leader", { name: b64("ge") }],
  ["/v3/election/proclaim", (p: unknown[]) => ({ ...leaderOf(5)(p), value: b64("v2") })],
  ["/v3/election/observe", { name: b64("ge") }],
  ["/v3/election/resign", leaderOf(5)],
  ["/v3/election/proclaim", (p: unknown[]) => ({ ...leaderOf(5)(p), value: b64("v3") })],
  ["/v3/election/leader", { name: b64("ge") }],
  ["/v3/election/proclaim", { value: b64("v") }],
  ["/v3/election/resign", {}],
];

/** The first JSON message of a gateway stream (Observe), then the stream is dropped. */
async function firstMessage(r: Response): Promise<string> {
  const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text.split("\n")[0];
}

async function gatewayScript(url: string): Promise<string[]> {
  const out: string[] = [];
  const answers: unknown[] = [];
  for (const [path, body] of GATEWAY) {
    const b = typeof body === "function" ? body(answers) : body;
    const r = await fetch(`${url}${path}`, { method: "POST", body: JSON.stringify(b) });
    const text = path === "/v3/election/observe" ? await firstMessage(r) : await r.text();
    try {
      answers.push(JSON.parse(text));
    } catch {
      answers.push(null);
    }
    out.push(`${path} ${JSON.stringify(b)} -> ${r.status} ${normalize(text.trim())}`);
  }
  return out;
}

function compare(what: string, etcd: string[], concord: string[]): void {
  if (Deno.env.get("COMPAT_VERBOSE")) console.log(etcd.join("\n"));
  const diffs: string[] = [];
  for (let i = 0; i < Math.max(etcd.length, concord.length); i++) {
    if (etcd[i] !== concord[i]) diffs.push(`  etcd:    ${etcd[i]}\n  concord: ${concord[i]}`);
  }
  assert.equal(diffs.length, 0, `${what}: ${diffs.length} answers differ:\n${diffs.join("\n")}`);
}

Deno.test("Lock and Election: Concord answers as etcd 3.4 does (gRPC and JSON gateway)", async () => {
  const [etcd, concord] = await Promise.all([
    startEtcd(),
    startTestServer((c) => {
      const client = new URL(`http://127.0.0.1:${freePort()}`);
      c.name = "default";
      c.listenClientUrls = [client];
      c.advertiseClientUrls = [client];
      c.initialCluster = new Map([["default", c.initialAdvertisePeerUrls]]);
    }),
  ]);
  try {
    const [a, z] = await Promise.all([grpcScript(etcd.url), grpcScript(concord.url)]);
    compare("gRPC", a, z);
    const [ga, gz] = await Promise.all([gatewayScript(etcd.url), gatewayScript(concord.url)]);
    compare("gateway", ga, gz);
  } finally {
    await Promise.all([etcd.stop(), concord.close()]);
  }
});
