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
import { type EtcdProcess, startEtcd } from "../support/etcd.ts";

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

/** A real etcd 3.4 serving https with the PKI's server certificate and --client-cert-auth. */
function startEtcdMtls(pki: Pki): Promise<EtcdProcess> {
  return startEtcd("e", {
    certFile: pki.server.cert,
    keyFile: pki.server.key,
    trustedCaFile: pki.ca,
    clientCertAuth: true,
    client: pki.clients.root,
  });
}

/**
 * One etcdctl step: whose certificate it presents, then its arguments. The script sets up
 * users and roles with root's certificate (CN=root, no password given), enables auth, and
 * then calls as each certificate with and without a token.
 */
const SCRIPT: [string, string[]][] = [
  ["root", ["user", "add", "root:rootpw"]],
  ["root", ["user", "grant-role", "root", "root"]],
  ["root", ["user", "add", "alice:alicepw"]],
  ["root", ["role", "add", "reader"]],
  ["root", ["role", "grant-permission", "--prefix=true", "reader", "readwrite", "a/"]],
  ["root", ["user", "grant-role", "alice", "reader"]],
  ["root", ["auth", "enable"]],
  // The CN is the user when the request carries no token.
  ["alice", ["put", "a/1", "x"]],
  ["alice", ["get", "a/1"]],
  ["alice", ["put", "b", "x"]],
  ["alice", ["user", "list"]],
  ["root", ["user", "list"]],
  ["root", ["put", "b", "y"]],
  // An unknown CN, and a certificate without a CN.
  ["bob", ["get", "a/1"]],
  ["bob", ["user", "list"]],
  ["nocn", ["get", "a/1"]],
  ["nocn", ["user", "list"]],
  // A token wins over the certificate, both ways.
  ["bob", ["--user", "alice:alicepw", "get", "a/1"]],
  ["root", ["--user", "alice:alicepw", "get", "b"]],
  ["alice", ["--user", "root:wrong", "get", "a/1"]],
  // Permission changes apply to the CN user at once.
  ["root", ["role", "revoke-permission", "--prefix=true", "reader", "a/"]],
  ["alice", ["get", "a/1"]],
  ["root", ["auth", "disable"]],
  ["bob", ["get", "a/1"]],
];

/** etcdctl's answer without log lines (etcd's client logs retries as JSON). */
async function step(url: string, pki: Pki, who: string, args: string[]): Promise<string> {
  const r = await etcdctl(url, [...certArgs(pki, who), "--command-timeout", "5s", ...args]);
  const err = r.stderr.split("\n").filter((l) => l.startsWith("Error:")).join("\n");
  return `${who} ${args.join(" ")} -> ${r.code}\n${r.stdout}${err}`;
}

Deno.test("mtls: the client certificate's CN as the user, same answers as etcd 3.4", async () => {
  const pki = await makePki({ root: "root", alice: "alice", bob: "bob", nocn: "" });
  try {
    const etcd = await startEtcdMtls(pki);
    const ours: string[] = [];
    const theirs: string[] = [];
    try {
      const s = await startConcord(pki, true);
      try {
        for (const [who, args] of SCRIPT) {
          theirs.push(await step(etcd.url, pki, who, args));
          ours.push(await step(s.url, pki, who, args));
        }
      } finally {
        await s.close();
      }
    } finally {
      await etcd.stop();
    }
    assert.deepEqual(ours, theirs);
    // The comparison covered what it meant to: the CN was honoured and refused.
    assert.match(theirs[8], /^alice get a\/1 -> 0\na\/1\nx\n$/);
    assert.match(theirs[9], /permission denied/);
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("mtls: an etcdctl watch over a client-certificate listener, open at shutdown", async () => {
  const pki = await makePki({ alice: "alice" });
  try {
    const s = await startConcord(pki, true);
    let closed = false;
    let watcher: Deno.ChildProcess | undefined;
    try {
      const alice = certArgs(pki, "alice");
      assert.equal(await s.ok([...alice, "put", "k", "v1"]), "OK\n");
      watcher = new Deno.Command("etcdctl", {
        args: ["--endpoints", s.url, ...alice, "watch", "k", "--rev=1"],
        env: { ETCDCTL_API: "3" },
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = watcher.stdout.getReader();
      let seen = "";
      while (!seen.includes("v1\n")) {
        const r = await reader.read();
        if (r.done) throw new Error(`watch ended early: ${seen}`);
        seen += dec.decode(r.value);
      }
      assert.equal(seen, "PUT\nk\nv1\n");
      await s.ok([...alice, "put", "k", "v2"]);
      while (!seen.includes("v2\n")) {
        const r = await reader.read();
        if (r.done) throw new Error(`watch ended early: ${seen}`);
        seen += dec.decode(r.value);
      }
      // Shutdown ends the watch stream: etcdctl sees the connection go and exits.
      closed = true;
      await s.close();
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
      }
      reader.releaseLock();
      await watcher.status;
      watcher = undefined;
    } finally {
      if (watcher !== undefined) {
        watcher.kill();
        await watcher.stdout.cancel();
        await watcher.status;
      }
      if (!closed) await s.close();
    }
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("mtls: with auth on, a gateway call whose certificate names a user gets etcd's 400", async () => {
  const pki = await makePki({ root: "root", alice: "alice" });
  try {
    const s = await startConcord(pki, true);
    try {
      const root = certArgs(pki, "root");
      const alice = certArgs(pki, "alice");
      const range = (who: string[]) =>
        curl([...who, "-w", "\n%{http_code}", "-d", '{"key":"YQ=="}', `${s.url}/v3/kv/range`]);
      // auth off: the gateway serves it
      const open = await range(alice);
      assert.equal(open.code, 0, open.err);
      assert.equal(open.out.split("\n").pop(), "200");
      await s.ok([...root, "user", "add", "root:rootpw"]);
      await s.ok([...root, "user", "grant-role", "root", "root"]);
      await s.ok([...root, "auth", "enable"]);
      // auth on: etcd 3.4 refuses rather than silently ignoring the CN (embed/serve.go)
      const refused = await range(alice);
      assert.equal(
        refused.out,
        "CommonName of client sending a request against gateway will be ignored and not used " +
          "as expected\n\n400",
        refused.err,
      );
      // /health is not a gateway call
      const health = await curl([...alice, `${s.url}/health`]);
      assert.deepEqual(JSON.parse(health.out), { health: "true" });
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});
