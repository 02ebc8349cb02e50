import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ResponseHeaderSchema, WatchResponseSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { EventSchema, KeyValueSchema } from "../../proto/gen/mvccpb/kv_pb.ts";
import { encodeWatchResponse } from "../../lib/api/watch_codec.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";

/** An int64 from the edges and the middle: 0, small, 2^53 region, negative, extremes. */
function i64(r: Rand): bigint {
  switch (r.int(7)) {
    case 0:
      return 0n;
    case 1:
      return BigInt(r.int(300));
    case 2:
      return BigInt(r.int(1 << 30)) * BigInt(1 + r.int(1 << 23));
    case 3:
      return -BigInt(1 + r.int(1000));
    case 4:
      return (1n << 63n) - 1n;
    case 5:
      return -(1n << 63n);
    default:
      return 0x1fffffffffffffn + BigInt(r.int(3)) - 1n;
  }
}

function u64(r: Rand): bigint {
  return r.chance(0.2) ? (1n << 64n) - 1n - BigInt(r.int(5)) : (i64(r) & ((1n << 64n) - 1n));
}

function kv(r: Rand) {
  return create(KeyValueSchema, {
    key: r.bytes(r.chance(0.1) ? 0 : r.int(300)),
    createRevision: i64(r),
    modRevision: i64(r),
    version: i64(r),
    value: r.bytes(r.chance(0.2) ? 0 : r.int(r.chance(0.05) ? 70000 : 200)),
    lease: i64(r),
  });
}

Deno.test("watch codec: the same bytes as protobuf-es toBinary for random responses", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const r = new Rand(seed);
  for (let i = 0; i < 2000; i++) {
    const msg = create(WatchResponseSchema, {
      header: r.chance(0.1) ? undefined : create(ResponseHeaderSchema, {
        clusterId: u64(r),
        memberId: u64(r),
        revision: i64(r),
        raftTerm: u64(r),
      }),
      watchId: i64(r),
      created: r.chance(0.3),
      canceled: r.chance(0.3),
      compactRevision: i64(r),
      cancelReason: r.chance(0.7) ? "" : r.pick(["etcdserver: permission denied", "é ✓ 🙂", "x"]),
      fragment: r.chance(0.2),
      events: Array.from({ length: r.int(r.chance(0.1) ? 200 : 5) }, () =>
        create(EventSchema, {
          type: r.int(2),
          kv: r.chance(0.05) ? undefined : kv(r),
          prevKv: r.chance(0.5) ? undefined : kv(r),
        })),
    });
    const ours = encodeWatchResponse(msg);
    const theirs = toBinary(WatchResponseSchema, msg);
    assert.deepEqual(ours, theirs, `seed=${seed} message ${i}`);
    assert.deepEqual(fromBinary(WatchResponseSchema, ours), msg);
  }
});
