import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { decodeEnvelope, envelope } from "../../lib/api/grpc_call.ts";
import { PutRequestSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";

Deno.test("grpc call: a Put request envelope reads as protobuf-es reads it", () => {
  const seed = testSeed();
  console.log(`seed=${seed} (replay with SEED=N)`);
  const r = new Rand(seed);
  for (let i = 0; i < 200; i++) {
    const put = create(PutRequestSchema, {
      key: r.bytes(r.pick([0, 1, 8, 200])),
      value: r.bytes(r.pick([0, 127, 128, 256, 20000])),
      lease: r.pick([0n, 5n, BigInt(r.int(2 ** 30)), (1n << 62n) + 3n, -1n]),
      prevKv: r.chance(0.5),
      ignoreValue: r.chance(0.3),
      ignoreLease: r.chance(0.3),
    });
    const enveloped = envelope(toBinary(PutRequestSchema, put));
    assert.deepEqual(
      decodeEnvelope(PutRequestSchema, enveloped, 0, enveloped.length - 5),
      fromBinary(PutRequestSchema, enveloped.subarray(5)),
      `case ${i}`,
    );
  }
  // malformed input is still refused, with protobuf-es's error
  const bad = envelope(Uint8Array.of(0x0a, 5, 1));
  assert.throws(() => decodeEnvelope(PutRequestSchema, bad, 0, 3), /parse binary/);
});
