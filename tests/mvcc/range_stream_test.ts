import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Errors, type EtcdErrorDef } from "../../lib/base/errors.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { MvccStore } from "../../lib/mvcc/kv_store.ts";
import { applyRange } from "../../lib/mvcc/applier.ts";
import {
  FIRST_CHUNK_BYTES,
  kvBytes,
  openRangeStream,
  type RangeStreamChunk,
} from "../../lib/mvcc/range_stream.ts";
import {
  type KeyValue,
  type RangeRequest,
  type RangeResponse,
  SortOrder,
  SortTarget,
} from "../../lib/mvcc/types.ts";
import { newDisk, openSimBackend } from "./helpers.ts";

const is = (d: EtcdErrorDef) => (e: unknown) => d.is(e);
const enc = (s: string) => new TextEncoder().encode(s);

async function fresh() {
  const backend = await openSimBackend(await newDisk());
  const store = MvccStore.open(backend, { compactionPauseMs: 0 });
  return { backend, store };
}

function put(store: MvccStore, key: string, value: Uint8Array): number {
  const t = store.beginWrite();
  try {
    return t.put(enc(key), value, 0n);
  } finally {
    t.end();
  }
}

function del(store: MvccStore, key: string): void {
  const t = store.beginWrite();
  try {
    t.deleteRange({ key, end: undefined });
  } finally {
    t.end();
  }
}

/** The chunks merged as etcd's clients merge them (proto.Merge of each range_response). */
function merge(chunks: RangeStreamChunk[]): RangeResponse {
  const kvs: KeyValue[] = [];
  for (const c of chunks) kvs.push(...c.kvs);
  const end = chunks[chunks.length - 1].end;
  assert.ok(end, "the last chunk carries the end");
  for (const c of chunks.slice(0, -1)) assert.equal(c.end, undefined, "only the last has an end");
  return { header: { revision: end.revision }, kvs, more: end.more, count: end.count };
}

const MAX = 64 * 1024;

/** A kv as one comparable string (assert.deepEqual on thousands of byte arrays is slow). */
function show(kv: KeyValue): string {
  const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex");
  return `${hex(kv.key)} c${kv.createRevision} m${kv.modRevision} v${kv.version} ` +
    `l${kv.lease} ${hex(kv.value)}`;
}

Deno.test("range stream: the same answer as Range over thousands of keys, every option", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const { backend, store } = await fresh();
  try {
    const n = 3000;
    const names: string[] = [];
    for (let i = 0; i < n; i++) names.push(`k/${String(rand.int(100_000)).padStart(6, "0")}/${i}`);
    // values from empty to 6 KiB, some keys rewritten and some deleted, at several revisions
    for (const k of names) put(store, k, rand.bytes(rand.chance(0.1) ? rand.int(6144) : 40));
    const mid = store.rev();
    for (let i = 0; i < 400; i++) {
      const k = names[rand.int(n)];
      if (rand.chance(0.5)) del(store, k);
      else put(store, k, rand.bytes(rand.int(300)));
    }
    put(store, "single", enc("one"));
    const spans: [string, string | undefined][] = [
      ["k/", "k0"], // a prefix
      ["k/05", "k/06"], // a slice
      ["\0", "\0"], // every key (from-key "\0")
      ["k/099", "\0"], // from a key
      ["single", undefined], // one key
      ["missing", undefined],
      ["x", "y"], // an empty range
    ];
    const orders: [SortOrder, SortTarget][] = [
      [SortOrder.NONE, SortTarget.KEY],
      [SortOrder.ASCEND, SortTarget.KEY],
    ];
    let cases = 0;
    for (const [key, end] of spans) {
      for (const limit of [0, 1, 7, 2999, 5000]) {
        for (const revision of [0, mid]) {
          // the orders RangeStream serves are all key order: one limit is enough for them
          for (const [sortOrder, sortTarget] of limit === 7 ? orders : orders.slice(0, 1)) {
            for (const mode of ["all", "keysOnly", "countOnly"] as const) {
              const r: RangeRequest = {
                key: enc(key),
                rangeEnd: end === undefined ? undefined : enc(end),
                limit,
                revision,
                sortOrder,
                sortTarget,
                keysOnly: mode === "keysOnly",
                countOnly: mode === "countOnly",
              };
              const want = applyRange(store, r);
              const chunks = [...openRangeStream(store, r, { maxChunkBytes: MAX })];
              const got = merge(chunks);
              const what = `seed=${seed} ${JSON.stringify({ key, end, limit, revision, mode })}`;
              assert.equal(got.header.revision, want.header.revision, what);
              assert.equal(got.count, want.count, what);
              assert.equal(got.more, want.more, what);
              assert.equal(got.kvs.length, want.kvs.length, what);
              for (let i = 0; i < got.kvs.length; i++) {
                assert.equal(show(got.kvs[i]), show(want.kvs[i]), what);
              }
              cases++;
            }
          }
        }
      }
    }
    assert.equal(cases, 7 * 2 * 3 * (4 + 2));
  } finally {
    await store.close();
    await backend.close();
  }
});

Deno.test("range stream: chunks start at 1 KiB and double up to the limit", async () => {
  const { backend, store } = await fresh();
  try {
    const value = new Uint8Array(200);
    for (let i = 0; i < 2000; i++) put(store, `k/${String(i).padStart(5, "0")}`, value);
    const chunks = [
      ...openRangeStream(store, { key: enc("k/"), rangeEnd: enc("k0") }, { maxChunkBytes: MAX }),
    ];
    const sizes = chunks.map((c) => c.kvs.reduce((n, kv) => n + kvBytes(kv), 0));
    const per = kvBytes(chunks[0].kvs[0]);
    // each chunk holds what fits its budget: 1 KiB, 2 KiB, 4 KiB ... then 64 KiB each
    let budget = FIRST_CHUNK_BYTES;
    for (let i = 0; i < sizes.length - 1; i++) {
      assert.equal(sizes[i], Math.floor(budget / per) * per, `chunk ${i}: ${sizes}`);
      budget = Math.min(MAX, budget * 2);
    }
    assert.ok(sizes.length >= 9, `${sizes.length} chunks`);
    assert.equal(Math.max(...sizes) <= MAX, true);
    assert.equal(chunks.reduce((n, c) => n + c.kvs.length, 0), 2000);
    // a kv larger than the budget still goes out, alone in its chunk
    put(store, "big", new Uint8Array(3 * MAX));
    const big = [...openRangeStream(store, { key: enc("big") }, { maxChunkBytes: MAX })];
    assert.equal(big.length, 1);
    assert.equal(big[0].kvs[0].value.length, 3 * MAX);
  } finally {
    await store.close();
    await backend.close();
  }
});

Deno.test("range stream: refuses what etcd's RangeStream refuses", async () => {
  const { backend, store } = await fresh();
  try {
    const base = { key: enc("a"), rangeEnd: enc("b") };
    const open = (r: Partial<RangeRequest>) =>
      openRangeStream(store, { ...base, ...r }, { maxChunkBytes: MAX });
    assert.throws(() => open({ key: new Uint8Array(0) }), is(Errors.emptyKey));
    const refused: [SortOrder, SortTarget][] = [
      [SortOrder.DESCEND, SortTarget.KEY],
      [SortOrder.ASCEND, SortTarget.VALUE],
      [SortOrder.DESCEND, SortTarget.MOD],
      // etcd lets this one through, but Range sorts it by value: the chunks could not match
      [SortOrder.NONE, SortTarget.VALUE],
    ];
    for (const [sortOrder, sortTarget] of refused) {
      assert.throws(() => open({ sortOrder, sortTarget }), is(Errors.rangeStreamSort));
    }
    for (
      const f of [
        { minModRevision: 1 },
        { maxModRevision: 1 },
        { minCreateRevision: 1 },
        { maxCreateRevision: 1 },
      ]
    ) {
      assert.throws(() => open(f), is(Errors.rangeStreamFilters));
    }
    assert.equal(Errors.rangeStreamSort().code, 12); // Unimplemented, as etcd
    assert.throws(() => open({ revision: 99 }), is(Errors.futureRev));
  } finally {
    await store.close();
    await backend.close();
  }
});

Deno.test("range stream: pinned at its revision; compaction past it ends it cleanly", async () => {
  const { backend, store } = await fresh();
  try {
    for (let i = 0; i < 200; i++) {
      put(store, `k/${String(i).padStart(3, "0")}`, new Uint8Array(100));
    }
    const r = { key: enc("k/"), rangeEnd: enc("k0") };
    const it = openRangeStream(store, r, { maxChunkBytes: MAX });
    const first = it.next();
    assert.equal(first.done, false);
    const got = [...first.value!.kvs];
    // writes after the stream opened are not seen by its later chunks
    const pinned = store.rev();
    for (let i = 0; i < 200; i++) put(store, `k/${String(i).padStart(3, "0")}`, enc("new"));
    del(store, "k/150");
    for (let c = it.next(); !c.done; c = it.next()) {
      got.push(...c.value.kvs);
      if (c.value.end) {
        assert.equal(c.value.end.revision, pinned);
        assert.equal(c.value.end.count, 200);
      }
    }
    assert.equal(got.length, 200);
    assert.ok(got.every((kv) => kv.value.length === 100));

    // a compaction at the stream's revision keeps what it reads; past it, the stream fails
    const it2 = openRangeStream(store, { ...r, revision: pinned }, { maxChunkBytes: MAX });
    it2.next();
    await store.compact(pinned).done;
    assert.equal(it2.next().done, false);
    await store.compact(pinned + 1).done;
    assert.throws(() => it2.next(), is(Errors.compacted));
    assert.throws(
      () => openRangeStream(store, { ...r, revision: pinned }, { maxChunkBytes: MAX }),
      is(Errors.compacted),
    );
  } finally {
    await store.close();
    await backend.close();
  }
});
