import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { envelopePutResponse } from "../../lib/api/put_response_codec.ts";
import { envelope } from "../../lib/api/grpc_call.ts";
import {
  DeleteRangeResponseSchema,
  PutResponseSchema,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";

/** A 64-bit value around the varint boundaries, or a random one. */
function u64(r: Rand): bigint {
  return r.pick([
    0n,
    1n,
    127n,
    128n,
    (1n << 32n) - 1n,
    1n << 32n,
    (1n << 35n) + 5n,
    (1n << 63n) - 1n,
    (1n << 64n) - 1n,
    (BigInt(r.int(2 ** 30)) << 34n) | BigInt(r.int(2 ** 30)),
    BigInt(r.int(2 ** 30)),
  ]);
}

Deno.test("put response codec: byte-identical to protobuf-es's envelope", () => {
  const seed = testSeed();
  console.log(`seed=${seed} (replay with SEED=N)`);
  const r = new Rand(seed);
  // a few id pairs, so the cached id bytes are both reused and replaced
  const pairs = [[u64(r), u64(r)], [u64(r), u64(r)], [0n, u64(r)]];
  for (let i = 0; i < 500; i++) {
    const [clusterId, memberId] = r.pick(pairs);
    const revision = r.chance(0.1) ? -BigInt(r.int(1000) + 1) : u64(r) & ((1n << 63n) - 1n);
    const res = create(PutResponseSchema, {
      header: { clusterId, memberId, revision, raftTerm: u64(r) },
    });
    const want = envelope(toBinary(PutResponseSchema, res));
    assert.deepEqual(
      envelopePutResponse(res),
      want,
      `case ${i}: ${JSON.stringify(res, (_, v) => typeof v === "bigint" ? String(v) : v)}`,
    );
  }
});

Deno.test("put response codec: other shapes are left to protobuf-es", () => {
  const header = { clusterId: 1n, memberId: 2n, revision: 3n, raftTerm: 4n };
  assert.equal(
    envelopePutResponse(create(PutResponseSchema, { header, prevKv: { key: Uint8Array.of(1) } })),
    undefined,
  );
  assert.equal(envelopePutResponse(create(PutResponseSchema, {})), undefined);
  assert.equal(envelopePutResponse(create(DeleteRangeResponseSchema, { header })), undefined);
  assert.equal(envelopePutResponse({ header }), undefined);
  assert.equal(envelopePutResponse(undefined), undefined);
  const unknown = create(PutResponseSchema, { header });
  unknown.$unknown = [{ no: 9, wireType: 0, data: Uint8Array.of(1) }];
  assert.equal(envelopePutResponse(unknown), undefined);
  // an empty header is still a present field: written with length 0
  const empty = create(PutResponseSchema, { header: {} });
  assert.deepEqual(envelopePutResponse(empty), envelope(toBinary(PutResponseSchema, empty)));
});
