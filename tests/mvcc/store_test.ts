import assert from "node:assert/strict";
import { Errors, type EtcdErrorDef } from "../../lib/base/errors.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";
import { openBackend } from "../../lib/backend/open.ts";
import { MvccStore } from "../../lib/mvcc/kv_store.ts";
import {
  applyCompaction,
  applyDeleteRange,
  applyPut,
  applyRange,
  applyTxn,
} from "../../lib/mvcc/applier.ts";
import { spanOf } from "../../lib/mvcc/key_bytes.ts";
import { bytesToMain, bytesToSub, isTombstone } from "../../lib/mvcc/revision.ts";
import { CompareResult, CompareTarget, type RequestOp } from "../../lib/mvcc/types.ts";
import { DB_PATH, newDisk, openSimBackend } from "./helpers.ts";
import { TestLessor } from "./test_lessor.ts";

const is = (d: EtcdErrorDef) => (e: unknown) => d.is(e);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const put = (k: string, v = "v"): RequestOp => ({
  case: "requestPut",
  value: { key: enc(k), value: enc(v) },
});

async function fresh(lessor?: TestLessor) {
  const disk = await newDisk();
  const backend = await openSimBackend(disk);
  const store = MvccStore.open(backend, { leases: lessor, compactionPauseMs: 0 });
  return { disk, backend, store };
}

Deno.test("store: etcd's errors for bad requests and revisions", async () => {
  const { backend, store } = await fresh(new TestLessor([5n]));
  assert.equal(store.rev(), 1);
  assert.throws(() => applyPut(store, { key: new Uint8Array(0) }), is(Errors.emptyKey));
  assert.throws(() => applyRange(store, { key: new Uint8Array(0) }), is(Errors.emptyKey));
  assert.throws(
    () => applyPut(store, { key: enc("a"), ignoreValue: true }),
    is(Errors.keyNotFound),
  );
  assert.throws(
    () => applyPut(store, { key: enc("a"), ignoreLease: true }),
    is(Errors.keyNotFound),
  );
  assert.throws(
    () => applyPut(store, { key: enc("a"), ignoreValue: true, value: enc("x") }),
    is(Errors.valueProvided),
  );
  assert.throws(
    () => applyPut(store, { key: enc("a"), ignoreLease: true, lease: 5n }),
    is(Errors.leaseProvided),
  );
  assert.throws(() => applyPut(store, { key: enc("a"), lease: 6n }), is(Errors.leaseNotFound));
  assert.equal(store.rev(), 1, "failed requests take no revision");
  for (let i = 0; i < 5; i++) applyPut(store, { key: enc("a"), value: enc(`${i}`) });
  assert.throws(() => applyRange(store, { key: enc("a"), revision: 7 }), is(Errors.futureRev));
  applyCompaction(store, { revision: 4 });
  assert.throws(() => applyRange(store, { key: enc("a"), revision: 3 }), is(Errors.compacted));
  assert.equal(dec(applyRange(store, { key: enc("a"), revision: 4 }).kvs[0].value), "2");
  assert.throws(() => applyCompaction(store, { revision: 4 }), is(Errors.compacted));
  assert.throws(() => applyCompaction(store, { revision: 7 }), is(Errors.futureRev));
  assert.throws(() => applyTxn(store, { success: [put("x"), put("x")] }), is(Errors.duplicateKey));
  assert.throws(
    () =>
      applyTxn(store, {
        success: [
          { case: "requestDeleteRange", value: { key: enc("a"), rangeEnd: enc("z") } },
          put("b"),
        ],
      }),
    is(Errors.duplicateKey),
  );
  // Then and else of a nested txn may put the same key.
  applyTxn(store, {
    success: [{ case: "requestTxn", value: { success: [put("n")], failure: [put("n")] } }],
  });
  assert.throws(
    () => applyTxn(store, { success: [put("a"), put("b"), put("c")] }, { maxTxnOps: 2 }),
    is(Errors.tooManyOps),
  );
  assert.throws(
    () =>
      applyTxn(store, {
        success: [{ case: "requestRange", value: { key: enc("a"), revision: 99 } }, put("q")],
      }),
    is(Errors.futureRev),
  );
  await store.settle();
  await store.close();
  await backend.close();
});

Deno.test("store: txn compares over ranges, one revision per txn, sub-response headers", async () => {
  const { backend, store } = await fresh();
  applyPut(store, { key: enc("k1"), value: enc("a") }); // 2
  applyPut(store, { key: enc("k2"), value: enc("b") }); // 3
  const resp = applyTxn(store, {
    compare: [{
      key: enc("k"),
      rangeEnd: enc("l"),
      target: CompareTarget.VERSION,
      result: CompareResult.EQUAL,
      version: 1,
    }],
    success: [
      { case: "requestRange", value: { key: enc("k1") } },
      put("k3"),
      { case: "requestRange", value: { key: enc("k"), rangeEnd: enc("l") } },
      { case: "requestDeleteRange", value: { key: enc("k1"), prevKv: true } },
    ],
  });
  assert.equal(resp.succeeded, true);
  assert.equal(resp.header.revision, 4);
  const revs = resp.responses.map((r) => r.value.header.revision);
  assert.deepEqual(revs, [3, 4, 4, 4]);
  const inner = resp.responses[2];
  assert.ok(inner.case === "responseRange");
  assert.deepEqual(inner.value.kvs.map((kv) => dec(kv.key)), ["k1", "k2", "k3"]);
  assert.equal(store.rev(), 4);
  assert.deepEqual(
    applyRange(store, { key: enc("k"), rangeEnd: enc("l") }).kvs.map((
      kv,
    ) => [dec(kv.key), kv.modRevision]),
    [["k2", 3], ["k3", 4]],
  );
  // A value compare on a missing key always fails; a version compare sees version 0.
  const miss = applyTxn(store, {
    compare: [{
      key: enc("zz"),
      target: CompareTarget.VALUE,
      result: CompareResult.NOT_EQUAL,
      value: enc("x"),
    }],
  });
  assert.equal(miss.succeeded, false);
  assert.equal(miss.header.revision, 4);
  const v0 = applyTxn(store, {
    compare: [{
      key: enc("zz"),
      target: CompareTarget.VERSION,
      result: CompareResult.EQUAL,
      version: 0,
    }],
  });
  assert.equal(v0.succeeded, true);
  // Deleting nothing takes no revision; the header says the current one.
  assert.equal(applyDeleteRange(store, { key: enc("nothing") }).header.revision, 4);
  await store.close();
  await backend.close();
});

Deno.test("store: leases attach, move, detach, and are reattached on open", async () => {
  const lessor = new TestLessor([1n, 2n]);
  const { disk, backend, store } = await fresh(lessor);
  applyPut(store, { key: enc("a"), value: enc("1"), lease: 1n });
  applyPut(store, { key: enc("b"), value: enc("1"), lease: 1n });
  applyPut(store, { key: enc("a"), value: enc("2"), lease: 2n });
  applyPut(store, { key: enc("b"), value: enc("2"), ignoreLease: true });
  assert.deepEqual([...lessor.attached.get(1n)!], ["b"]);
  assert.deepEqual([...lessor.attached.get(2n)!], ["a"]);
  applyDeleteRange(store, { key: enc("b") });
  assert.equal(lessor.attached.get(1n)!.size, 0);
  await store.close();
  await backend.close();
  const b2 = await openSimBackend(disk);
  const l2 = new TestLessor([1n, 2n]);
  const s2 = MvccStore.open(b2, { leases: l2 });
  assert.deepEqual([...l2.attached.get(2n)!], ["a"]);
  assert.equal(s2.leaseOf(enc("a")), 2n);
  await s2.close();
  await b2.close();
});

Deno.test("store: consistent index and term commit with the change, and survive power loss", async () => {
  const { disk, backend, store } = await fresh();
  assert.deepEqual(store.consistentIndex(), { index: 0, term: 0 });
  applyPut(store, { key: enc("a"), value: enc("1") });
  store.setConsistentIndex(10, 2);
  await backend.commit();
  applyPut(store, { key: enc("a"), value: enc("2") });
  store.setConsistentIndex(11, 2);
  // Not committed: a power loss keeps the first pair, never a mix.
  disk.powerLoss("drop-all");
  const b2 = await openSimBackend(disk);
  const s2 = MvccStore.open(b2);
  assert.deepEqual(s2.consistentIndex(), { index: 10, term: 2 });
  assert.equal(s2.rev(), 2);
  assert.equal(dec(applyRange(s2, { key: enc("a") }).kvs[0].value), "1");
  await s2.close();
  await b2.close();
  void store;
});

Deno.test("store: compaction in batches while writes and reads go on; resumes after restart", async () => {
  const disk = await newDisk();
  let backend = await openSimBackend(disk);
  let store = MvccStore.open(backend, {
    compactionBatchLimit: 50,
    compactionPauseMs: 1,
    indexCompactionStep: 20,
  });
  for (let i = 0; i < 2000; i++) applyPut(store, { key: enc(`k${i % 100}`), value: enc(`${i}`) });
  const { done } = applyCompaction(store, { revision: 1500 });
  // Members compare HashKV while compaction runs: the value must not depend on its progress.
  const hashBefore = store.hashKV(2001);
  // Writers and readers are not held up while compaction runs.
  let writes = 0;
  while (writes < 200) {
    applyPut(store, { key: enc(`w${writes}`), value: enc("x") });
    const r = applyRange(store, { key: enc("k"), rangeEnd: enc("l"), revision: 1500 });
    assert.equal(r.count, 100);
    writes++;
    await new Promise((res) => setTimeout(res, 0));
  }
  await done;
  assert.equal(
    store.hashKV(2001).hash,
    hashBefore.hash,
    "HashKV does not depend on compaction progress",
  );
  // A compaction interrupted by a restart resumes on open.
  const { done: d2 } = applyCompaction(store, { revision: 2100 });
  await backend.commit();
  await store.close();
  await d2;
  await backend.close();
  backend = await openSimBackend(disk);
  store = MvccStore.open(backend, { compactionPauseMs: 0 });
  assert.equal(store.compactRev(), 2100);
  await store.settle();
  let below = 0;
  backend.read.range("key", new Uint8Array(0), undefined, (k) => {
    if (k[7] + k[6] * 256 <= 2100) below++;
  });
  assert.equal(below, 100 + 99, "one revision per live key remains at or below 2100");
  assert.equal(applyRange(store, spanAll()).count, 300);
  await store.close();
  await backend.close();
});

function spanAll() {
  return { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) };
}

Deno.test("store: hashKV equal on members with the same history, hash ignores the consistent index", async () => {
  const a = await fresh();
  const b = await fresh();
  for (const s of [a.store, b.store]) {
    for (let i = 0; i < 50; i++) applyPut(s, { key: enc(`h${i % 7}`), value: enc(`${i}`) });
    applyDeleteRange(s, { key: enc("h3") });
  }
  a.store.setConsistentIndex(100, 3);
  b.store.setConsistentIndex(200, 4);
  assert.deepEqual(a.store.hashKV(0), b.store.hashKV(0));
  assert.equal(a.store.hash(), b.store.hash());
  assert.notEqual(a.store.hashKV(30).hash, a.store.hashKV(0).hash);
  assert.throws(() => a.store.hashKV(100), is(Errors.futureRev));
  applyPut(a.store, { key: enc("extra") });
  assert.notEqual(a.store.hashKV(0).hash, b.store.hashKV(0).hash);
  for (const x of [a, b]) {
    await x.store.close();
    await x.backend.close();
  }
});

// Expected hashes from a real etcd 3.4.23 (Debian's /usr/bin/etcd, 22:20 UTC 2026-12-07), one
// member in a fresh data dir, through etcdctl (ETCDCTL_API=3): put a 1; put b 2; del a c;
// put c 3; del c; compact 4 --physical; endpoint hashkv --rev=0 (3661720718) and --rev=5
// (98015951); put d 4; endpoint hashkv --rev=0 (3799442373) and --rev=6 (3661720718).
Deno.test("store: hashKV after a compaction at a deletion's revision, with no key live, equals etcd 3.4's", async () => {
  const { disk, backend, store } = await fresh();
  applyPut(store, { key: enc("a"), value: enc("1") }); // 2
  applyPut(store, { key: enc("b"), value: enc("2") }); // 3
  applyDeleteRange(store, { key: enc("a"), rangeEnd: enc("c") }); // 4: tombstones 4.0 and 4.1
  applyPut(store, { key: enc("c"), value: enc("3") }); // 5
  applyDeleteRange(store, { key: enc("c") }); // 6: no key is live now
  await applyCompaction(store, { revision: 4 }).done;
  // Compaction keeps the tombstones at the compacted revision (etcd PR #18274: a watch from 4
  // sees the deletions), where etcd 3.4.23 deletes them; with no key live etcd's keep set is
  // empty and every stored pair is hashed, so the hash must leave those tombstones out.
  const stored: string[] = [];
  backend.read.range("key", new Uint8Array(0), undefined, (k) => {
    stored.push(`${bytesToMain(k)}.${bytesToSub(k)}${isTombstone(k) ? "t" : ""}`);
  });
  assert.deepEqual(stored, ["4.0t", "4.1t", "5.0", "6.0t"], "the tombstones at 4 stay stored");
  const etcdAt6 = { hash: 3661720718, rev: 6, compactRev: 4 };
  assert.deepEqual(store.hashKV(0), etcdAt6);
  assert.equal(store.hashKV(5).hash, 98015951);
  // A restart from the page file, and a member restored from a copy of it, hash the same.
  const copy: Uint8Array[] = [];
  await backend.writeTo((c) => {
    copy.push(c.slice());
    return Promise.resolve();
  });
  await store.close();
  await backend.close();
  const other = await newDisk();
  const f = await other.open(DB_PATH, { create: true });
  let off = 0;
  for (const c of copy) {
    await f.writeAt(c, off);
    off += c.length;
  }
  await f.sync();
  await f.close();
  for (const d of [disk, other]) {
    const b = await openSimBackend(d);
    const s = MvccStore.open(b, { compactionPauseMs: 0 });
    assert.deepEqual(s.hashKV(0), etcdAt6);
    applyPut(s, { key: enc("d"), value: enc("4") }); // 7: d is kept, the keep set not empty
    assert.deepEqual(s.hashKV(0), { hash: 3799442373, rev: 7, compactRev: 4 });
    assert.equal(s.hashKV(6).hash, 3661720718);
    await s.close();
    await b.close();
  }
});

Deno.test("store: on RealDisk, data and revisions survive a reopen", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mvcc-test-" });
  try {
    const disk = new RealDisk();
    let backend = await openBackend(disk, `${dir}/db`);
    let store = MvccStore.open(backend);
    for (let i = 0; i < 100; i++) applyPut(store, { key: enc(`r${i}`), value: enc(`${i}`) });
    applyDeleteRange(store, { key: enc("r1"), rangeEnd: enc("r2") });
    const before = applyRange(store, spanAll());
    await store.close();
    await backend.close();
    backend = await openBackend(disk, `${dir}/db`);
    store = MvccStore.open(backend);
    assert.equal(store.rev(), 102);
    assert.deepEqual(applyRange(store, spanAll()), before);
    assert.equal(applyRange(store, { key: enc("r10"), revision: 101 }).kvs.length, 1);
    await store.close();
    await backend.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store: a write txn's half-applied changes are invisible to readers", async () => {
  const { backend, store } = await fresh();
  applyPut(store, { key: enc("a"), value: enc("1") });
  const txn = store.beginWrite();
  txn.put(enc("a"), enc("2"), 0n);
  txn.deleteRange(spanOf(enc("a")));
  txn.put(enc("b"), enc("3"), 0n);
  // A reader outside the txn still sees revision 2.
  const r = applyRange(store, spanAll());
  assert.deepEqual([r.header.revision, r.kvs.map((kv) => dec(kv.value))], [2, ["1"]]);
  assert.throws(() => store.beginWrite());
  txn.end();
  const r2 = applyRange(store, spanAll());
  assert.deepEqual([r2.header.revision, r2.kvs.map((kv) => dec(kv.key))], [3, ["b"]]);
  await store.close();
  await backend.close();
});

Deno.test("store: power loss in the middle of a physical compaction loses nothing readable", async () => {
  const disk = await newDisk();
  let backend = await openSimBackend(disk);
  let store = MvccStore.open(backend, { compactionBatchLimit: 20, compactionPauseMs: 1 });
  for (let i = 0; i < 600; i++) {
    if (i % 7 === 3) applyDeleteRange(store, { key: enc(`p${(i * 3) % 40}`) });
    else applyPut(store, { key: enc(`p${i % 40}`), value: enc(`${i}`) });
  }
  const final = store.rev();
  const compactAt = 400;
  const want = new Map<number, unknown>();
  for (let rev = compactAt; rev <= final; rev += 7) {
    want.set(rev, applyRange(store, { ...spanAll(), revision: rev }));
  }
  await backend.commit();
  applyCompaction(store, { revision: compactAt });
  // Let a few batches commit, then cut the power.
  const commitsBefore = backend.stats().commits;
  const deadline = Date.now() + 5000;
  while (backend.stats().commits < commitsBefore + 4) {
    assert.ok(Date.now() < deadline, "compaction made no progress");
    await new Promise((res) => setTimeout(res, 1));
  }
  disk.powerLoss("random");
  await store.close();
  backend = await openSimBackend(disk);
  store = MvccStore.open(backend, { compactionPauseMs: 0 });
  assert.equal(store.rev(), final);
  assert.equal(store.compactRev(), compactAt);
  assert.equal(
    backend.read.get("meta", enc("finishedCompactRev")),
    undefined,
    "the power went out before the compaction finished",
  );
  for (const [rev, r] of want) {
    assert.deepEqual(applyRange(store, { ...spanAll(), revision: rev }), r, `rev ${rev}`);
  }
  await store.settle();
  for (const [rev, r] of want) {
    assert.deepEqual(applyRange(store, { ...spanAll(), revision: rev }), r, `rev ${rev} after`);
  }
  await store.close();
  await backend.close();
});

Deno.test("store: a put naming an unknown lease writes nothing, even below the applier", async () => {
  const { backend, store } = await fresh(new TestLessor([5n]));
  const txn = store.beginWrite();
  assert.throws(() => txn.put(enc("k"), enc("v"), 6n), is(Errors.leaseNotFound));
  txn.end();
  assert.equal(store.rev(), 1);
  assert.equal(applyRange(store, { key: enc("k") }).kvs.length, 0);
  applyPut(store, { key: enc("k"), value: enc("v"), lease: 5n });
  assert.equal(store.rev(), 2);
  await store.close();
  await backend.close();
});

Deno.test("store: reopening with a key whose lease the lessor lost still opens", async () => {
  const { disk, backend, store } = await fresh(new TestLessor([1n, 2n]));
  applyPut(store, { key: enc("a"), value: enc("1"), lease: 1n });
  applyPut(store, { key: enc("b"), value: enc("1"), lease: 2n });
  await store.close();
  await backend.close();
  const b2 = await openSimBackend(disk);
  const l2 = new TestLessor([2n]);
  const s2 = MvccStore.open(b2, { leases: l2 });
  assert.equal(s2.leaseOf(enc("a")), 1n, "the record keeps its lease field");
  assert.deepEqual([...l2.attached.get(2n)!], ["b"]);
  assert.equal(dec(applyRange(s2, { key: enc("a") }).kvs[0].value), "1");
  await s2.close();
  await b2.close();
});
