import assert from "node:assert/strict";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { KV, Maintenance } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Errors } from "../../lib/base/errors.ts";
import { FakeEtcd } from "./double.ts";
import { startApi } from "./harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

const transports: [string, (url: string) => Transport][] = [
  ["connect+json", (baseUrl) => createConnectTransport({ baseUrl })],
  ["connect+proto", (baseUrl) => createConnectTransport({ baseUrl, useBinaryFormat: true })],
  ["grpc-web+proto", (baseUrl) => createGrpcWebTransport({ baseUrl, useBinaryFormat: true })],
  ["grpc-web+json", (baseUrl) => createGrpcWebTransport({ baseUrl })],
];

for (const [name, make] of transports) {
  Deno.test(`${name}: put, range, server streaming and etcd errors through one handler`, async () => {
    const fake = new FakeEtcd();
    const server = await startApi({ services: fake.services(), health: () => ({ healthy: true }) });
    try {
      const transport = make(server.url);
      const kv = createClient(KV, transport);
      const put = await kv.put({ key: enc("foo"), value: enc("bar") });
      assert.equal(put.header?.revision, 2n);
      const got = await kv.range({ key: enc("foo") });
      assert.equal(got.kvs.length, 1);
      assert.equal(dec(got.kvs[0].value), "bar");
      assert.equal(got.kvs[0].createRevision, 2n);
      assert.equal(got.count, 1n);

      // etcd's error: same gRPC code and exact message on every protocol.
      const err = await kv.put({ key: new Uint8Array(), value: enc("x") }).then(
        () => assert.fail("empty key accepted"),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(err.code, Code.InvalidArgument);
      assert.equal(err.rawMessage, Errors.emptyKey.message);

      const future = await kv.range({ key: enc("foo"), revision: 99n }).then(
        () => assert.fail("future revision accepted"),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(future.code, Code.OutOfRange);
      assert.equal(future.rawMessage, Errors.futureRev.message);

      // A method the server does not implement.
      const un = await kv.compact({ revision: 1n }).then(
        () => assert.fail("unimplemented method answered"),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(un.code, Code.Unimplemented);

      // Server streaming.
      const m = createClient(Maintenance, transport);
      const chunks: string[] = [];
      for await (const r of m.snapshot({})) chunks.push(dec(r.blob));
      assert.equal(chunks.join(""), "snapshot-bytes");
    } finally {
      await server.close();
    }
  });
}

Deno.test("unknown errors become Unknown without a stack", async () => {
  const server = await startApi({
    services: {
      kv: {
        range() {
          throw new TypeError("boom at secret place");
        },
      },
    },
  });
  try {
    const kv = createClient(KV, createConnectTransport({ baseUrl: server.url }));
    const err = await kv.range({ key: enc("a") }).then(
      () => assert.fail("no error"),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(err.code, Code.Unknown);
    assert.equal(err.rawMessage, "boom at secret place");
    assert.ok(!JSON.stringify(err.metadata).includes("at "));
  } finally {
    await server.close();
  }
});
