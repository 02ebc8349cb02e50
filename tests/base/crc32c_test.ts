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

/** Bit at a time, straight from the polynomial: the reference the table-driven code must match. */
function crcBitwise(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

Deno.test("crc32c's 16-byte word loop matches bitwise CRC at every alignment and length", () => {
  const seed = Number(Deno.env.get("SEED") ?? Date.now() % 1_000_000);
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const buf = rand.bytes(4096 + 64);
  for (let offset = 0; offset < 8; offset++) {
    for (const len of [0, 1, 15, 16, 63, 64, 65, 79, 80, 127, 128, 129, 1000, 4096]) {
      const view = buf.subarray(offset, offset + len);
      const start = rand.int(3);
      const prior = rand.int(0x7fff_ffff) * 2 + rand.int(2);
      assert.equal(
        crc32c(view, prior, start),
        crcBitwise(view.subarray(start), prior),
        `offset ${offset} length ${len} start ${start}`,
      );
    }
  }
});
