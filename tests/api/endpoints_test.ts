import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { KV } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Errors } from "../../lib/base/errors.ts";
import { ETCD_CLUSTER_VERSION, ETCD_COMPAT_VERSION } from "../../lib/base/version.ts";
import { MetricsRegistry } from "../../lib/api/metrics.ts";
import type { HealthQuery } from "../../lib/api/handler.ts";
import { FakeEtcd } from "./double.ts";
import { curl, startApi } from "./harness.ts";

Deno.test("/health, /version and /metrics on the API port", async () => {
  const registry = new MetricsRegistry();
  let healthy = true;
  const queries: HealthQuery[] = [];
  const fake = new FakeEtcd();
  const server = await startApi({
    services: fake.services(),
    metrics: registry,
    metricsExtensive: true,
    health: (q) => {
      queries.push(q);
      return healthy ? { healthy: true } : { healthy: false, reason: "no leader" };
    },
  });
  try {
    const u = server.url;
    assert.equal(await curl("-w", " %{http_code}", `${u}/health`), `{"health":"true"} 200`);
    healthy = false;
    assert.equal(
      await curl("-w", " %{http_code}", `${u}/health`),
      `{"health":"false","reason":"no leader"} 503`,
    );
    await curl(`${u}/health?serializable=true&exclude=NOSPACE&exclude=CORRUPT`);
    assert.deepEqual(queries, [
      { serializable: false, exclude: [] },
      { serializable: false, exclude: [] },
      { serializable: true, exclude: ["NOSPACE", "CORRUPT"] },
    ]);
    assert.deepEqual(JSON.parse(await curl(`${u}/version`)), {
      etcdserver: ETCD_COMPAT_VERSION,
      etcdcluster: ETCD_CLUSTER_VERSION,
    });
    await curl("-d", `{"key":"${btoa("a")}","value":"${btoa("b")}"}`, `${u}/v3/kv/put`);
    await curl("-d", `{"key":""}`, `${u}/v3/kv/put`);
    const kv = createClient(KV, createConnectTransport({ baseUrl: u }));
    await kv.range({ key: new TextEncoder().encode("a") });
    const text = await curl(`${u}/metrics`);
    assert.match(text, /^# TYPE grpc_server_handled_total counter$/m);
    const line = (labels: string) =>
      text.split("\n").find((l) => l.startsWith(`grpc_server_handled_total{${labels}}`));
    assert.equal(
      line('grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Put",grpc_code="OK"'),
      'grpc_server_handled_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Put",grpc_code="OK"} 1',
    );
    assert.ok(
      line(
        'grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Put",grpc_code="InvalidArgument"',
      )
        ?.endsWith(" 1"),
    );
    assert.ok(
      line('grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Range",grpc_code="OK"')
        ?.endsWith(" 1"),
    );
    assert.match(text, /^grpc_server_handling_seconds_count\{.*grpc_method="Put"\} 2$/m);
    assert.equal(
      await curl("-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", `${u}/version`),
      "405",
    );
  } finally {
    await server.close();
  }
});

Deno.test("/health without a health check is unhealthy, not a made-up answer", async () => {
  const server = await startApi({ services: {} });
  try {
    const out = await curl("-w", " %{http_code}", `${server.url}/health`);
    assert.equal(out, `{"health":"false","reason":"no health check configured"} 503`);
  } finally {
    await server.close();
  }
});

Deno.test("CORS: preflight answered, protocol headers exposed, origin list enforced", async () => {
  const open = await startApi({ services: new FakeEtcd().services() });
  const closed = await startApi({
    services: new FakeEtcd().services(),
    cors: { allowedOrigins: ["https://ok.example"] },
  });
  try {
    const pre = await fetch(`${open.url}/etcdserverpb.KV/Range`, {
      method: "OPTIONS",
      headers: {
        Origin: "https://any.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,connect-protocol-version,x-custom",
      },
    });
    await pre.body?.cancel();
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("Access-Control-Allow-Origin"), "*");
    assert.match(pre.headers.get("Access-Control-Allow-Methods") ?? "", /POST/);
    const allowHeaders = (pre.headers.get("Access-Control-Allow-Headers") ?? "").toLowerCase();
    for (
      const h of [
        "content-type",
        "connect-protocol-version",
        "x-grpc-web",
        "x-custom",
        "authorization",
      ]
    ) {
      assert.ok(allowHeaders.includes(h), h);
    }
    const res = await fetch(`${open.url}/etcdserverpb.KV/Range`, {
      method: "POST",
      headers: { Origin: "https://any.example", "Content-Type": "application/json" },
      body: "{}",
    });
    await res.body?.cancel();
    assert.equal(res.headers.get("Access-Control-Allow-Origin"), "*");
    const exposed = (res.headers.get("Access-Control-Expose-Headers") ?? "").toLowerCase();
    for (const h of ["grpc-status", "grpc-message", "grpc-status-details-bin"]) {
      assert.ok(exposed.includes(h), h);
    }

    const denied = await fetch(`${closed.url}/v3/kv/range`, {
      method: "OPTIONS",
      headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" },
    });
    await denied.body?.cancel();
    assert.equal(denied.status, 403);
    const allowed = await fetch(`${closed.url}/v3/kv/range`, {
      method: "OPTIONS",
      headers: { Origin: "https://ok.example", "Access-Control-Request-Method": "POST" },
    });
    await allowed.body?.cancel();
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get("Access-Control-Allow-Origin"), "https://ok.example");
  } finally {
    await open.close();
    await closed.close();
  }
});

Deno.test("requests over --max-request-bytes get etcd's request-too-large error", async () => {
  const fake = new FakeEtcd();
  // 1 KiB limit + 512 KiB of framing allowance, as etcd adds.
  const server = await startApi({ services: fake.services(), maxRequestBytes: 1024 });
  try {
    const big = new Uint8Array(600 * 1024).fill(97);
    const kv = createClient(
      KV,
      createConnectTransport({ baseUrl: server.url, useBinaryFormat: true }),
    );
    const err = await kv.put({ key: new TextEncoder().encode("k"), value: big }).then(
      () => assert.fail("oversized put accepted"),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(err.code, Code.InvalidArgument);
    assert.equal(err.rawMessage, Errors.requestTooLarge.message);
    // Within the limit still works.
    await kv.put({ key: new TextEncoder().encode("k"), value: new Uint8Array(1000) });

    const body = JSON.stringify({ key: btoa("k"), value: btoa("a".repeat(600 * 1024)) });
    const tmp = await Deno.makeTempFile();
    try {
      await Deno.writeTextFile(tmp, body);
      const out = await curl(
        "-w",
        "\n%{http_code}",
        "--data-binary",
        `@${tmp}`,
        `${server.url}/v3/kv/put`,
      );
      const [json, status] = out.split("\n");
      assert.equal(status, "400");
      assert.deepEqual(JSON.parse(json), {
        error: Errors.requestTooLarge.message,
        message: Errors.requestTooLarge.message,
        code: 3,
      });
    } finally {
      await Deno.remove(tmp);
    }
    assert.equal(fake.calls.filter((c) => c === "Put").length, 1);
  } finally {
    await server.close();
  }
});
