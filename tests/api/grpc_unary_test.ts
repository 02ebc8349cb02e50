/**
 * The direct gRPC unary path against Connect's general handler: same answers for good calls,
 * errors and malformed framing; declines what it does not handle.
 */
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createConnectRouter } from "@connectrpc/connect";
import type { UniversalHandlerFn, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { type AnyImpl, instrumentService } from "../../lib/api/instrument.ts";
import { encodeGrpcMessage } from "../../lib/api/grpc_message.ts";
import { createApiHandler } from "../../lib/api/handler.ts";
import { Errors } from "../../lib/base/errors.ts";
import { KV, PutRequestSchema, PutResponseSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { FakeEtcd } from "./double.ts";

function envelope(msg: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(5 + msg.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, msg.length);
  out.set(msg, 5);
  return out;
}

async function* chunks(...parts: Uint8Array[]) {
  yield* parts;
}

async function call(
  body: Uint8Array[],
  headers: Record<string, string> = {},
): Promise<{ res: UniversalServerResponse; bytes: Uint8Array }> {
  const handler = createApiHandler({ services: new FakeEtcd().services() });
  const res = await handler({
    httpVersion: "2.0",
    url: "http://127.0.0.1/etcdserverpb.KV/Put",
    method: "POST",
    header: new Headers({ "content-type": "application/grpc", te: "trailers", ...headers }),
    body: chunks(...body),
    signal: new AbortController().signal,
  });
  const parts: number[] = [];
  for await (const c of res.body ?? chunks()) parts.push(...c);
  return { res, bytes: new Uint8Array(parts) };
}

const put = (key: string) =>
  toBinary(PutRequestSchema, create(PutRequestSchema, { key: new TextEncoder().encode(key) }));

Deno.test("gRPC unary: one message in any chunking, status 0 in the trailer", async () => {
  const env = envelope(put("a"));
  for (const body of [[env], [env.subarray(0, 2), env.subarray(2, 7), env.subarray(7)]]) {
    const { res, bytes } = await call(body);
    assert.equal(res.status, 200);
    assert.equal(res.trailer?.get("grpc-status"), "0");
    assert.equal(res.header?.get("content-type"), "application/grpc+proto");
    const len = new DataView(bytes.buffer).getUint32(1);
    assert.equal(bytes.length, 5 + len);
    const out = fromBinary(PutResponseSchema, bytes.subarray(5));
    assert.equal(out.header?.revision, 2n);
  }
});

Deno.test("gRPC unary: etcd errors and malformed framing become trailer statuses", async () => {
  const cases: [Uint8Array[], Record<string, string>, string, RegExp | string][] = [
    [[envelope(put(""))], {}, "3", Errors.emptyKey.message],
    [[], {}, "12", /missing input message/],
    [[envelope(put("a")).subarray(0, 7)], {}, "3", /promised/],
    [[envelope(put("a")), envelope(put("b"))], {}, "12", /extra input message/],
    [[envelope(put("a"), 1)], {}, "13", /compressed/],
    [[envelope(new Uint8Array([0xff, 0xff]))], {}, "13", /parse binary/],
    [[envelope(put("a"))], { "grpc-timeout": "bogus" }, "3", /invalid grpc timeout/],
  ];
  for (const [body, headers, status, message] of cases) {
    const { res, bytes } = await call(body, headers);
    assert.equal(res.status, 200);
    assert.equal(bytes.length, 0, `${status} ${message}`);
    assert.equal(res.trailer?.get("grpc-status"), status, String(message));
    const got = decodeURIComponent(res.trailer?.get("grpc-message") ?? "");
    if (typeof message === "string") {
      assert.equal(res.trailer?.get("grpc-message"), message); // spec encoding: ':' and ' ' kept
    } else assert.match(got, message);
  }
});

Deno.test("gRPC unary: compressed and JSON-codec calls go to Connect's handler", async () => {
  const json = await call([envelope(new TextEncoder().encode(`{"key":"YQ=="}`))], {
    "content-type": "application/grpc+json",
  });
  assert.equal(json.res.trailer?.get("grpc-status"), "0");
  assert.equal(json.res.header?.get("content-type"), "application/grpc+json");
  const gz = await call([envelope(put("a"))], { "grpc-encoding": "gzip" });
  assert.equal(gz.res.trailer?.get("grpc-status"), "12"); // Connect: unsupported compression
});

Deno.test("gRPC to a path with no service answers Unimplemented, unknown service", async () => {
  const handler = createApiHandler({ services: {} });
  const res = await handler({
    httpVersion: "2.0",
    url: "http://127.0.0.1/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    method: "POST",
    header: new Headers({ "content-type": "application/grpc" }),
    body: chunks(),
    signal: new AbortController().signal,
  });
  assert.equal(res.status, 200);
  assert.equal(res.trailer?.get("grpc-status"), "12");
  assert.equal(
    res.trailer?.get("grpc-message"),
    "unknown service grpc.reflection.v1alpha.ServerReflection",
  );
});

Deno.test("gRPC unary: direct path answers as Connect's gRPC handler, byte for byte", async () => {
  const runOn = async (
    h: UniversalHandlerFn,
    body: Uint8Array[],
    headers: Record<string, string>,
  ) => {
    const res = await h({
      httpVersion: "2.0",
      url: "http://127.0.0.1/etcdserverpb.KV/Put",
      method: "POST",
      header: new Headers({ "content-type": "application/grpc", te: "trailers", ...headers }),
      body: chunks(...body),
      signal: new AbortController().signal,
    });
    const parts: number[] = [];
    for await (const c of res.body ?? chunks()) parts.push(...c);
    const flat = (h?: Headers) => {
      const o: Record<string, string> = {};
      h?.forEach((v, k) => (o[k] = v));
      return o;
    };
    return {
      status: res.status,
      header: flat(res.header),
      body: parts,
      trailer: flat(res.trailer),
    };
  };
  const cases: [string, Uint8Array[], Record<string, string>][] = [
    ["ok", [envelope(put("a"))], {}],
    ["ok +proto", [envelope(put("a"))], { "content-type": "application/grpc+proto" }],
    ["etcd error", [envelope(put(""))], {}],
    ["garbled", [envelope(new Uint8Array([0xff, 0xff]))], {}],
    ["timeout header", [envelope(put("a"))], { "grpc-timeout": "5S" }],
  ];
  for (const [name, body, headers] of cases) {
    const ours = createApiHandler({ services: { kv: new FakeEtcd().services().kv } });
    const plain = createConnectRouter();
    const impl = new FakeEtcd().services().kv as unknown as Record<string, AnyImpl | undefined>;
    plain.service(KV, instrumentService(KV, impl, undefined) as never);
    const connect = plain.handlers.find((h) => h.requestPath === "/etcdserverpb.KV/Put");
    assert.ok(connect);
    const a = await runOn(ours, body, headers);
    const b = await runOn(connect, body, headers);
    // Connect percent-encodes grpc-message with encodeURIComponent; ours per the gRPC spec.
    if (b.trailer["grpc-message"]) {
      b.trailer["grpc-message"] = encodeGrpcMessage(decodeURIComponent(b.trailer["grpc-message"]));
    }
    assert.deepEqual(a, b, name);
  }
});
