/**
 * bcrypt verification (lib/auth/bcrypt.ts) against hashes the real etcd 3.4.23 made
 * (`etcdctl user add`, read from the authUsers bucket of its snapshot), through
 * password.ts as the auth store uses it.
 */
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { bcryptVerify, encode64, parseBcrypt } from "../../lib/auth/bcrypt.ts";
import { checkPasswordHash, verifyPassword } from "../../lib/auth/password.ts";

/** Made by etcd 3.4.23 here: users alice (password "alicepw") and root ("rootpw"). */
const ETCD_HASHES = {
  alicepw: "$2a$10$j/RgGxz9VVw2n5AuMgWNleHJSFWNdkJAp64wgA1JagaUzRXEMcxza",
  rootpw: "$2a$10$AX.eUfbNjwnM5OZ4UVwLPOKde/0UCzI7dKdNvySVVnXWx2o686sUi",
};

Deno.test("bcrypt: etcd 3.4's hashes verify with their passwords and only those", async () => {
  for (const [pw, hash] of Object.entries(ETCD_HASHES)) {
    assert.equal(await verifyPassword(pw, hash), true, pw);
    assert.equal(await verifyPassword(pw + "x", hash), false);
    assert.equal(await verifyPassword(pw.slice(1), hash), false);
  }
  assert.equal(await bcryptVerify("alicepw", ETCD_HASHES.rootpw), false);
  assert.equal(await bcryptVerify("", ETCD_HASHES.rootpw), false);
});

Deno.test("bcrypt: a cost-5 test vector, and the salt/hash encoding round trip", async () => {
  // OpenBSD's test vector (also in Go's x/crypto/bcrypt tests): "U*U" at cost 5
  assert.equal(
    await bcryptVerify("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"),
    true,
  );
  const h = parseBcrypt(ETCD_HASHES.alicepw);
  assert.equal(h.cost, 10);
  assert.equal(encode64(h.salt).slice(0, 22), ETCD_HASHES.alicepw.slice(7, 29));
  assert.equal(encode64(h.hash), ETCD_HASHES.alicepw.slice(29));
});

Deno.test("bcrypt: malformed hashes are refused, not treated as a mismatch", async () => {
  for (
    const bad of [
      "$2a$10$short",
      "$2a$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", // cost below 4
      "$2a$10$j/RgGxz9VVw2n5AuMgWNleHJSFWNdkJAp64wgA1JagaUzRXEMcxz!",
    ]
  ) {
    assert.throws(() => checkPasswordHash(bad), /bcrypt hash/);
    await assert.rejects(verifyPassword("x", bad), /bcrypt hash/);
  }
  // both families are accepted as stored hashes
  checkPasswordHash(ETCD_HASHES.rootpw);
  assert.throws(() => checkPasswordHash("$argon2id$v=19$c2FsdA$aGFzaA"), /unsupported algorithm/);
});

Deno.test("bcrypt: a verification lets other work run while it computes", async () => {
  let done = false;
  const verified = verifyPassword("rootpw", ETCD_HASHES.rootpw).finally(() => (done = true));
  let turns = 0;
  while (!done) {
    await new Promise((r) => setImmediate(r));
    turns++;
  }
  assert.equal(await verified, true);
  // 2^10 rounds in slices of 16: the loop above gets a turn between slices
  assert.ok(turns >= 32, `the event loop ran ${turns} times during a cost-10 verification`);
});
