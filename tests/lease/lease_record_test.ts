import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import {
  decodeLease,
  encodeLease,
  leaseIdFromKey,
  leaseKey,
} from "../../lib/lease/lease_record.ts";

Deno.test("lease record: bytes match etcd's leasepb.Lease encoding", () => {
  // leasepb.Lease{ID: 1, TTL: 10} marshals to 08 01 10 0a; RemainingTTL 300 adds 18 ac 02.
  assert.deepEqual([...encodeLease({ id: 1n, ttl: 10, remainingTtl: 0 })], [8, 1, 16, 10]);
  assert.deepEqual([...encodeLease({ id: 1n, ttl: 10, remainingTtl: 300 })], [
    8,
    1,
    16,
    10,
    0x18,
    0xac,
    0x02,
  ]);
  // A negative int64 id is a 10-byte varint.
  const neg = encodeLease({ id: -1n, ttl: 5, remainingTtl: 0 });
  assert.equal(neg.length, 1 + 10 + 2);
  assert.deepEqual(decodeLease(neg), { id: -1n, ttl: 5, remainingTtl: 0 });
  assert.deepEqual([...leaseKey(0x0102030405060708n)], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(leaseIdFromKey(leaseKey(-2n)), -2n);
});

Deno.test("lease record: random round trips; truncation is an error", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  for (let i = 0; i < 500; i++) {
    const rec = {
      id: BigInt.asIntN(64, rand.u64()),
      ttl: rand.int(9_000_000_001),
      remainingTtl: rand.chance(0.5) ? 0 : rand.int(1_000_000),
    };
    const data = encodeLease(rec);
    assert.deepEqual(decodeLease(data), rec);
    assert.equal(leaseIdFromKey(leaseKey(rec.id)), rec.id);
    if (data.length > 0) {
      // Dropping the last byte always leaves an unfinished varint (a value or a bare tag).
      assert.throws(() => decodeLease(data.subarray(0, data.length - 1)), /truncated/);
    }
  }
  assert.throws(() => decodeLease(Uint8Array.from([8, 0x80])), /truncated/);
  assert.throws(() => leaseIdFromKey(new Uint8Array(7)), /8 bytes/);
});
