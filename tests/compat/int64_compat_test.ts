/**
 * Differential compatibility of 64-bit request fields outside 0..2^53-1 (Concord holds
 * revisions as safe integers): the same gRPC calls with -1, 2^63-1 and -2^63 go to a fresh
 * etcd 3.4 and a fresh Concord, and each answer (result or gRPC code and message) must be the
 * same. Also the watch stream: a watch created with such a start revision is answered on its
 * own, and the other watches of the stream keep working.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { KV, Lease, Maintenance, Watch } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Election } from "../../proto/gen/v3electionpb/v3election_pb.ts";
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

/** One watch response, with the fields that must agree (ids are chosen by the client here). */
function watchLine(r: pb.WatchResponse): string {
  return `id=${r.watchId} created=${r.created} canceled=${r.canceled} ` +
    `compact=${r.compactRevision} reason=${JSON.stringify(r.cancelReason)} ` +
    `events=${r.events.map((e) => `${e.type}:${dec(e.kv?.key ?? new Uint8Array())}`).join(",")}`;
}

/**
 * On one stream: watch `a` (id 1), then the `bad` create request (on key `c`), then watch `b`
 * (id 3). Then put b and a and read until watches 1 and 3 saw them, and QUIET_MS more (etcd
 * syncs a watch that starts in the past every 100 ms, so by then the bad watch has said what
 * it will); then put c and a and read until watch 1 saw a again, and QUIET_MS more. Returns
 * every response, grouped by watch id in arrival order, and how the stream ended if it did.
 */
async function watchScript(
  t: ReturnType<typeof createGrpcTransport>,
  bad: pb.WatchCreateRequest,
): Promise<string[]> {
  const kv = createClient(KV, t);
  const watch = createClient(Watch, t);
  const ac = new AbortController();
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  const createReq = (value: pb.WatchCreateRequest) =>
    create(pb.WatchRequestSchema, { requestUnion: { case: "createRequest", value } });
  async function* requests(): AsyncIterable<pb.WatchRequest> {
    yield createReq(create(pb.WatchCreateRequestSchema, { key: enc("a"), watchId: 1n }));
    yield createReq(bad);
    yield createReq(create(pb.WatchCreateRequestSchema, { key: enc("b"), watchId: 3n }));
    await held;
  }
  const byId = new Map<string, string[]>();
  const it = watch.watch(requests(), { signal: ac.signal })[Symbol.asyncIterator]();
  const timer = setTimeout(() => ac.abort(), 5000);
  let end = "";
  const counts = { created: 0, events1: 0, events3: 0 };
  let pending: Promise<IteratorResult<pb.WatchResponse>> | undefined;
  /** Reads until `done()` holds, then for `quietMs` more; false once the stream ended. */
  const read = async (done: () => boolean, quietMs: number): Promise<boolean> => {
    let quietUntil = Infinity;
    for (;;) {
      if (quietUntil === Infinity && done()) quietUntil = Date.now() + quietMs;
      const left = quietUntil - Date.now();
      if (left <= 0) return true;
      pending ??= it.next();
      let r: IteratorResult<pb.WatchResponse> | "quiet";
      let quiet: ReturnType<typeof setTimeout> | undefined;
      try {
        r = left === Infinity ? await pending : await Promise.race([
          pending,
          new Promise<"quiet">((res) => (quiet = setTimeout(() => res("quiet"), left))),
        ]);
      } catch (err) {
        const e = ConnectError.from(err);
        end = `stream error ${e.code} ${e.rawMessage}`;
        return false;
      } finally {
        clearTimeout(quiet);
      }
      if (r === "quiet") return true;
      pending = undefined;
      if (r.done) {
        end = "stream ended";
        return false;
      }
      const m = r.value;
      const id = m.watchId === 1n || m.watchId === 3n ? `${m.watchId}` : "bad";
      byId.set(id, [...(byId.get(id) ?? []), watchLine(m)]);
      if (m.created && id !== "bad") counts.created++;
      if (id === "1" && m.events.length > 0) counts.events1++;
      if (id === "3" && m.events.length > 0) counts.events3++;
    }
  };
  try {
    const put = (k: string) => kv.put({ key: enc(k), value: enc("1") });
    if (await read(() => counts.created === 2, 0)) {
      await put("b");
      await put("a");
      if (await read(() => counts.events1 === 1 && counts.events3 === 1, QUIET_MS)) {
        await put("c");
        await put("a");
        await read(() => counts.events1 === 2, QUIET_MS);
      }
    }
  } finally {
    clearTimeout(timer);
    release();
    ac.abort();
    await it.return?.().catch(() => {});
  }
  const out: string[] = [];
  for (const id of ["1", "bad", "3"]) out.push(...(byId.get(id) ?? []).map((l) => `${id}: ${l}`));
  if (end) out.push(end);
  return out;
}

/** How long to listen for more once the watches of a step saw their events. */
const QUIET_MS = 250;

/**
 * The script against one server, one line per call: the unary calls, or the watch streams
 * (with a bad create request among good ones, before and after a compaction).
 */
async function script(url: string, part: "unary" | "watch"): Promise<string[]> {
  const out: string[] = [];
  const sm = new Http2SessionManager(url);
  const t = createGrpcTransport({ baseUrl: url, sessionManager: sm });
  const kv = createClient(KV, t);
  const lease = createClient(Lease, t);
  const maint = createClient(Maintenance, t);
  const election = createClient(Election, t);
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
    for (const v of part === "unary" ? [-1n, MIN, MAX, ABOVE] : []) {
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
      await log(`hashkv revision ${v}`, async () => {
        const r = await maint.hashKV({ revision: v });
        return `rev=${r.header?.revision} compact=${r.compactRevision} hash=${r.hash}`;
      });
      const leader = { name: enc("e"), key: enc("e/1"), rev: v, lease: 0n };
      await log(`election proclaim rev ${v}`, async () => {
        await election.proclaim({ leader, value: enc("x") });
        return "ok";
      });
      await log(`election resign rev ${v}`, async () => (await election.resign({ leader }), "ok"));
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
    if (part === "unary") {
      for (const v of [MAX, ABOVE, -1n, MIN]) {
        await log(`compact ${v}`, async () => (await kv.compact({ revision: v }), "ok"));
      }
      return out;
    }
    for (const v of [-1n, MIN, MAX, ABOVE]) {
      for (
        const bad of [
          create(pb.WatchCreateRequestSchema, { key: enc("c"), watchId: 2n, startRevision: v }),
          create(pb.WatchCreateRequestSchema, { key: enc("c"), watchId: v }),
        ]
      ) {
        const what = bad.watchId === 2n ? `start_revision ${v}` : `watch_id ${v}`;
        out.push(`watch ${what}:`, ...(await watchScript(t, bad)).map((l) => `  ${l}`));
      }
    }
    // after a compaction, a negative start revision is below it: that watch alone is canceled
    const rev = (await kv.range({ key: enc("a") })).header?.revision ?? 0n;
    await log(`compact current`, async () => (await kv.compact({ revision: rev }), "ok"));
    for (const v of [-1n, MIN]) {
      const bad = create(pb.WatchCreateRequestSchema, {
        key: enc("c"),
        watchId: 2n,
        startRevision: v,
      });
      out.push(
        `watch start_revision ${v} after compaction:`,
        ...(await watchScript(t, bad)).map((l) => `  ${l}`),
      );
    }
  } finally {
    sm.abort(); // before the servers stop: Deno's http2 client must not see their GOAWAY
  }
  return out;
}

/** Runs `part` against a fresh etcd 3.4 and a fresh Concord; returns etcd's transcript. */
async function compare(part: "unary" | "watch"): Promise<string[]> {
  const [etcd, concord] = await Promise.all([startEtcd(), startTestServer()]);
  try {
    // side by side: each script waits out its own quiet periods (10 watch scripts, 250 ms
    // twice each), so one after the other doubled the test's wall time
    const [a, z] = await Promise.all([script(etcd.url, part), script(concord.url, part)]);
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
  const a = await compare("unary");
  has(a, `range limit ${MAX}: keys=a,b,c count=3`);
  has(
    a,
    `range revision ${MAX}: error 11 etcdserver: mvcc: required revision is a future revision`,
  );
  has(a, `compact ${MAX}: error 11 etcdserver: mvcc: required revision is a future revision`);
  has(a, `lease grant TTL ${MIN}: granted`);
});

Deno.test("a watch created with an out-of-range start revision or id: as etcd 3.4, the stream's other watches keep working", async () => {
  const a = await compare("watch");
  has(a, `bad: id=2 created=false canceled=true compact=-1`);
  has(a, `bad: id=${MAX} created=true canceled=false`);
  assert.equal(
    a.filter((l) => l.includes("3: id=3 created=false") && l.endsWith("0:b")).length,
    10, // every watch script: the watch after the bad one still works
  );
});
