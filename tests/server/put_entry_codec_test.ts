import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { decodePutBody, putBodySize, writePutBody } from "../../lib/server/put_entry_codec.ts";
import { decodeRequest, encodeRequest, RequestKind } from "../../lib/server/request.ts";
import { type PutRequest, PutRequestSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";

/** A random PutRequest, with field sizes around every varint boundary the codec handles. */
function randomPut(r: Rand): PutRequest {
  const len = () => r.pick([0, 1, 127, 128, 300, 16383, 16384, r.int(70000)]);
  const lease = r.pick([
    0n,
    1n,
    127n,
    128n,
    BigInt(r.int(2 ** 30)),
    (1n << 62n) + BigInt(r.int(2 ** 30)),
    -1n,
    -BigInt(r.int(2 ** 30) + 1),
    (1n << 53n) - 1n,
    1n << 53n,
    (1n << 63n) - 1n,
  ]);
  return create(PutRequestSchema, {
    key: r.bytes(len()),
    value: r.bytes(len()),
    lease,
    prevKv: r.chance(0.5),
    ignoreValue: r.chance(0.5),
    ignoreLease: r.chance(0.5),
  });
}

Deno.test("put entry codec: byte-identical to protobuf-es, and reads back what it reads", () => {
  const seed = testSeed();
  console.log(`seed=${seed} (replay with SEED=N)`);
  const r = new Rand(seed);
  let fast = 0;
  for (let i = 0; i < 400; i++) {
    const put = randomPut(r);
    const want = toBinary(PutRequestSchema, put);
    const size = putBodySize(put);
    assert.equal(size, want.length, `size, case ${i}`);
    const out = new Uint8Array(size + 3);
    assert.equal(writePutBody(out, 3, put), size + 3);
    assert.deepEqual(out.subarray(3), want, `bytes, case ${i}`);
    const back = decodePutBody(want);
    if (back !== undefined) {
      fast++;
      assert.deepEqual(back, fromBinary(PutRequestSchema, want), `decode, case ${i}`);
    }
    // through the entry format, with and without the auth trailer, either way
    const auth = r.chance(0.5) ? { username: "ålice", revision: r.int(1000) } : undefined;
    const entry = encodeRequest({ kind: RequestKind.Put, id: BigInt(i), req: put, auth });
    const got = decodeRequest(entry);
    assert.equal(got.kind, RequestKind.Put);
    assert.equal(got.id, BigInt(i));
    assert.deepEqual(got.auth, auth);
    assert.deepEqual(got.req, fromBinary(PutRequestSchema, want));
  }
  // most random cases have a short lease varint: the fast decoder must have served them
  assert.ok(fast > 100, `only ${fast} of 400 decoded by the hand decoder`);
});

Deno.test("put entry codec: the shapes it leaves to protobuf-es", () => {
  const withUnknown = fromBinary(
    PutRequestSchema,
    Uint8Array.of(0x0a, 1, 0x61, 0x38, 5), // key "a", then field 7 (unknown) = 5
  );
  assert.equal(putBodySize(withUnknown), -1);
  const entry = encodeRequest({ kind: RequestKind.Put, id: 1n, req: withUnknown });
  const back = decodeRequest(entry);
  assert.deepEqual(back.req, withUnknown);
  // unknown field, long lease varint, wrong wire type, truncated bytes: undefined
  assert.equal(decodePutBody(Uint8Array.of(0x38, 5)), undefined);
  assert.equal(
    decodePutBody(toBinary(PutRequestSchema, create(PutRequestSchema, { lease: 1n << 40n }))),
    undefined,
  );
  assert.equal(decodePutBody(Uint8Array.of(0x08, 1)), undefined);
  assert.equal(decodePutBody(Uint8Array.of(0x0a, 5, 1)), undefined);
  assert.throws(() =>
    decodeRequest(Uint8Array.of(RequestKind.Put, 0, 0, 0, 0, 0, 0, 0, 1, 0x0a, 5, 1))
  );
  // the empty message: all defaults, fresh empty arrays
  assert.deepEqual(decodePutBody(new Uint8Array(0)), create(PutRequestSchema, {}));
});
