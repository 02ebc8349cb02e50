import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import {
  KV,
  ResponseHeaderSchema,
  Watch,
  type WatchRequest,
  type WatchResponse as PbWatchResponse,
  WatchResponseSchema,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { envelope, envelopeLength } from "../../lib/api/grpc_call.ts";
import { WatchWire } from "../../lib/api/watch_wire.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { type Event, EventType, type KeyValue } from "../../lib/mvcc/types.ts";
import type { WatchResponse } from "../../lib/mvcc/watch_types.ts";
import { WatchIds, watchResponseToPb } from "../../lib/server/convert.ts";
import { startGrpcMember } from "./grpc_member.ts";
import { sample } from "./prom_text.ts";
import { startTestServer, waitFor } from "../server/harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** A counter from the edges: 0, small, around 2^31 and 2^32, up to 2^53-1. */
function counter(r: Rand): number {
  switch (r.int(5)) {
    case 0:
      return 0;
    case 1:
      return r.int(300);
    case 2:
      return 0x7fffffff + r.int(3) - 1;
    case 3:
      return 0xffffffff + r.int(3);
    default:
      return Number.MAX_SAFE_INTEGER - r.int(3);
  }
}

function lease(r: Rand): bigint {
  return r.pick([0n, 1n, 0x7fffffffffffffffn, -1n, BigInt(r.int(1 << 30)) * 12345n]);
}

function kv(r: Rand): KeyValue {
  return {
    key: r.bytes(1 + r.int(r.chance(0.05) ? 300 : 20)),
    createRevision: counter(r),
    modRevision: counter(r),
    version: counter(r),
    value: r.bytes(r.chance(0.2) ? 0 : r.int(r.chance(0.05) ? 70000 : 300)),
    lease: lease(r),
  };
}

function events(r: Rand): Event[] {
  return Array.from({ length: r.chance(0.2) ? r.int(20) : 1 }, () => {
    const put = r.chance(0.7);
    const e: Event = put
      ? { type: EventType.PUT, kv: kv(r) }
      : { type: EventType.DELETE, kv: { ...kv(r), createRevision: 0, version: 0, value: enc("") } };
    if (r.chance(0.3)) e.prevKv = kv(r);
    return e;
  });
}

/** A hub response; its events are often an array other responses share (as the hub does). */
function response(r: Rand, shared: Event[][], ids: WatchIds): WatchResponse {
  const control = r.chance(0.2);
  return {
    watchId: r.pick([
      0,
      1 + r.int(100),
      -1,
      Number.MAX_SAFE_INTEGER,
      ids.forCreate(-5n),
      ids.forCreate(1n << 60n),
    ]),
    revision: counter(r),
    events: r.chance(0.1) ? [] : r.chance(0.7) ? r.pick(shared) : events(r),
    created: control && r.chance(0.5),
    canceled: control && r.chance(0.5),
    cancelReason: control && r.chance(0.5) ? r.pick(["mvcc: watcher range is empty", "é ✓"]) : "",
    compactRevision: control && r.chance(0.5) ? counter(r) : 0,
    fragment: r.chance(0.1),
  };
}

Deno.test("watch wire: the bytes of toBinary(watchResponseToPb(...)) for random responses", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const r = new Rand(seed);
  const src = { clusterId: 0n, memberId: 0n, term: 0 };
  const wire = new WatchWire(src);
  const ids = new WatchIds();
  const shared = Array.from({ length: 4 }, () => events(r));
  for (let batch = 0; batch < 400; batch++) {
    if (r.chance(0.3)) {
      // the header's ids and term change between (never within) batches
      src.clusterId = r.pick([0n, 1n, (1n << 64n) - 1n, 0xcdef0123456789n]);
      src.memberId = r.pick([0n, 7n, (1n << 63n) + 5n]);
      src.term = r.pick([0, 1, 2 + r.int(1000), Number.MAX_SAFE_INTEGER]);
    }
    if (r.chance(0.1)) shared[r.int(shared.length)] = events(r);
    const rs = Array.from({ length: 1 + r.int(12) }, () => response(r, shared, ids));
    const got = wire.encode(rs, ids);
    const want: Uint8Array[] = rs.map((resp) => {
      const header = create(ResponseHeaderSchema, {
        clusterId: src.clusterId,
        memberId: src.memberId,
        revision: BigInt(resp.revision),
        raftTerm: BigInt(src.term),
      });
      return envelope(toBinary(WatchResponseSchema, watchResponseToPb(resp, header, ids)));
    });
    const wantAll = new Uint8Array(want.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of want) {
      wantAll.set(b, at);
      at += b.length;
    }
    assert.deepEqual(got, wantAll, `seed=${seed} batch ${batch}`);
    // and the envelopes split where they should
    let off = 0;
    for (let i = 0; i < rs.length; i++) {
      const len = envelopeLength(got, off);
      fromBinary(WatchResponseSchema, got.subarray(off + 5, off + 5 + len));
      off += 5 + len;
    }
    assert.equal(off, got.length);
  }
});

type Req = MessageInitShape<
  typeof import("../../proto/gen/etcdserverpb/rpc_pb.ts").WatchRequestSchema
>;

/** A watch stream that records every response, by wire watch id. */
function record(
  client: ReturnType<typeof createClient<typeof Watch>>,
  creates: Req[],
  signal: AbortSignal,
): { byId: Map<bigint, PbWatchResponse[]>; count(): number; done: Promise<void> } {
  const byId = new Map<bigint, PbWatchResponse[]>();
  let n = 0;
  const requests = (async function* (): AsyncGenerator<Req> {
    for (const c of creates) yield c;
    await new Promise<void>((r) => signal.addEventListener("abort", () => r()));
  })();
  const done = (async () => {
    try {
      for await (const m of client.watch(requests as AsyncIterable<WatchRequest>, { signal })) {
        n++;
        const list = byId.get(m.watchId) ?? [];
        list.push(m);
        byId.set(m.watchId, list);
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    }
  })();
  return { byId, count: () => n, done };
}

Deno.test("watch wire: gRPC (encoded once per revision) and Connect (messages) deliver the same, and every message is counted", async () => {
  const m = await startGrpcMember();
  const sm = new Http2SessionManager(m.s.url);
  const ac = new AbortController();
  try {
    const connect = createClient(
      Watch,
      createConnectTransport({
        baseUrl: m.s.url,
        httpVersion: "2",
        useBinaryFormat: true,
        sessionManager: sm,
      }),
    );
    const grpc = createClient(Watch, m.transport);
    const big = 1n << 60n;
    const creates: Req[] = [
      { key: enc("a"), watchId: 7n },
      { key: enc("a"), watchId: 8n, prevKv: true },
      { key: enc("a"), rangeEnd: enc("b"), watchId: 9n, filters: [0] }, // NOPUT
      { key: enc("a"), watchId: big, fragment: true },
    ].map((value) => ({ requestUnion: { case: "createRequest" as const, value } }));
    const viaGrpc = record(grpc, creates, ac.signal);
    const viaConnect = record(connect, creates, ac.signal);
    await waitFor(
      "both streams' watchers created",
      () => Promise.resolve(viaGrpc.count() === 4 && viaConnect.count() === 4),
    );
    await m.kv.put({ key: enc("a"), value: enc("1") });
    await m.kv.put({ key: enc("a"), value: enc("2") });
    await m.kv.txn({
      success: [
        { request: { case: "requestPut", value: { key: enc("a"), value: enc("3") } } },
        { request: { case: "requestPut", value: { key: enc("ab"), value: enc("x") } } },
      ],
    });
    for (let i = 0; i < 20; i++) await m.kv.put({ key: enc("a"), value: enc(`v${i}`) });
    const last = await m.kv.deleteRange({ key: enc("a"), rangeEnd: enc("b") });
    const lastRev = last.header!.revision;
    const sawLast = (s: typeof viaGrpc, id: bigint) =>
      s.byId.get(id)?.some((r) => r.events.some((e) => e.kv?.modRevision === lastRev)) === true;
    await waitFor(
      "every watcher's last event",
      () =>
        Promise.resolve(
          [7n, 8n, 9n, big].every((id) => sawLast(viaGrpc, id) && sawLast(viaConnect, id)),
        ),
    );
    for (const id of [7n, 8n, 9n, big]) {
      assert.deepEqual(viaGrpc.byId.get(id), viaConnect.byId.get(id), `watch ${id}`);
    }
    // 24 revisions for the key watchers, each event with its previous value for watch 8
    assert.equal(viaGrpc.byId.get(7n)!.length, 1 + 24);
    assert.equal(viaGrpc.byId.get(8n)!.at(-2)!.events[0].prevKv?.value.length, 3);
    // the NOPUT watcher of [a, b) sees only the two deletions, in one response
    assert.equal(viaGrpc.byId.get(9n)!.length, 2);
    assert.equal(viaGrpc.byId.get(9n)![1].events.length, 2);
    // grpc_server_msg_sent_total counts each message, also those sent several in one piece
    const series =
      'grpc_server_msg_sent_total{grpc_type="bidi_stream",grpc_service="etcdserverpb.Watch",grpc_method="Watch"}';
    const want = viaGrpc.count() + viaConnect.count();
    let got: number | undefined;
    await waitFor("the metric", async () => {
      got = sample(await (await fetch(`${m.s.url}/metrics`)).text(), series);
      return got === want;
    }).catch(() => assert.equal(got, want));
  } finally {
    ac.abort();
    sm.abort();
    await m.close();
  }
});

Deno.test("watch wire: a revision larger than --max-request-bytes goes out in the same fragments on gRPC and Connect", async () => {
  const s = await startTestServer((c) => (c.maxRequestBytes = 4096));
  const sessions = [new Http2SessionManager(s.url), new Http2SessionManager(s.url)];
  const ac = new AbortController();
  try {
    const grpc = createClient(
      Watch,
      createGrpcTransport({ baseUrl: s.url, sessionManager: sessions[0] }),
    );
    const connect = createClient(
      Watch,
      createConnectTransport({
        baseUrl: s.url,
        httpVersion: "2",
        useBinaryFormat: true,
        sessionManager: sessions[1],
      }),
    );
    const kv = createClient(
      KV,
      createGrpcTransport({ baseUrl: s.url, sessionManager: sessions[0] }),
    );
    for (let i = 0; i < 10; i++) {
      await kv.put({ key: enc(`f/${i}`), value: new Uint8Array(1000).fill(0x61 + i) });
    }
    const creates: Req[] = [{
      requestUnion: {
        case: "createRequest",
        value: { key: enc("f/"), rangeEnd: enc("f0"), watchId: 3n, prevKv: true, fragment: true },
      },
    }];
    const viaGrpc = record(grpc, creates, ac.signal);
    const viaConnect = record(connect, creates, ac.signal);
    await waitFor(
      "both watchers created",
      () => Promise.resolve(viaGrpc.count() === 1 && viaConnect.count() === 1),
    );
    // ten deletions in one revision, each with its 1,000-byte previous value: over 10 KB
    await kv.deleteRange({ key: enc("f/"), rangeEnd: enc("f0") });
    const events = (rs: PbWatchResponse[] | undefined) =>
      (rs ?? []).reduce((n, r) => n + r.events.length, 0);
    await waitFor(
      "all ten events on both",
      () =>
        Promise.resolve(
          events(viaGrpc.byId.get(3n)) === 10 && events(viaConnect.byId.get(3n)) === 10,
        ),
    );
    const got = viaGrpc.byId.get(3n)!.slice(1);
    assert.deepEqual(got, viaConnect.byId.get(3n)!.slice(1));
    assert.ok(got.length >= 3, `${got.length} fragments`);
    assert.deepEqual(got.map((r) => r.fragment), got.map((_, i) => i < got.length - 1));
    assert.equal(
      got.flatMap((r) => r.events).map((e) => e.prevKv?.value[0]).join(),
      "97,98,99,100,101,102,103,104,105,106",
    );
  } finally {
    ac.abort();
    for (const sm of sessions) sm.abort();
    await s.close();
  }
});
