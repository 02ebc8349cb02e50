import assert from "node:assert/strict";
import { Errors, EtcdError, GrpcCode } from "../../lib/base/errors.ts";

Deno.test("etcd errors carry etcd's code and exact message", () => {
  const err = Errors.compacted();
  assert.ok(err instanceof EtcdError);
  assert.equal(err.code, GrpcCode.OutOfRange);
  assert.equal(err.message, "etcdserver: mvcc: required revision has been compacted");
  assert.ok(Errors.compacted.is(err));
  assert.ok(!Errors.futureRev.is(err));
  assert.equal(Errors.permissionDenied.code, GrpcCode.PermissionDenied);
  assert.equal(Errors.requestTooLarge.message, "etcdserver: request is too large");
});
