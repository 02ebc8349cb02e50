import assert from "node:assert/strict";
import { Client, type EtcdError, GrpcCode } from "../../lib/client/mod.ts";
import { freePort } from "../support/etcd.ts";
import { webTransport } from "../../lib/client/transport.ts";
import { grpcTransportForTests, startConcordGrpc } from "./targets.ts";

Deno.test("retry: a member that refuses connections is passed over, for reads and writes", async () => {
  const t = await startConcordGrpc();
  const dead = `http://127.0.0.1:${freePort()}`;
  const c = new Client({ endpoints: [dead, t.url], transport: grpcTransportForTests() });
  try {
    // a refused connection proves the request was never sent: writes are retried too
    for (let i = 0; i < 10; i++) await c.put(`r/${i}`, "x");
    assert.equal((await c.range("r/", { prefix: true })).count, 10n);
    // only one endpoint, and it is down: the call fails with Unavailable after its retries
    const lone = new Client({
      endpoints: [dead],
      transport: grpcTransportForTests(),
      timeoutMs: 2000,
    });
    try {
      await assert.rejects(lone.get("k"), (e) => {
        const code = (e as EtcdError).code;
        return code === GrpcCode.Unavailable || code === GrpcCode.DeadlineExceeded;
      });
    } finally {
      await lone.close();
    }
  } finally {
    await c.close();
    await t.stop();
  }
});

Deno.test("retry: a closed client fails calls with Canceled", async () => {
  const t = await startConcordGrpc();
  const c = t.client();
  await c.put("k", "v");
  await c.close();
  await assert.rejects(c.get("k"), (e) => (e as EtcdError).code === GrpcCode.Canceled);
  await t.stop();
});

Deno.test("retry: over gRPC-web, reads pass over a dead member; a write to it fails once", async () => {
  const t = await startConcordGrpc();
  const dead = `http://127.0.0.1:${freePort()}`;
  const c = new Client({ endpoints: [dead, t.url], transport: webTransport });
  try {
    for (let i = 0; i < 4; i++) assert.equal(await c.get("nothing"), undefined);
    // fetch cannot tell a refused connection from one lost after sending: a write that met
    // the dead member fails, and the member is then passed over
    const c2 = new Client({ endpoints: [dead, t.url], transport: webTransport });
    try {
      await assert.rejects(c2.put("w", "1"), (e) => (e as EtcdError).code === GrpcCode.Unavailable);
      await c2.put("w", "2");
      assert.equal(await c2.getText("w"), "2");
    } finally {
      await c2.close();
    }
  } finally {
    await c.close();
    await t.stop();
  }
});
