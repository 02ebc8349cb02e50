/**
 * Differential compatibility of 64-bit request fields outside 0..2^53-1 (Concord holds
 * revisions as safe integers): the same gRPC calls with -1, 2^63-1 and -2^63 go to a fresh
 * etcd 3.4 and a fresh Concord, and each answer (result or gRPC code and message) must be the
 * same.
 */
import assert from "node:assert/strict";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { KV, Lease } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { startEtcd } from "../support/etcd.ts";
import { startTestServer } from "../server/harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const MAX = (1n << 63n) - 1n;
const MIN = -(1n << 63n);
const ABOVE = 1n << 53n; // the first integer a double cannot count past exactly

/** A range answer, with what must agree (keys, count, more). */
function rangeLine(r: pb.RangeResponse): string {
  return `keys=${r.kvs.map((kv) => dec(kv.key)).join(",")} count=${r.count} more=${r.more}`;
}

/** The script against one server, one line per call. */
async function script(url: string): Promise<string[]> {
  const out: string[] = [];
  const sm = new Http2SessionManager(url);
  const t = createGrpcTransport({ baseUrl: url, sessionManager: sm });
  const kv = createClient(KV, t);
  const lease = createClient(Lease, t);
  const log = async (what: string, call: () => Promise<string>) => {
    try {
      out.push(`${what}: ${await call()}`);
    } catch (err) {
      const e = ConnectError.from(err);
      out.push(`${what}: error ${e.code} ${e.rawMessage}`);
    }
  };
  const range = (
    r: {
      [
        K in
          | "limit"
          | "revision"
          | "minModRevision"
          | "maxModRevision"
          | "minCreateRevision"
          | "maxCreateRevision"
      ]?: bigint;
    },
  ) =>
  async () => rangeLine(await kv.range({ key: enc("a"), rangeEnd: enc("z"), ...r }));
  try {
    for (const k of ["a", "b", "c"]) await kv.put({ key: enc(k), value: enc("v") });
    for (const v of [-1n, MIN, MAX, ABOVE]) {
      await log(`range limit ${v}`, range({ limit: v }));
      await log(`range revision ${v}`, range({ revision: v }));
      await log(`range min_mod_revision ${v}`, range({ minModRevision: v }));
      await log(`range max_mod_revision ${v}`, range({ maxModRevision: v }));
      await log(`range min_create_revision ${v}`, range({ minCreateRevision: v }));
      await log(`range max_create_revision ${v}`, range({ maxCreateRevision: v }));
      for (const target of ["version", "createRevision", "modRevision"] as const) {
        for (const result of [pb.Compare_CompareResult.LESS, pb.Compare_CompareResult.GREATER]) {
          await log(`txn compare ${target} ${result} ${v}`, async () => {
            const r = await kv.txn({
              compare: [{
                key: enc("a"),
                result,
                target: {
                  version: pb.Compare_CompareTarget.VERSION,
                  createRevision: pb.Compare_CompareTarget.CREATE,
                  modRevision: pb.Compare_CompareTarget.MOD,
                }[target],
                targetUnion: { case: target, value: v },
              }],
            });
            return `succeeded=${r.succeeded}`;
          });
        }
      }
      await log(`txn range revision ${v}`, async () => {
        const r = await kv.txn({
          success: [{ request: { case: "requestRange", value: { key: enc("a"), revision: v } } }],
        });
        const inner = r.responses[0]?.response;
        return inner?.case === "responseRange" ? rangeLine(inner.value) : "no range";
      });
      await log(`lease grant TTL ${v}`, async () => {
        const r = await lease.leaseGrant({ TTL: v });
        await lease.leaseRevoke({ ID: r.ID });
        return `granted ttl=${r.TTL} error=${JSON.stringify(r.error)}`;
      });
      await log(`lease timetolive ID ${v}`, async () => {
        const r = await lease.leaseTimeToLive({ ID: v });
        return `ttl=${r.TTL}`;
      });
      await log(`lease revoke ID ${v}`, async () => {
        await lease.leaseRevoke({ ID: v });
        return "ok";
      });
    }
    for (const v of [MAX, ABOVE, -1n, MIN]) {
      await log(`compact ${v}`, async () => (await kv.compact({ revision: v }), "ok"));
    }
  } finally {
    sm.abort(); // before the servers stop: Deno's http2 client must not see their GOAWAY
  }
  return out;
}

/** Runs the script against a fresh etcd 3.4 and a fresh Concord; returns etcd's transcript. */
async function compare(): Promise<string[]> {
  const [etcd, concord] = await Promise.all([startEtcd(), startTestServer()]);
  try {
    const a = await script(etcd.url);
    const z = await script(concord.url);
    if (Deno.env.get("COMPAT_VERBOSE")) console.log(a.join("\n"));
    const diffs = a.flatMap((l, i) => l === z[i] ? [] : [`etcd:    ${l}\nconcord: ${z[i]}`]);
    assert.equal(diffs.length, 0, diffs.join("\n"));
    assert.equal(z.length, a.length);
    return a;
  } finally {
    await Promise.all([etcd.stop(), concord.close()]);
  }
}

/** Asserts the transcript shows etcd's behaviour, not a refusal both could share. */
function has(transcript: string[], line: string): void {
  assert.ok(transcript.some((l) => l.includes(line)), line);
}

Deno.test("64-bit fields beyond 0..2^53-1 over gRPC: answered as etcd 3.4 does", async () => {
  const a = await compare();
  has(a, `range limit ${MAX}: keys=a,b,c count=3`);
  has(
    a,
    `range revision ${MAX}: error 11 etcdserver: mvcc: required revision is a future revision`,
  );
  has(a, `compact ${MAX}: error 11 etcdserver: mvcc: required revision is a future revision`);
  has(a, `lease grant TTL ${MIN}: granted`);
});
