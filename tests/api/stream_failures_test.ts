/**
 * etcd_network_server_stream_failures_total{Type,API} (etcd's v3rpc): a watch or lease
 * keep-alive stream whose request cannot be received while the client is still there counts
 * one receive failure; a client leaving (its stream reset) counts none, as etcd skips client
 * context errors. Driven over real HTTP/2 gRPC with our client speaking raw frames.
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { H2ClientSession } from "../../lib/http/h2_client.ts";
import { startTestServer, type TestServer } from "../server/harness.ts";
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
