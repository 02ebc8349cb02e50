import assert from "node:assert/strict";
import { clusterIdFor, formatId, memberIdFor } from "../../lib/server/member_id.ts";

// Vectors read from a real etcd 3.4 (`etcdctl member list -w json`):
// --initial-cluster n1=http://127.0.0.1:23801 --initial-cluster-token tok-a
Deno.test("member and cluster ids match etcd 3.4 for the same urls and token", async () => {
  const member = await memberIdFor(["http://127.0.0.1:23801"], "tok-a");
  assert.equal(member, 18178604991579171914n);
  assert.equal(formatId(member), "fc4760eceb382c4a");
  assert.equal(await clusterIdFor([member]), 5014497391109345763n);
});

Deno.test("member ids ignore peer url order and change with the token and add time", async () => {
  const a = await memberIdFor(["http://b:2380", "http://a:2380"], "t");
  const b = await memberIdFor(["http://a:2380", "http://b:2380"], "t");
  assert.equal(a, b);
  assert.notEqual(
    await memberIdFor(["http://a:2380"], "t"),
    await memberIdFor(["http://a:2380"], "u"),
  );
  assert.notEqual(
    await memberIdFor(["http://a:2380"], "t"),
    await memberIdFor(["http://a:2380"], "t", 1_700_000_000),
  );
  assert.equal(await clusterIdFor([1n, 2n]), await clusterIdFor([2n, 1n]));
});
