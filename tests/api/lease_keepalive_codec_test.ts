import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  LeaseKeepAliveRequestSchema,
  LeaseKeepAliveResponseSchema,
  ResponseHeaderSchema,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import {
  decodeKeepAliveRequest,
  encodeKeepAliveResponse,
  keepAliveHeaderPrefix,
  KeepAliveResponses,
} from "../../lib/api/lease_keepalive_codec.ts";
import { envelope } from "../../lib/api/grpc_call.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";

/** An int64 from the edges and the middle: 0, small, 2^28 and 2^53 regions, negative, extremes. */
function i64(r: Rand): bigint {
  switch (r.int(8)) {
    case 0:
      return 0n;
    case 1:
      return BigInt(r.int(300));
    case 2:
      return BigInt(r.int(1 << 30)) * BigInt(1 + r.int(1 << 23));
    case 3:
      return -BigInt(1 + r.int(1000));
    case 4:
      return (1n << 63n) - 1n - BigInt(r.int(3));
    case 5:
      return -(1n << 63n) + BigInt(r.int(3));
    case 6:
      // etcd's lease ids: member id bits on top, 63 bits in all
      return BigInt.asIntN(64, (BigInt(r.int(1 << 30)) << 33n) | BigInt(r.int(1 << 30)));
    default:
      return BigInt.asIntN(64, (1n << BigInt(7 * (1 + r.int(9)))) + BigInt(r.int(3)) - 1n);
  }
}

function u64(r: Rand): bigint {
  return i64(r) & ((1n << 64n) - 1n);
}

/** A non-negative safe integer, often at a varint's byte boundary. */
function safe(r: Rand): number {
  if (r.chance(0.2)) return 0;
  if (r.chance(0.3)) return 2 ** (7 * (1 + r.int(7))) - r.int(2);
  return r.chance(0.5) ? r.int(1000) : Math.min(Number.MAX_SAFE_INTEGER, r.int(2 ** 30) * 2 ** 23);
}

Deno.test("keep-alive codec: requests decode as protobuf-es decodes them", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const r = new Rand(seed);
  for (let i = 0; i < 3000; i++) {
    const bytes = toBinary(
      LeaseKeepAliveRequestSchema,
      create(LeaseKeepAliveRequestSchema, { ID: i64(r) }),
    );
    const got = decodeKeepAliveRequest(bytes);
    assert.deepEqual(got, fromBinary(LeaseKeepAliveRequestSchema, bytes), `seed=${seed} i=${i}`);
  }
  // a repeated field: the last one wins, as in protobuf-es
  const twice = new Uint8Array([0x08, 0x05, 0x08, 0x96, 0x01]);
  assert.equal(decodeKeepAliveRequest(twice)?.ID, 150n);
  assert.equal(decodeKeepAliveRequest(new Uint8Array(0))?.ID, 0n);
});

Deno.test("keep-alive codec: random bytes decode as protobuf-es's or are left to it", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const r = new Rand(seed);
  let taken = 0;
  for (let i = 0; i < 5000; i++) {
    // mostly tag 0x08 and varint bytes, so that many are well formed
    const n = r.int(14);
    const bytes = new Uint8Array(n);
    for (let j = 0; j < n; j++) {
      bytes[j] = r.chance(0.2) ? 0x08 : r.chance(0.6) ? 0x80 | r.int(128) : r.int(256);
    }
    const got = decodeKeepAliveRequest(bytes);
    let want: unknown;
    try {
      want = fromBinary(LeaseKeepAliveRequestSchema, bytes);
    } catch {
      assert.equal(got, undefined, `seed=${seed} i=${i}: protobuf-es refuses ${bytes}`);
      continue;
    }
    if (got !== undefined) {
      taken++;
      assert.deepEqual(got, want, `seed=${seed} i=${i}: ${bytes}`);
    }
  }
  assert.ok(taken > 100, `only ${taken} decoded by hand (seed=${seed})`);
});

Deno.test("keep-alive codec: responses are protobuf-es's bytes, enveloped", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const r = new Rand(seed);
  for (let i = 0; i < 3000; i++) {
    const clusterId = r.chance(0.1) ? 0n : u64(r);
    const memberId = r.chance(0.1) ? 0n : u64(r);
    const revision = safe(r);
    const term = safe(r);
    const id = i64(r);
    const ttl = r.chance(0.2) ? 0 : r.chance(0.5) ? r.int(100) : r.int(9_000_000_001);
    const want = envelope(toBinary(
      LeaseKeepAliveResponseSchema,
      create(LeaseKeepAliveResponseSchema, {
        header: create(ResponseHeaderSchema, {
          clusterId,
          memberId,
          revision: BigInt(revision),
          raftTerm: BigInt(term),
        }),
        ID: id,
        TTL: BigInt(ttl),
      }),
    ));
    const prefix = keepAliveHeaderPrefix(clusterId, memberId);
    const got = encodeKeepAliveResponse(prefix, revision, term, id, ttl);
    assert.deepEqual(got, want, `seed=${seed} i=${i}`);
  }
});

Deno.test("keep-alive codec: a stream's answer is reused only while nothing in it changes", () => {
  const prefix = keepAliveHeaderPrefix(0x1234n, 0xfedcba9876543210n);
  const out = new KeepAliveResponses(prefix);
  const a = out.encode(7, 2, 99n, 60);
  assert.equal(out.encode(7, 2, 99n, 60), a, "the same answer again");
  const variants = [
    out.encode(8, 2, 99n, 60),
    out.encode(8, 3, 99n, 60),
    out.encode(8, 3, 98n, 60),
    out.encode(8, 3, 98n, 0),
  ];
  for (const [i, v] of variants.entries()) {
    assert.notEqual(v, i === 0 ? a : variants[i - 1]);
    assert.equal(v.count, 1);
  }
  const last = fromBinary(LeaseKeepAliveResponseSchema, variants[3].bytes.subarray(5));
  assert.equal(last.header?.revision, 8n);
  assert.equal(last.header?.raftTerm, 3n);
  assert.equal(last.header?.memberId, 0xfedcba9876543210n);
  assert.equal(last.ID, 98n);
  assert.equal(last.TTL, 0n);
  assert.deepEqual(a.bytes, encodeKeepAliveResponse(prefix, 7, 2, 99n, 60), "never rewritten");
});
