/**
 * `concord serve --client-cert-auth --trusted-ca-file …` on an https client URL, with the real
 * etcdctl 3.4 and curl presenting client certificates from a throwaway PKI; and the same
 * etcdctl script against a real etcd 3.4 started with the same certificates and flags, to
 * compare etcd's client-certificate semantics (the CN names the user of a request without a
 * token; a token wins over the certificate; an unknown CN is refused).
 */
import assert from "node:assert/strict";
import { etcdctl, startTestServer, type TestServer } from "./harness.ts";
import { makePki, type Pki } from "../http/mtls_pki.ts";
import { freePort } from "../support/etcd.ts";

const dec = new TextDecoder();
/** A refused handshake makes etcdctl retry until its command timeout: keep that short. */
const FAST_FAIL = ["--dial-timeout", "1s", "--command-timeout", "1s"];

async function curl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "10", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

/** etcdctl's TLS flags presenting client `name`'s certificate ("" for none). */
function certArgs(pki: Pki, name: string): string[] {
  if (name === "") return ["--cacert", pki.ca];
  const c = name === "stranger" ? pki.stranger : pki.clients[name];
  return ["--cacert", pki.ca, "--cert", c.cert, "--key", c.key];
}

/** A Concord member on https with the PKI's server certificate and CA. */
function startConcord(pki: Pki, clientCertAuth: boolean): Promise<TestServer> {
  return startTestServer((c) => {
    c.listenClientUrls = [new URL("https://127.0.0.1:0")];
    c.tls = {
      certFile: pki.server.cert,
      keyFile: pki.server.key,
      trustedCaFile: pki.ca,
      clientCertAuth,
    };
  });
}

Deno.test("mtls: etcdctl and curl with a client certificate; without one, refused", async () => {
  const pki = await makePki({ alice: "alice" });
  try {
    const s = await startConcord(pki, true);
    try {
      const alice = certArgs(pki, "alice");
      assert.equal(await s.ok([...alice, "put", "k", "v"]), "OK\n");
      assert.equal(await s.ok([...alice, "get", "k"]), "k\nv\n");
      for (const who of ["", "stranger"]) {
        const r = await etcdctl(s.url, [...certArgs(pki, who), ...FAST_FAIL, "get", "k"]);
        assert.notEqual(r.code, 0, `${who || "no certificate"}: ${r.stdout}`);
        assert.equal(r.stdout, "");
      }
      for (const [flag, version] of [["--http2", "2"], ["--http1.1", "1.1"]]) {
        const ok = await curl([...alice, flag, "-w", "\n%{http_version}", `${s.url}/health`]);
        assert.equal(ok.code, 0, ok.err);
        const [body, got] = ok.out.split("\n");
        assert.deepEqual(JSON.parse(body), { health: "true" });
        assert.equal(got, version);
        const refused = await curl(["--cacert", pki.ca, flag, `${s.url}/health`]);
        assert.notEqual(refused.code, 0);
        assert.equal(refused.out, "");
      }
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("mtls: --trusted-ca-file alone also requires a client certificate (etcd 3.4)", async () => {
  // etcd's TLSInfo.ServerConfig sets RequireAndVerifyClientCert for a trusted CA file even
  // without --client-cert-auth; only the CN-as-user rule needs --client-cert-auth.
  const pki = await makePki({ alice: "alice" });
  try {
    const s = await startConcord(pki, false);
    try {
      assert.equal(await s.ok([...certArgs(pki, "alice"), "put", "k", "v"]), "OK\n");
      const r = await etcdctl(s.url, [...certArgs(pki, ""), ...FAST_FAIL, "get", "k"]);
      assert.notEqual(r.code, 0, r.stdout);
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});
