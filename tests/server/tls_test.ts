/**
 * https client URLs: an openssl self-signed certificate for 127.0.0.1, etcdctl 3.4 and curl
 * trusting it; start-up refusals of unservable TLS settings and etcd's warnings for http URLs
 * (client certificates themselves: mtls_test.ts).
 */
import assert from "node:assert/strict";
import { startTestServer, testConfig } from "./harness.ts";
import { ConfigError } from "../../lib/server/config.ts";
import { startServer } from "../../lib/api/member_server.ts";
import { clientTlsWarnings } from "../../lib/api/client_tls.ts";

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

Deno.test("tls: --client-cert-auth without --trusted-ca-file, or a missing file, is refused at start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-tls-" });
  try {
    await selfSigned(dir);
    const cfg = testConfig(dir, (c) => {
      c.listenClientUrls = [new URL("https://127.0.0.1:0")];
      c.tls = {
        certFile: `${dir}/ca.pem`,
        keyFile: `${dir}/key.pem`,
        trustedCaFile: "",
        clientCertAuth: true,
      };
    });
    await assert.rejects(startServer(cfg, { log: () => {} }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, "--client-cert-auth needs --trusted-ca-file");
      return true;
    });
    // each missing file is named
    for (const flag of ["--cert-file", "--key-file", "--trusted-ca-file"] as const) {
      cfg.tls = {
        certFile: flag === "--cert-file" ? `${dir}/nope.pem` : `${dir}/ca.pem`,
        keyFile: flag === "--key-file" ? `${dir}/nope.pem` : `${dir}/key.pem`,
        trustedCaFile: flag === "--trusted-ca-file" ? `${dir}/nope.pem` : `${dir}/ca.pem`,
        clientCertAuth: true,
      };
      await assert.rejects(startServer(cfg, { log: () => {} }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, new RegExp(`^${flag} .*nope\\.pem: cannot read`));
        return true;
      });
    }
    // a CA file without a certificate
    cfg.tls.trustedCaFile = `${dir}/key.pem`;
    await assert.rejects(
      startServer(cfg, { log: () => {} }),
      /--trusted-ca-file .*no PEM CERTIFICATE/,
    );
    // the refusals come before the member touches the data dir
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["ca.pem", "key.pem"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tls: --client-cert-auth and key files on http urls are ignored with etcd's warnings", () => {
  const cfg = testConfig("/nonexistent", (c) => {
    c.listenClientUrls = [new URL("http://127.0.0.1:2379"), new URL("https://127.0.0.1:2389")];
    c.tls = { certFile: "c.pem", keyFile: "k.pem", trustedCaFile: "", clientCertAuth: true };
  });
  assert.deepEqual(clientTlsWarnings(cfg), [
    "The scheme of client url http://127.0.0.1:2379 is HTTP while peer key/cert files are " +
    "presented. Ignored key/cert files.",
    "The scheme of client url http://127.0.0.1:2379 is HTTP while client cert auth " +
    "(--client-cert-auth) is enabled. Ignored client cert auth for this url.",
  ]);
  cfg.listenClientUrls = [new URL("https://127.0.0.1:2389")];
  assert.deepEqual(clientTlsWarnings(cfg), []);
});

Deno.test("tls: --client-cert-auth on http urls only: served in the clear, as etcd does", async () => {
  const s = await startTestServer((c) => {
    c.tls = { certFile: "", keyFile: "", trustedCaFile: "", clientCertAuth: true };
  });
  try {
    assert.match(s.url, /^http:/);
    assert.equal(await s.ok(["put", "k", "v"]), "OK\n");
  } finally {
    await s.close();
  }
});
