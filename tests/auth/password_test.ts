import assert from "node:assert/strict";
import {
  DEFAULT_PBKDF2_ITERATIONS,
  hashPassword,
  parsePasswordHash,
  verifyPassword,
} from "../../lib/auth/password.ts";

Deno.test("password: RFC 7914's PBKDF2-HMAC-SHA256 vector verifies", async () => {
  // PBKDF2-HMAC-SHA256(P="passwd", S="salt", c=1): first 32 bytes of the RFC 7914 output.
  const dk = "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc";
  const bytes = Uint8Array.from(dk.match(/../g)!.map((h) => parseInt(h, 16)));
  const b64 = btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
  const encoded = `$pbkdf2-sha256$i=1$c2FsdA$${b64}`;
  assert.equal(await verifyPassword("passwd", encoded), true);
  assert.equal(await verifyPassword("passwd ", encoded), false);
  assert.equal(
    await hashPassword("passwd", { iterations: 1, salt: new TextEncoder().encode("salt") }),
    encoded,
  );
});

Deno.test("password: hashes record algorithm and parameters and are salted", async () => {
  const a = await hashPassword("secret", { iterations: 1000 });
  const b = await hashPassword("secret", { iterations: 1000 });
  assert.notEqual(a, b);
  const p = parsePasswordHash(a);
  assert.equal(p.algorithm, "pbkdf2-sha256");
  assert.equal(p.iterations, 1000);
  assert.equal(p.salt.length, 16);
  assert.equal(p.hash.length, 32);
  assert.equal(await verifyPassword("secret", a), true);
  assert.equal(await verifyPassword("Secret", a), false);
  assert.equal(await verifyPassword("", a), false);
  const def = await hashPassword("x");
  assert.equal(parsePasswordHash(def).iterations, DEFAULT_PBKDF2_ITERATIONS);
  assert.equal(DEFAULT_PBKDF2_ITERATIONS, 600_000);
});

Deno.test("password: malformed or unknown hashes are refused", async () => {
  assert.throws(() => parsePasswordHash("$2a$10$abcdefghijklmnopqrstuv"), /not a PHC|unsupported/);
  assert.throws(() => parsePasswordHash("$bcrypt$i=1$c2FsdA$AAAA"), /unsupported algorithm/);
  assert.throws(() => parsePasswordHash("$pbkdf2-sha256$i=0$c2FsdA$AAAA"), /bad parameters/);
  assert.throws(() => parsePasswordHash("$pbkdf2-sha256$i=10$c2F*dA$AAAA"), /base64/);
  assert.throws(() => parsePasswordHash("$pbkdf2-sha256$i=10$$AAAA"), /empty/);
  assert.throws(() => parsePasswordHash("plain"), /PHC/);
  assert.throws(() => parsePasswordHash("$pbkdf2-sha256$i=10$c2FsdA$AAAA"), /length/);
  await assert.rejects(() => hashPassword("x", { iterations: 0 }), RangeError);
});
