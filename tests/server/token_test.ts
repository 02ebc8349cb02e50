import assert from "node:assert/strict";
import { SimClock } from "../../lib/io/clock.ts";
import { fromBase64url, JwtTokenProvider } from "../../lib/server/token_jwt.ts";
import { newSimpleTokenPrefix, SimpleTokenProvider } from "../../lib/server/token_simple.ts";

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

Deno.test("simple tokens: etcd's shape, TTL refreshed on use, invalidation", async () => {
  const clock = new SimClock();
  const tokens = new SimpleTokenProvider(clock, 300);
  try {
    const prefix = newSimpleTokenPrefix();
    assert.match(prefix, /^[A-Za-z]{16}$/);
    const token = await tokens.assign("alice", 3, prefix, 42);
    assert.equal(token, `${prefix}.42`);
    await assert.rejects(() => tokens.assign("bob", 3, prefix, 42), /already used/);
    clock.advance(299_000);
    assert.deepEqual(await tokens.info(token, 5), { username: "alice", revision: 5 });
    clock.advance(299_000); // refreshed by the use above
    assert.equal((await tokens.info(token, 5))?.username, "alice");
    clock.advance(301_000);
    assert.equal(await tokens.info(token, 5), undefined);
    const t2 = await tokens.assign("bob", 3, newSimpleTokenPrefix(), 43);
    tokens.invalidateUser("bob");
    assert.equal(await tokens.info(t2, 5), undefined);
  } finally {
    tokens.close();
  }
});

Deno.test("JWT: every key form and sign method etcd accepts; forgery and expiry refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-jwt-" });
  try {
    await openssl(dir, "genrsa", "-traditional", "-out", "rsa1.pem", "2048");
    await openssl(dir, "rsa", "-in", "rsa1.pem", "-pubout", "-out", "rsa1.pub");
    await openssl(dir, "genpkey", "-algorithm", "RSA", "-out", "rsa8.pem");
    await openssl(dir, "ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "ec256.pem");
    await openssl(dir, "ecparam", "-genkey", "-name", "secp384r1", "-noout", "-out", "ec384.pem");
    await Deno.writeTextFile(`${dir}/hs.key`, "a shared secret of some length");
    const read = (f: string) => Deno.readFile(`${dir}/${f}`);
    const clock = new SimClock(0, 1_800_000_000_000);
    const cases: [string, string, string | undefined][] = [
      ["RS256", "rsa1.pem", "rsa1.pub"],
      ["RS512", "rsa8.pem", undefined],
      ["PS256", "rsa8.pem", undefined],
      ["ES256", "ec256.pem", undefined],
      ["ES384", "ec384.pem", undefined],
      ["HS256", "hs.key", undefined],
    ];
    for (const [signMethod, priv, pub] of cases) {
      const provider = await JwtTokenProvider.create({
        signMethod,
        keys: { privateKey: await read(priv), publicKey: pub ? await read(pub) : undefined },
        ttlSeconds: 600,
        clock,
      });
      const token = await provider.assign("alice", 7, "", 0);
      const [h, c, s] = token.split(".");
      assert.deepEqual(JSON.parse(new TextDecoder().decode(fromBase64url(h))), {
        alg: signMethod,
        typ: "JWT",
      });
      const claims = JSON.parse(new TextDecoder().decode(fromBase64url(c)));
      assert.deepEqual(
        claims,
        { exp: 1_800_000_000 + 600, revision: 7, username: "alice" },
        signMethod,
      );
      assert.deepEqual(await provider.info(token), { username: "alice", revision: 7 }, signMethod);
      // A changed claim or signature is refused.
      const forged = `${h}.${c.slice(0, -2)}${c.slice(-2) === "fQ" ? "fX" : "fQ"}.${s}`;
      assert.equal(await provider.info(forged), undefined, signMethod);
      assert.equal(await provider.info(`${h}.${c}.${s.slice(0, -4)}AAAA`), undefined, signMethod);
      assert.equal(await provider.info("not.a.token"), undefined);
    }
    // Verify-only member: public key alone verifies the RS256 token of a full member.
    const full = await JwtTokenProvider.create({
      signMethod: "RS256",
      keys: { privateKey: await read("rsa1.pem") },
      ttlSeconds: 60,
      clock,
    });
    const verifier = await JwtTokenProvider.create({
      signMethod: "RS256",
      keys: { publicKey: await read("rsa1.pub") },
      ttlSeconds: 60,
      clock,
    });
    assert.equal(verifier.verifyOnly, true);
    const token = await full.assign("bob", 1, "", 0);
    assert.equal((await verifier.info(token))?.username, "bob");
    await assert.rejects(() => verifier.assign("bob", 1, "", 0), /verify only/);
    // OpenSSL, not our code, agrees the signature is valid RS256.
    const [h, c, s] = token.split(".");
    await Deno.writeTextFile(`${dir}/input`, `${h}.${c}`);
    await Deno.writeFile(`${dir}/sig`, fromBase64url(s));
    await openssl(dir, "dgst", "-sha256", "-verify", "rsa1.pub", "-signature", "sig", "input");
    // Expired tokens are refused.
    clock.advance(61_000);
    assert.equal(await verifier.info(token), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
