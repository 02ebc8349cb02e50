/**
 * https client URLs: an openssl self-signed certificate for 127.0.0.1, etcdctl 3.4 and curl
 * trusting it, and the refusal of --client-cert-auth (Deno cannot request client certs).
 */
import assert from "node:assert/strict";
import { startTestServer, testConfig } from "./harness.ts";
import { ConfigError } from "../../lib/server/config.ts";
import { startServer } from "../../lib/api/member_server.ts";

const dec = new TextDecoder();

/** Writes a self-signed P-256 certificate for IP 127.0.0.1 as ca.pem with its key.pem. */
async function selfSigned(dir: string): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args: [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
      ...["-nodes", "-keyout", "key.pem", "-out", "ca.pem", "-days", "2"],
      ...["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
      ...["-addext", "basicConstraints=critical,CA:TRUE"],
    ],
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`openssl: ${dec.decode(out.stderr)}`);
}

async function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("tls: etcdctl and curl over https with --cert-file/--key-file", async () => {
  const certs = await Deno.makeTempDir({ prefix: "concord-tls-" });
  try {
    await selfSigned(certs);
    const s = await startTestServer((c) => {
      c.listenClientUrls = [new URL("https://127.0.0.1:0")];
      c.tls.certFile = `${certs}/ca.pem`;
      c.tls.keyFile = `${certs}/key.pem`;
    });
    try {
      assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = ["--cacert", `${certs}/ca.pem`];
      assert.equal(await s.ok([...ca, "put", "k", "v"]), "OK\n");
      assert.equal(await s.ok([...ca, "get", "k"]), "k\nv\n");
      const health = await curl(["--cacert", `${certs}/ca.pem`, `${s.url}/health`]);
      assert.equal(health.code, 0, health.stderr);
      assert.deepEqual(JSON.parse(health.stdout), { health: "true" });
      // without the CA the self-signed certificate is not trusted
      const untrusted = await curl([`${s.url}/health`]);
      assert.notEqual(untrusted.code, 0);
      assert.match(untrusted.stderr, /certificate/i);
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(certs, { recursive: true });
  }
});

Deno.test("tls: --client-cert-auth is refused at start, naming the limitation", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-tls-" });
  try {
    const cfg = testConfig(dir, (c) => {
      c.listenClientUrls = [new URL("https://127.0.0.1:0")];
      c.tls = {
        certFile: `${dir}/c.pem`,
        keyFile: `${dir}/k.pem`,
        trustedCaFile: `${dir}/ca.pem`,
        clientCertAuth: true,
      };
    });
    await assert.rejects(startServer(cfg, { log: () => {} }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /--client-cert-auth .*cannot request or verify client cert/);
      return true;
    });
    // a missing certificate file is named
    cfg.tls.clientCertAuth = false;
    await assert.rejects(startServer(cfg, { log: () => {} }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /--cert-file .*c\.pem: cannot read/);
      return true;
    });
    // both refusals come before the member touches the data dir
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
