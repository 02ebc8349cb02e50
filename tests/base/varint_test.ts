/**
 * lib/base/varint.ts: sizes and bytes equal protobuf-es's BinaryWriter (int64 for numbers and
 * bigints, two's complement for negatives) at the edges and on random values. Replay with SEED=N.
 */
import assert from "node:assert/strict";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { varint64Size, varintSize, writeVarint, writeVarint64 } from "../../lib/base/varint.ts";

function theirs(v: number | bigint): Uint8Array {
  return new BinaryWriter().int64(v).finish();
}

function check(v: number | bigint): void {
  const out = new Uint8Array(10);
  const want = theirs(v);
  const end = typeof v === "number" ? writeVarint(out, 0, v) : writeVarint64(out, 0, v);
  assert.deepEqual(out.subarray(0, end), want, `bytes of ${v}`);
  const size = typeof v === "number" ? varintSize(v) : varint64Size(v);
  assert.equal(size, want.length, `size of ${v}`);
}

Deno.test("varint: the bytes and sizes protobuf-es writes, edges and random values", () => {
  const seed = testSeed();
  console.log(`seed=${seed} (replay with SEED=${seed})`);
  const r = new Rand(seed);
  for (let bits = 0; bits <= 53; bits++) {
    for (const v of [2 ** bits - 1, 2 ** bits, -(2 ** bits)]) {
      if (Number.isSafeInteger(v)) check(v);
    }
  }
  for (let bits = 0n; bits <= 64n; bits++) {
    for (const v of [(1n << bits) - 1n, -(1n << bits)]) {
      if (v >= -(1n << 63n) && v < (1n << 63n)) check(v);
    }
  }
  for (let i = 0; i < 20_000; i++) {
    const n = r.int(2 ** 30) * 2 ** r.int(24) + r.int(1000);
    check(Number.isSafeInteger(n) ? n : r.int(1000));
    const b = BigInt.asIntN(64, (BigInt(r.nextU32()) << 32n) | BigInt(r.nextU32()));
    check(b);
  }
});
