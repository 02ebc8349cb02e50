import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { decodeRequest, encodeRequest, RequestKind } from "../../lib/server/request.ts";
import { PutRequestSchema, TxnRequestSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";

Deno.test("request: entries round-trip with and without the auth trailer", () => {
  const put = create(PutRequestSchema, {
    key: Uint8Array.of(1, 2),
    value: Uint8Array.of(3),
    lease: 7n,
  });
  const plain = encodeRequest({ kind: RequestKind.Put, id: 0xfedcba9876543210n, req: put });
  assert.equal(plain[0], RequestKind.Put);
  const back = decodeRequest(plain);
  assert.equal(back.kind, RequestKind.Put);
  assert.equal(back.id, 0xfedcba9876543210n);
  assert.equal(back.auth, undefined);
  assert.deepEqual(back.kind === RequestKind.Put ? back.req.key : null, Uint8Array.of(1, 2));

  const txn = create(TxnRequestSchema, {});
  const withAuth = encodeRequest({
    kind: RequestKind.Txn,
    id: 5n,
    req: txn,
    auth: { username: "ålice", revision: 42 },
  });
  assert.equal(withAuth[0], 0x80 | RequestKind.Txn);
  const b2 = decodeRequest(withAuth);
  assert.equal(b2.kind, RequestKind.Txn);
  assert.deepEqual(b2.auth, { username: "ålice", revision: 42 });
});

Deno.test("request: unknown kinds and short entries are refused", () => {
  assert.throws(() => decodeRequest(new Uint8Array(5)), /request entry is 5 bytes/);
  const bad = new Uint8Array(9);
  bad[0] = 99;
  assert.throws(() => decodeRequest(bad), /unknown request kind 99/);
  const shortAuth = new Uint8Array(10);
  shortAuth[0] = 0x80 | RequestKind.Put;
  assert.throws(() => decodeRequest(shortAuth), /short auth trailer/);
});
