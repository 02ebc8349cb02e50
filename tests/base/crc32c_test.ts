import assert from "node:assert/strict";
import { crc32c } from "../../lib/base/crc32c.ts";
import { Rand } from "../../lib/base/rand.ts";

const enc = new TextEncoder();

Deno.test("crc32c matches the standard check value and RFC 3720 vectors", () => {
  assert.deepEqual(crc32c(enc.encode("123456789")), 0xe3069283);
  assert.deepEqual(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.deepEqual(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.deepEqual(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
});

Deno.test("crc32c chains: crc(a+b) equals crc(b, crc(a)) at every split", () => {
  const data = new Rand(7).bytes(100);
  const whole = crc32c(data);
  for (let split = 0; split <= data.length; split++) {
    assert.deepEqual(crc32c(data, crc32c(data.subarray(0, split)), split), whole);
  }
});
