/** The load generator's h2c gRPC client against a real etcd 3.4. */
import assert from "node:assert/strict";
import { GrpcError } from "../../bench/loadgen/grpc_call.ts";
import { H2GrpcConn } from "../../bench/loadgen/h2_grpc.ts";
import { KV, Lease, Watch } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { startEtcd } from "./etcd.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("h2 gRPC client: unary calls, errors, concurrency, large responses, close", async () => {
  const etcd = await startEtcd();
  const conn = await H2GrpcConn.connect(etcd.endpoint);
  try {
    const put = await conn.unary(KV.method.put, { key: enc("a"), value: enc("1") });
    assert.ok(put.header!.revision > 1n);
    const got = await conn.unary(KV.method.range, { key: enc("a") });
    assert.equal(new TextDecoder().decode(got.kvs[0].value), "1");

    // etcd answers a failed unary call "trailers-only": the status is in the response headers.
    const err = await conn.unary(KV.method.put, { key: new Uint8Array(), value: enc("x") }).then(
      () => assert.fail("empty key accepted"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof GrpcError);
    assert.equal(err.code, 3);
    assert.equal(err.grpcMessage, "etcdserver: key is not provided");

    // 300 concurrent streams on one connection, each answered with its own key.
    const keys = Array.from({ length: 300 }, (_, i) => `k${String(i).padStart(3, "0")}`);
    await Promise.all(
      keys.map((k) => conn.unary(KV.method.put, { key: enc(k), value: enc(`v-${k}`) })),
    );
    const reads = await Promise.all(keys.map((k) => conn.unary(KV.method.range, { key: enc(k) })));
    reads.forEach((r, i) => assert.equal(new TextDecoder().decode(r.kvs[0].value), `v-${keys[i]}`));

    // A response spanning several DATA frames (> 16 KiB max frame, > 64 KiB default window).
    const big = new Uint8Array(100 * 1024).fill(7);
    await conn.unary(KV.method.put, { key: enc("big"), value: big.subarray(0, 60_000) });
    await conn.unary(KV.method.put, { key: enc("big2"), value: big.subarray(0, 60_000) });
    const both = await conn.unary(KV.method.range, { key: enc("big"), rangeEnd: enc("big3") });
    assert.equal(both.kvs.length, 2);
    assert.equal(both.kvs[0].value.length + both.kvs[1].value.length, 120_000);
  } finally {
    // The client closes before etcd stops (no GOAWAY reaches an open connection).
    await conn.close();
    await etcd.stop();
  }
  await assert.rejects(conn.unary(KV.method.range, { key: enc("a") }), GrpcError);
});

Deno.test("h2 gRPC client: bidi streams (watch events, lease keep-alive), cancel, errors", async () => {
  const etcd = await startEtcd();
  const conn = await H2GrpcConn.connect(etcd.endpoint);
  try {
    const watch = await conn.stream(Watch.method.watch);
    await watch.send({ requestUnion: { case: "createRequest", value: { key: enc("w") } } });
    const created = await watch.next();
    assert.equal(created?.created, true);
    // Events larger than one 16 KiB DATA frame; 150 KB over one stream (> a 64 KiB window).
    const value = new Uint8Array(30_000).fill(1);
    for (let i = 0; i < 5; i++) await conn.unary(KV.method.put, { key: enc("w"), value });
    let events = 0;
    while (events < 5) {
      const r = await watch.next();
      assert.ok(r, "watch stream ended early");
      for (const ev of r.events) assert.equal(ev.kv?.value.length, 30_000);
      events += r.events.length;
    }
    assert.equal(events, 5);
    watch.cancel();
    assert.equal(await watch.next(), undefined);

    const { ID } = await conn.unary(Lease.method.leaseGrant, { TTL: 60n });
    const ka = await conn.stream(Lease.method.leaseKeepAlive);
    for (let i = 0; i < 3; i++) {
      await ka.send({ ID });
      const r = await ka.next();
      assert.equal(r?.ID, ID);
      assert.equal(r?.TTL, 60n);
    }
    await ka.closeSend();
    assert.equal(await ka.next(), undefined);

    // A revoked lease: etcd answers the keep-alive with TTL 0.
    await conn.unary(Lease.method.leaseRevoke, { ID });
    const again = await conn.stream(Lease.method.leaseKeepAlive);
    await again.send({ ID });
    assert.equal((await again.next())?.TTL, 0n);
    again.cancel();
  } finally {
    await conn.close();
    await etcd.stop();
  }
});
