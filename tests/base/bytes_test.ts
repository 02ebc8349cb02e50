import assert from "node:assert/strict";
import { compareBytes, equalBytes, prefixEnd } from "../../lib/base/bytes.ts";

const b = (...v: number[]) => Uint8Array.from(v);

Deno.test("bytes: bytewise order, equality, and etcd's prefix range end", () => {
  assert.equal(compareBytes(b(1, 2), b(1, 2)), 0);
  assert.equal(compareBytes(b(1), b(1, 0)), -1);
  assert.equal(compareBytes(b(2), b(1, 255)), 1);
  assert.equal(compareBytes(b(0x7f), b(0x80)), -1, "unsigned, not signed, bytes");
  assert.ok(equalBytes(b(3, 4), b(3, 4)));
  assert.ok(!equalBytes(b(3, 4), b(3)));
  assert.deepEqual(prefixEnd(b(0x61, 0x62)), b(0x61, 0x63));
  assert.deepEqual(prefixEnd(b(0x61, 0xff)), b(0x62));
  assert.deepEqual(prefixEnd(b(0xff, 0xff)), b(0), "all 0xff: every key from the prefix on");
  assert.deepEqual(prefixEnd(b()), b(0));
});
