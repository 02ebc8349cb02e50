import assert from "node:assert/strict";
import { cmp, Errors, GrpcCode, op, text } from "../../lib/client/mod.ts";
import { onEveryTarget } from "./targets.ts";

const keys = (kvs: { key: Uint8Array }[]) => kvs.map((kv) => text(kv.key));

Deno.test("kv: put, get, range with every option, delete", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    const p1 = await c.put("a/1", "one");
    const rev1 = p1.header!.revision;
    await c.put("a/2", "two");
    await c.put("a/3", "three");
    await c.put("b/1", "other");
    assert.equal(await c.getText("a/1"), "one");
    // a fractional deadline is sent as whole milliseconds (etcd resets the stream otherwise)
    assert.equal(await c.getText("a/1", { timeoutMs: 2000.5 }), "one");
    // addressed to one member
    assert.equal(await c.getText("a/1", { endpoint: t.url, serializable: true }), "one");
    // a missing key is not an error
    assert.equal(await c.get("nope"), undefined);
    assert.deepEqual((await c.range("nope")).kvs, []);

    const all = await c.range("a/", { prefix: true });
    assert.deepEqual(keys(all.kvs), ["a/1", "a/2", "a/3"]);
    assert.equal(all.count, 3n);
    assert.deepEqual(keys((await c.range("a/2", { end: "b/" })).kvs), ["a/2", "a/3"]);
    assert.deepEqual(keys((await c.range("a/3", { fromKey: true })).kvs), ["a/3", "b/1"]);
    const lim = await c.range("a/", { prefix: true, limit: 2 });
    assert.deepEqual(keys(lim.kvs), ["a/1", "a/2"]);
    assert.equal(lim.more, true);
    const desc = await c.range("a/", { prefix: true, sort: { target: "value", order: "descend" } });
    assert.deepEqual(desc.kvs.map((kv) => text(kv.value)), ["two", "three", "one"]);
    const ko = await c.range("a/", { prefix: true, keysOnly: true });
    assert.deepEqual(ko.kvs.map((kv) => kv.value.length), [0, 0, 0]);
    const co = await c.range("a/", { prefix: true, countOnly: true });
    assert.equal(co.count, 3n);
    assert.equal(co.kvs.length, 0);
    const old = await c.range("a/", { prefix: true, revision: rev1 });
    assert.deepEqual(keys(old.kvs), ["a/1"]);
    const ser = await c.range("a/1", { serializable: true });
    assert.equal(text(ser.kvs[0].value), "one");
    const mm = await c.range("a/", { prefix: true, minModRevision: rev1 + 1n });
    assert.deepEqual(keys(mm.kvs), ["a/2", "a/3"]);
    const mc = await c.range("a/", { prefix: true, maxCreateRevision: rev1 });
    assert.deepEqual(keys(mc.kvs), ["a/1"]);

    const p = await c.put("a/1", "uno", { prevKv: true });
    assert.equal(text(p.prevKv!.value), "one");
    const d = await c.kv.delete("a/", { prefix: true, prevKv: true });
    assert.equal(d.deleted, 3n);
    assert.deepEqual(keys(d.prevKvs), ["a/1", "a/2", "a/3"]);
    assert.equal((await c.kv.delete("a/1")).deleted, 0n);
  });
});

Deno.test("kv: put with lease, ignoreValue, ignoreLease; etcd's errors", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    const { ID } = await c.lease.grant(60);
    await c.put("k", "v", { lease: ID });
    assert.equal((await c.get("k"))!.lease, ID);
    // a put without ignoreLease detaches the lease, as etcd's does
    await c.put("k", "", { ignoreValue: true });
    assert.equal(await c.getText("k"), "v");
    assert.equal((await c.get("k"))!.lease, 0n);
    await c.put("k", "v", { lease: ID });
    await c.put("k", "w", { ignoreLease: true });
    assert.equal(await c.getText("k"), "w");
    assert.equal((await c.get("k"))!.lease, ID);
    await assert.rejects(c.put("k", "x", { ignoreValue: true }), (e) => Errors.valueProvided.is(e));
    await assert.rejects(c.put("", "x"), (e) => Errors.emptyKey.is(e));
    await assert.rejects(
      c.put("nokey", "", { ignoreValue: true }),
      (e) => Errors.keyNotFound.is(e),
    );
    await assert.rejects(c.put("k", "x", { lease: 12345 }), (e) => Errors.leaseNotFound.is(e));
    await assert.rejects(
      c.range("k", { revision: 1_000_000 }),
      (e) => Errors.futureRev.is(e) && (e as { code: GrpcCode }).code === GrpcCode.OutOfRange,
    );
    assert.throws(() => c.range("k", { prefix: true, end: "z" }), /exclude each other/);
  });
});

Deno.test("kv: txn builder, compaction", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    await c.put("t", "1");
    const r1 = await c.txn()
      .if(cmp.value("t", "=", "1"), cmp.version("t", ">", 0))
      .then(op.put("t", "2"), op.get("t"))
      .else(op.get("t"))
      .commit();
    assert.equal(r1.succeeded, true);
    const got = r1.responses[1].response;
    assert.equal(got.case, "responseRange");
    assert.equal(text(got.value!.kvs[0].value), "2");
    const r2 = await c.txn().if(cmp.value("t", "=", "1")).then(op.delete("t")).else(
      op.get("t"),
    ).commit();
    assert.equal(r2.succeeded, false);
    assert.equal(r2.responses[0].response.case, "responseRange");
    // a txn with no comparisons runs its then branch
    const r3 = await c.txn().then(op.put("u", "x"), op.delete("t")).commit();
    assert.equal(r3.succeeded, true);
    assert.equal(await c.get("t"), undefined);
    // comparisons over a range (etcd 3.3+): every key under p/ was created before now
    const rev = (await c.put("p/1", "x")).header!.revision;
    const r4 = await c.txn().if(cmp.createRevision("p/", "<", rev + 1n, { prefix: true }))
      .then(op.put("ok", "1")).commit();
    assert.equal(r4.succeeded, true);
    await assert.rejects(
      c.txn().then(op.put("d", "1"), op.put("d", "2")).commit(),
      (e) => Errors.duplicateKey.is(e),
    );
    assert.throws(() => c.txn().then().if(), /if\(\) must come before/);

    await c.kv.compact(rev);
    await assert.rejects(c.range("p/1", { revision: rev - 1n }), (e) => Errors.compacted.is(e));
    await assert.rejects(c.kv.compact(rev - 1n), (e) => Errors.compacted.is(e));
  });
});

Deno.test("kv: a range of 300 KB arrives whole (many DATA frames, flow control)", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    const value = "x".repeat(1024);
    await Promise.all(
      Array.from({ length: 300 }, (_, i) => c.put(`big/${String(i).padStart(3, "0")}`, value)),
    );
    const r = await c.range("big/", { prefix: true });
    assert.equal(r.kvs.length, 300);
    assert.ok(r.kvs.every((kv, i) => text(kv.key) === `big/${String(i).padStart(3, "0")}`));
    assert.ok(r.kvs.every((kv) => kv.value.length === 1024));
  });
});
