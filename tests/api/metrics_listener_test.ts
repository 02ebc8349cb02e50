/**
 * --listen-metrics-urls and --metrics: the extra listeners serve /metrics and /health only
 * (https with the client TLS files, as etcd), and the flags are parsed and refused as etcd's.
 */
import assert from "node:assert/strict";
import { parseServeFlags } from "../../lib/cli/serve_flags.ts";
import { ConfigError } from "../../lib/server/config.ts";
import { startServer } from "../../lib/api/member_server.ts";
import { startTestServer, testConfig } from "../server/harness.ts";
import { sample } from "./prom_text.ts";

const dec = new TextDecoder();

async function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A self-signed P-256 certificate for 127.0.0.1 as ca.pem, with key.pem, in `dir`. */
async function selfSigned(dir: string): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args: [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
      ...["-nodes", "-keyout", "key.pem", "-out", "ca.pem", "-days", "2"],
      ...["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
    ],
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`openssl: ${dec.decode(out.stderr)}`);
}

Deno.test("metrics flags: etcd's names; --metrics takes basic or extensive only", () => {
  const { config } = parseServeFlags([
    "--listen-metrics-urls",
    "http://127.0.0.1:2381,https://127.0.0.1:2382",
    "--metrics=extensive",
  ]);
  assert.deepEqual(config.listenMetricsUrls?.map((u) => u.href), [
    "http://127.0.0.1:2381/",
    "https://127.0.0.1:2382/",
  ]);
  assert.equal(config.metrics, "extensive");
  assert.equal(parseServeFlags([]).config.metrics, undefined); // etcd's default: basic
  assert.throws(
    () => parseServeFlags(["--metrics", "full"]),
    (e) => e instanceof ConfigError && /--metrics: must be basic or extensive/.test(e.message),
  );
  assert.throws(
    () => parseServeFlags(["--listen-metrics-urls", "unix://x"]),
    (e) => e instanceof ConfigError && /must use http or https/.test(e.message),
  );
});

Deno.test("--listen-metrics-urls serves /metrics and /health only, sharing the counters", async () => {
  const t = await startTestServer((c) => {
    c.listenMetricsUrls = [new URL("http://127.0.0.1:0")];
  });
  try {
    const [m] = t.server.metricsUrls;
    assert.match(m, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(m, t.url);
    await t.ok(["put", "k", "v"]);
    assert.deepEqual(await (await fetch(`${m}/health`)).json(), { health: "true" });
    const text = await (await fetch(`${m}/metrics`)).text();
    assert.equal(sample(text, "etcd_mvcc_put_total"), 1);
    assert.equal(sample(text, "etcd_server_health_success"), 1);
    // the client port's /metrics is the same registry
    const client = await (await fetch(`${t.url}/metrics`)).text();
    assert.equal(sample(client, "etcd_server_health_success"), 1);
    assert.equal(sample(client, 'promhttp_metric_handler_requests_total{code="200"}'), 1);
    // nothing else: no KV over the metrics port
    const kv = await fetch(`${m}/v3/kv/range`, { method: "POST", body: '{"key":"aw=="}' });
    assert.equal(kv.status, 404);
    await kv.body?.cancel();
    const post = await fetch(`${m}/metrics`, { method: "POST" });
    assert.equal(post.status, 405);
    await post.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("--listen-metrics-urls https uses the client TLS files; without them start-up is refused", async () => {
  const certs = await Deno.makeTempDir({ prefix: "concord-metrics-tls-" });
  try {
    await selfSigned(certs);
    const t = await startTestServer((c) => {
      c.listenMetricsUrls = [new URL("https://127.0.0.1:0")];
      c.tls.certFile = `${certs}/ca.pem`;
      c.tls.keyFile = `${certs}/key.pem`;
    });
    try {
      const [m] = t.server.metricsUrls;
      assert.match(m, /^https:/);
      const r = await curl(["--cacert", `${certs}/ca.pem`, `${m}/health`]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { health: "true" });
    } finally {
      await t.close();
    }
    const dir = await Deno.makeTempDir({ prefix: "concord-metrics-" });
    try {
      await assert.rejects(
        startServer(
          testConfig(dir, (c) => (c.listenMetricsUrls = [new URL("https://127.0.0.1:0")])),
          { log: () => {} },
        ),
        (e) => e instanceof ConfigError && /--listen-metrics-urls https:/.test(e.message),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  } finally {
    await Deno.remove(certs, { recursive: true });
  }
});
