/**
 * etcd_network_server_stream_failures_total{Type,API} (etcd's v3rpc): a watch or lease
 * keep-alive stream whose request cannot be received while the client is still there counts
 * one receive failure; a response the server gives up sending to a client still there (no
 * flow-control window in time, too much held unsent) one send failure; a client leaving (its
 * stream reset, its connection lost) counts none, as etcd skips client context errors.
 * Driven over real HTTP/2 gRPC with our client, or raw frames, speaking to a real member.
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { startServer } from "../../lib/api/member_server.ts";
import { ErrorCode, Flag, FrameType, readU32, Setting } from "../../lib/http/frame.ts";
import { H2ClientSession } from "../../lib/http/h2_client.ts";
import { type Frame, RawH2, req } from "../http/h2_raw_client.ts";
import { startTestServer, testConfig, type TestServer } from "../server/harness.ts";
import { parseFamilies, sample } from "./prom_text.ts";

/** One gRPC message envelope (uncompressed). */
function envelope(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

/** Not a protobuf message: field 0x1fffffff with wire type 7, which does not exist. */
const GARBAGE = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]);

async function metrics(t: TestServer): Promise<string> {
  return await (await fetch(`${t.url}/metrics`)).text();
}

function failures(text: string, type: string, api: string): number {
  return sample(text, `etcd_network_server_stream_failures_total{Type="${type}",API="${api}"}`) ??
    0;
}

/** Sends `body` on a gRPC call of `path`; returns its grpc-status. */
async function call(s: H2ClientSession, path: string, body: Uint8Array): Promise<string> {
  const res = await s.request({
    method: "POST",
    path,
    headers: [["content-type", "application/grpc"], ["te", "trailers"]],
    body,
  }).response;
  for await (const _ of res.body) { /* drain */ }
  const trailers = [...res.headers, ...await res.trailers];
  return trailers.find(([k]) => k === "grpc-status")?.[1] ?? "none";
}

Deno.test("server stream failures: an undecodable watch or keep-alive request counts, a client leaving does not", async () => {
  const t = await startTestServer();
  const s = await H2ClientSession.connect({ url: t.url });
  try {
    let text = await metrics(t);
    const family = parseFamilies(text).get("etcd_network_server_stream_failures_total");
    assert.equal(family?.type, "counter");
    assert.equal(family?.help, "The total number of stream failures from the local server.");
    assert.equal(failures(text, "receive", "watch"), 0);

    // (the watch stream then ends; the keep-alive stream fails with the decoding error)
    await call(s, "/etcdserverpb.Watch/Watch", envelope(GARBAGE));
    assert.notEqual(
      await call(s, "/etcdserverpb.Lease/LeaseKeepAlive", envelope(GARBAGE)),
      "0",
    );
    text = await metrics(t);
    assert.equal(failures(text, "receive", "watch"), 1);
    assert.equal(failures(text, "receive", "lease-keepalive"), 1);
    assert.deepEqual(parseFamilies(text).get("etcd_network_server_stream_failures_total")?.labels, [
      "API",
      "Type",
    ]);

    // a watch created, then the client goes away mid-stream: not a failure
    const handled = () =>
      metrics(t).then((x) =>
        sample(
          x,
          'grpc_server_handled_total{grpc_type="bidi_stream",grpc_service="etcdserverpb.Watch",' +
            'grpc_method="Watch",grpc_code="Canceled"}',
        ) ?? 0
      );
    const before = await handled();
    const watch = s.request({
      method: "POST",
      path: "/etcdserverpb.Watch/Watch",
      headers: [["content-type", "application/grpc"], ["te", "trailers"]],
      body: "stream",
    });
    const req = create(pb.WatchRequestSchema, {
      requestUnion: { case: "createRequest", value: { key: new TextEncoder().encode("k") } },
    });
    await watch.write(envelope(toBinary(pb.WatchRequestSchema, req)));
    const res = await watch.response;
    const it = res.body[Symbol.asyncIterator]();
    await it.next(); // the created response
    watch.reset();
    const deadline = Date.now() + 5000;
    while (await handled() === before) {
      if (Date.now() > deadline) throw new Error("the cancelled watch never ended");
      await new Promise((r) => setTimeout(r, 20));
    }
    text = await metrics(t);
    assert.equal(failures(text, "receive", "watch"), 1);
    assert.equal(failures(text, "send", "watch"), 0);
  } finally {
    await s.close();
    await t.close();
  }
});

/** grpc_server_handled_total of `method` (of `service`) with `code`, 0 when absent. */
function handled(text: string, service: string, method: string, code: string): number {
  return sample(
    text,
    `grpc_server_handled_total{grpc_type="bidi_stream",grpc_service="etcdserverpb.${service}",` +
      `grpc_method="${method}",grpc_code="${code}"}`,
  ) ?? 0;
}

/** Reads frames until one on stream `sid` passes `want` (5 s at most). */
async function frameOn(c: RawH2, sid: number, want: (f: Frame) => boolean): Promise<Frame> {
  const [f] = (await c.until((f) => f.sid === sid && want(f))).slice(-1);
  return f;
}

const isRst = (f: Frame) => f.type === FrameType.RST_STREAM;

Deno.test("server stream failures: a response the server gives up sending counts, a lost connection does not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-sendfail-" });
  // a stream with no window for 1 s is reset (long enough for the keep-alive below to be
  // answered first, even on a loaded machine); a connection may hold 1 byte unsent beyond
  // the one response it may always hold
  const server = await startServer(testConfig(dir), {
    log: () => {},
    httpLimits: { stallTimeoutMs: 1000, maxUnsentBytes: 1 },
  });
  const url = server.clientUrls[0];
  const t = { url } as TestServer;
  let c: RawH2 | null = null;
  try {
    await server.member.ready;
    const grant = await fetch(`${url}/v3/lease/grant`, {
      method: "POST",
      body: JSON.stringify({ TTL: 60 }),
    });
    const lease = BigInt((await grant.json()).ID);
    const port = Number(new URL(url).port);
    // a client that gives no stream window: nothing the server answers can leave
    c = await RawH2.connect(port, { settings: [[Setting.INITIAL_WINDOW_SIZE, 0]] });
    await c.frame(FrameType.SETTINGS, Flag.ACK, 0);
    const open = async (sid: number, path: string, message: Uint8Array) => {
      await c!.headers(
        sid,
        req(path, [["content-type", "application/grpc"], ["te", "trailers"]]),
        Flag.END_HEADERS,
      );
      await c!.frame(FrameType.DATA, 0, sid, envelope(message));
    };
    const watch = toBinary(
      pb.WatchRequestSchema,
      create(pb.WatchRequestSchema, {
        requestUnion: { case: "createRequest", value: { key: new TextEncoder().encode("k") } },
      }),
    );
    const keepAlive = toBinary(
      pb.LeaseKeepAliveRequestSchema,
      create(pb.LeaseKeepAliveRequestSchema, { ID: lease }),
    );

    // a watch: its created response is held (HEADERS out, the DATA waits for window)
    await open(1, "/etcdserverpb.Watch/Watch", watch);
    await frameOn(c, 1, (f) => f.type === FrameType.HEADERS);
    // a keep-alive beside it: its answer would be more than the connection may hold, so the
    // server resets it at once (a send failure, RESOURCE_EXHAUSTED as gRPC maps the reset)
    await open(3, "/etcdserverpb.Lease/LeaseKeepAlive", keepAlive);
    const calm = await frameOn(c, 3, isRst);
    assert.equal(readU32(calm.payload, 0), ErrorCode.ENHANCE_YOUR_CALM);
    // the watch's response never gets a window: reset after the stall timeout (CANCEL)
    const stalled = await frameOn(c, 1, isRst);
    assert.equal(readU32(stalled.payload, 0), ErrorCode.CANCEL);
    let text = "";
    const deadline = Date.now() + 5000;
    while (handled(text = await metrics(t), "Watch", "Watch", "Canceled") < 1) {
      if (Date.now() > deadline) throw new Error("the stalled watch never ended");
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(failures(text, "send", "watch"), 1);
    assert.equal(failures(text, "send", "lease-keepalive"), 1);
    assert.equal(failures(text, "receive", "watch"), 0);
    assert.equal(failures(text, "receive", "lease-keepalive"), 0);
    assert.equal(handled(text, "Lease", "LeaseKeepAlive", "ResourceExhausted"), 1);
    assert.equal(handled(text, "Lease", "LeaseKeepAlive", "OK"), 0);
    assert.equal(handled(text, "Watch", "Watch", "OK"), 0);

    // a keep-alive whose answer is held when the client's connection goes away: not a failure
    await open(5, "/etcdserverpb.Lease/LeaseKeepAlive", keepAlive);
    await frameOn(c, 5, (f) => f.type === FrameType.HEADERS);
    c.close();
    c = null;
    const gone = Date.now() + 5000;
    while (handled(text = await metrics(t), "Lease", "LeaseKeepAlive", "Canceled") < 1) {
      if (Date.now() > gone) throw new Error("the keep-alive of the lost connection never ended");
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(failures(text, "send", "lease-keepalive"), 1);
    assert.equal(failures(text, "receive", "lease-keepalive"), 0);
  } finally {
    c?.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
