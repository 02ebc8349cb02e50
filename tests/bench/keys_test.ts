import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { keyFor, keyGen, putVarint } from "../../bench/loadgen/keys.ts";

Deno.test("putVarint writes Go's binary.PutVarint (zig-zag base-128)", () => {
  const cases: [number, number[]][] = [
    [0, [0x00]],
    [1, [0x02]],
    [-1, [0x01]],
    [63, [0x7e]],
    [64, [0x80, 0x01]],
    [300, [0xd8, 0x04]],
    [99999, [0xbe, 0x9a, 0x0c]],
  ];
  for (const [n, bytes] of cases) {
    const out = new Uint8Array(10);
    const len = putVarint(out, n);
    assert.deepEqual([...out.subarray(0, len)], bytes, `varint(${n})`);
  }
  assert.throws(() => putVarint(new Uint8Array(1), 64), RangeError);
});

Deno.test("keyFor pads the varint with zeros to the key size", () => {
  assert.deepEqual([...keyFor(5, 8)], [10, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...keyFor(64, 3)], [0x80, 0x01, 0]);
});

Deno.test("sequential keys cycle through the key space in order", () => {
  const g = keyGen({ keySize: 4, keySpaceSize: 3, sequential: true }, new Rand(1));
  const got = Array.from({ length: 7 }, (_, i) => [...g.next(i)]);
  const want = [0, 1, 2, 0, 1, 2, 0].map((n) => [...keyFor(n, 4)]);
  assert.deepEqual(got, want);
});

Deno.test("random keys stay in the key space, cover it, and replay from the seed", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const space = 50;
  const inSpace = new Set(Array.from({ length: space }, (_, n) => keyFor(n, 8).join(",")));
  const g = keyGen({ keySize: 8, keySpaceSize: space, sequential: false }, new Rand(seed));
  const drawn = Array.from({ length: 2000 }, (_, i) => g.next(i).join(","));
  for (const k of drawn) assert.ok(inSpace.has(k), `key ${k} is outside the key space`);
  // 2000 uniform draws over 50 keys miss a given key with probability (49/50)^2000 ~ 3e-18.
  assert.equal(new Set(drawn).size, space);
  const again = keyGen({ keySize: 8, keySpaceSize: space, sequential: false }, new Rand(seed));
  assert.deepEqual(Array.from({ length: 2000 }, (_, i) => again.next(i).join(",")), drawn);
  assert.throws(() => keyGen({ keySize: 8, keySpaceSize: 0, sequential: false }, new Rand(1)));
});
