/**
 * The direct Connect unary path must answer exactly as Connect's own handler does: the same
 * status, content type and body bytes, for good calls, etcd errors and bad input.
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createConnectRouter, type HandlerContext } from "@connectrpc/connect";
import type { UniversalHandlerFn, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { createApiHandler } from "../../lib/api/handler.ts";
import { type AnyImpl, instrumentService } from "../../lib/api/instrument.ts";
import { KV, type PutRequest, PutRequestSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { FakeEtcd } from "./double.ts";

async function* from(chunks: Uint8Array[]) {
  yield* chunks;
}

async function run(h: UniversalHandlerFn, body: Uint8Array, headers: Record<string, string>) {
  const res: UniversalServerResponse = await h({
    httpVersion: "1.1",
    url: "http://127.0.0.1/etcdserverpb.KV/Put",
    method: "POST",
    header: new Headers(headers),
    body: from(body.length > 0 ? [body.subarray(0, 1), body.subarray(1)] : []),
    signal: new AbortController().signal,
  });
  const parts: number[] = [];
  for await (const c of res.body ?? from([])) parts.push(...c);
  const header: Record<string, string> = {};
  res.header?.forEach((v, k) => (header[k] = v));
  return { status: res.status, header, body: new TextDecoder().decode(new Uint8Array(parts)) };
}

Deno.test("Connect unary: direct path answers byte for byte as Connect's handler", async () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const proto = (key: string) =>
    toBinary(PutRequestSchema, create(PutRequestSchema, { key: enc(key), value: enc("v") }));
  const cases: [string, Uint8Array, Record<string, string>][] = [
    ["json ok", enc(`{"key":"YQ==","value":"Yg=="}`), { "content-type": "application/json" }],
    ["json charset", enc(`{"key":"YQ=="}`), { "content-type": "application/json; charset=utf-8" }],
    ["json unknown field", enc(`{"key":"YQ==","nope":1}`), { "content-type": "application/json" }],
    ["json etcd error", enc(`{"key":""}`), { "content-type": "application/json" }],
    ["json garbled", enc(`{"key":`), { "content-type": "application/json" }],
    ["json empty body", enc(""), { "content-type": "application/json" }],
    ["json bad field type", enc(`{"key":5}`), { "content-type": "application/json" }],
    ["proto ok", proto("a"), { "content-type": "application/proto" }],
    ["proto etcd error", proto(""), { "content-type": "application/proto" }],
    ["proto garbled", new Uint8Array([0xff, 0xff, 0xff]), { "content-type": "application/proto" }],
    ["proto empty body", new Uint8Array(), { "content-type": "application/proto" }],
    ["bad timeout", proto("a"), { "content-type": "application/proto", "connect-timeout-ms": "x" }],
    ["with version", proto("a"), {
      "content-type": "application/proto",
      "connect-protocol-version": "1",
    }],
    ["error with metadata", proto("meta"), { "content-type": "application/proto" }],
  ];
  // A service error carrying response metadata (key "meta"), which both paths must relay.
  const kv = () => {
    const base = new FakeEtcd().services().kv;
    return {
      ...base,
      put(r: PutRequest, ctx: HandlerContext) {
        if (new TextDecoder().decode(r.key) === "meta") {
          throw new ConnectError("no", Code.FailedPrecondition, { "x-why": "because" });
        }
        return base?.put?.(r, ctx);
      },
    };
  };
  for (const [name, body, headers] of cases) {
    const ours = createApiHandler({ services: { kv: kv() as never } });
    const plain = createConnectRouter();
    const impl = kv() as unknown as Record<string, AnyImpl | undefined>;
    plain.service(KV, instrumentService(KV, impl, undefined) as never);
    const connect = plain.handlers.find((h) => h.requestPath === "/etcdserverpb.KV/Put");
    assert.ok(connect);
    assert.deepEqual(await run(ours, body, headers), await run(connect, body, headers), name);
  }
});
