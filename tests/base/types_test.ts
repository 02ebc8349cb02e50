import assert from "node:assert/strict";
import { MAX_COUNTER, saturateInt64 } from "../../lib/base/types.ts";

const MAX = (1n << 63n) - 1n;
const MIN = -(1n << 63n);

Deno.test("saturateInt64: compares with every counter and with -1 as the int64 does", () => {
  assert.equal(saturateInt64(0n), 0);
  assert.equal(saturateInt64(-1n), -1);
  assert.equal(saturateInt64(-2n), -2);
  assert.equal(saturateInt64(MIN), -2);
  assert.equal(saturateInt64(BigInt(MAX_COUNTER)), MAX_COUNTER);
  assert.equal(saturateInt64(BigInt(MAX_COUNTER) + 1n), MAX_COUNTER + 1);
  assert.equal(saturateInt64(MAX), MAX_COUNTER + 1);
  // order against -1, 0 and the largest counter is kept for every value
  for (
    const v of [MIN, -3n, -2n, -1n, 0n, 1n, BigInt(MAX_COUNTER), BigInt(MAX_COUNTER) + 1n, MAX]
  ) {
    for (const c of [-1n, 0n, 1n, BigInt(MAX_COUNTER)]) {
      assert.equal(
        Math.sign(saturateInt64(v) - Number(c)),
        Number(v > c) - Number(v < c),
        `${v} ${c}`,
      );
    }
  }
});
