import assert from "node:assert/strict";
import { startServer } from "../../lib/api/member_server.ts";
import { testConfig } from "../server/harness.ts";

Deno.test("--enable-grpc-gateway=false: the JSON gateway's /v3/ paths are 404, the rest serves", async () => {
  for (const enabled of [true, false]) {
    const dir = await Deno.makeTempDir({ prefix: "concord-gw-" });
    const server = await startServer(
      testConfig(dir, (c) => (c.enableGrpcGateway = enabled)),
      { log: () => {} },
    );
    try {
      await server.member.ready;
      const u = server.clientUrls[0];
      const r = await fetch(`${u}/v3/kv/range`, { method: "POST", body: '{"key":"Zm9v"}' });
      await r.body?.cancel();
      assert.equal(r.status, enabled ? 200 : 404);
      const h = await fetch(`${u}/health`);
      await h.body?.cancel();
      assert.equal(h.status, 200);
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  }
});
