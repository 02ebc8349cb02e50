/**
 * The client's rangeStream (etcd 3.7's RangeStream) on Concord over gRPC and gRPC-web: chunks
 * merge into what range answers, a namespace keeps its keys inside, breaking out of the loop
 * ends the stream; etcd 3.4, which has no RangeStream, answers Unimplemented.
 */
import assert from "node:assert/strict";
import { type Client, GrpcCode, Namespace, text } from "../../lib/client/mod.ts";
import type { RangeResponse } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { startConcord, startConcordGrpc, startEtcdTarget } from "./targets.ts";

async function merged(chunks: AsyncIterable<RangeResponse>) {
  const keys: string[] = [];
  let last: RangeResponse | undefined;
  let n = 0;
  for await (const c of chunks) {
    for (const kv of c.kvs) keys.push(text(kv.key));
    last = c;
    n++;
  }
  return { keys, count: last?.count, more: last?.more, rev: last?.header?.revision, chunks: n };
}

async function fill(c: Client): Promise<void> {
  for (let i = 0; i < 400; i += 50) {
    await Promise.all(
      Array.from(
        { length: 50 },
        (_, j) => c.put(`app/k${String(i + j).padStart(4, "0")}`, "v".repeat(200)),
      ),
    );
  }
  await c.put("outside", "x");
}

Deno.test("client rangeStream: Range's answer in chunks on Concord (gRPC and gRPC-web)", async () => {
  for (const start of [startConcordGrpc, startConcord]) {
    const t = await start();
    try {
      const c = t.client();
      await fill(c);
      const want = await c.kv.range("app/", { prefix: true, limit: 300 });
      const got = await merged(c.kv.rangeStream("app/", { prefix: true, limit: 300 }));
      assert.deepEqual(got.keys, want.kvs.map((kv) => text(kv.key)), t.name);
      assert.equal(got.count, 400n);
      assert.equal(got.more, true);
      assert.equal(got.rev, want.header!.revision);
      assert.ok(got.chunks > 3, `${t.name}: ${got.chunks} chunks`);

      const ns = new Namespace(c, "app/");
      const inside = await merged(ns.rangeStream("", { fromKey: true }));
      assert.equal(inside.keys.length, 400);
      assert.equal(inside.keys[0], "k0000");

      // leaving the loop early ends the call
      let seen = 0;
      for await (const chunk of c.kv.rangeStream("app/", { prefix: true })) {
        seen += chunk.kvs.length;
        break;
      }
      assert.ok(seen > 0 && seen < 400, `${seen}`);
      await assert.rejects(
        merged(
          c.kv.rangeStream("app/", { prefix: true, sort: { target: "value", order: "descend" } }),
        ),
        (e: { code?: number; message: string }) =>
          e.code === GrpcCode.Unimplemented && /custom sort orders/.test(e.message),
      );
    } finally {
      await t.stop();
    }
  }
});

Deno.test("client rangeStream: etcd 3.4 has none and says Unimplemented", async () => {
  const t = await startEtcdTarget();
  try {
    const c = t.client();
    await c.put("a", "b");
    await assert.rejects(
      merged(c.kv.rangeStream("a")),
      (e: { code?: number }) => e.code === GrpcCode.Unimplemented,
    );
  } finally {
    await t.stop();
  }
});
