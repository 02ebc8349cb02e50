/**
 * `--auth-token jwt,…` end to end: keys made by openssl, etcdctl 3.4 authenticating against an
 * in-process server, and the issued token checked as a JWT and used over the REST gateway.
 */
import assert from "node:assert/strict";
import { startTestServer } from "./harness.ts";
import { ConfigError } from "../../lib/server/config.ts";
import { startServer } from "../../lib/api/member_server.ts";
import { testConfig } from "./harness.ts";
import { fromBase64url } from "../../lib/server/token_jwt.ts";

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (out.code !== 0) {
    throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Makes an RS256 pair (rsa.pem/rsa.pub) and an ES256 pair (ec.pem/ec.pub) in `dir`. */
async function makeKeys(dir: string): Promise<void> {
  await openssl(dir, [
    "genpkey",
    "-algorithm",
    "RSA",
    "-pkeyopt",
    "rsa_keygen_bits:2048",
    "-out",
    "rsa.pem",
  ]);
  await openssl(dir, ["pkey", "-in", "rsa.pem", "-pubout", "-out", "rsa.pub"]);
  await openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.pem"]);
  await openssl(dir, ["ec", "-in", "ec.pem", "-pubout", "-out", "ec.pub"]);
}

const dec = new TextDecoder();

for (const [method, file] of [["RS256", "rsa"], ["ES256", "ec"]]) {
  Deno.test(`jwt ${method}: etcdctl authenticates, the token verifies and is honored`, async () => {
    const keys = await Deno.makeTempDir({ prefix: "concord-jwt-" });
    try {
      await makeKeys(keys);
      const s = await startTestServer((c) => {
        c.authToken = {
          kind: "jwt",
          signMethod: method,
          privKey: `${keys}/${file}.pem`,
          pubKey: `${keys}/${file}.pub`,
          ttlSeconds: 300,
        };
      });
      try {
        await s.ok(["user", "add", "root:pw"]);
        await s.ok(["user", "grant-role", "root", "root"]);
        assert.equal(await s.ok(["auth", "enable"]), "Authentication Enabled\n");
        assert.equal(await s.ok(["--user", "root:pw", "put", "k", "v"]), "OK\n");
        assert.equal(await s.ok(["--user", "root:pw", "get", "k"]), "k\nv\n");
        assert.match(
          await s.fails(["--user", "root:wrong", "get", "k"]),
          /etcdserver: authentication failed, invalid user ID or password/,
        );
        assert.match(await s.fails(["get", "k"]), /etcdserver: user name is empty/);

        // the token as a client sees it: a JWT signed with our key, carrying etcd's claims
        const auth = await fetch(`${s.url}/v3/auth/authenticate`, {
          method: "POST",
          body: JSON.stringify({ name: "root", password: "pw" }),
        });
        assert.equal(auth.status, 200);
        const token = (await auth.json()).token as string;
        const [h, p, sig] = token.split(".");
        const header = JSON.parse(dec.decode(fromBase64url(h)));
        assert.equal(header.alg, method);
        const claims = JSON.parse(dec.decode(fromBase64url(p)));
        assert.equal(claims.username, "root");
        assert.ok(claims.revision >= 1);
        assert.ok(claims.exp > Date.now() / 1000);
        const pubPem = await Deno.readTextFile(`${keys}/${file}.pub`);
        const der = Uint8Array.from(
          atob(pubPem.replace(/-----[^-]+-----|\s/g, "")),
          (c) => c.charCodeAt(0),
        );
        const params = method === "RS256"
          ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
          : { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
        const key = await crypto.subtle.importKey("spki", der, params, false, ["verify"]);
        assert.ok(
          await crypto.subtle.verify(
            params,
            key,
            fromBase64url(sig),
            new TextEncoder().encode(`${h}.${p}`),
          ),
          "the server's token verifies with the public key",
        );
        // the server honors it as the `token` metadata (Authorization on the gateway)
        const range = await fetch(`${s.url}/v3/kv/range`, {
          method: "POST",
          headers: { Authorization: token },
          body: JSON.stringify({ key: btoa("k") }),
        });
        assert.equal(range.status, 200);
        const kvs = (await range.json()).kvs as { value: string }[];
        assert.equal(atob(kvs[0].value), "v");
        // a tampered token is refused
        const bad = await fetch(`${s.url}/v3/kv/range`, {
          method: "POST",
          headers: { Authorization: `${h}.${p}.${sig.slice(0, -4)}AAAA` },
          body: JSON.stringify({ key: btoa("k") }),
        });
        assert.notEqual(bad.status, 200);
        assert.match(await bad.text(), /invalid auth token/);
      } finally {
        await s.close();
      }
    } finally {
      await Deno.remove(keys, { recursive: true });
    }
  });
}

Deno.test("jwt: an unreadable key file is a ConfigError at start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-jwt-" });
  try {
    const cfg = testConfig(dir, (c) => {
      c.authToken = {
        kind: "jwt",
        signMethod: "RS256",
        privKey: `${dir}/missing.pem`,
        ttlSeconds: 300,
      };
    });
    await assert.rejects(startServer(cfg, { log: () => {} }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /priv-key .*missing\.pem/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
