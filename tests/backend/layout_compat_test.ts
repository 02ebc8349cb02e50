import assert from "node:assert/strict";
import { RealDisk } from "../../lib/io/real_disk.ts";
import { DB } from "../../lib/backend/db.ts";
import { openBackend } from "../../lib/backend/open.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { MvccStore } from "../../lib/mvcc/kv_store.ts";
import { applyDeleteRange, applyPut, applyRange } from "../../lib/mvcc/applier.ts";
import { layoutStats } from "../../lib/backend/layout_stats.ts";
import {
  expectedLive,
  fixtureKey,
  fixtureValue,
  KEYS_PER_SIZE,
  VALUE_SIZES,
} from "./fixtures/layout_v1_workload.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Unpacks the page file written by the layout of 2026-12-07 into a temp dir. */
async function unpackFixture(): Promise<{ dir: string; path: string }> {
  const gz = await Deno.readFile(new URL("./fixtures/layout_v1.db.gz", import.meta.url));
  const raw = new Uint8Array(
    await new Response(new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip")))
      .arrayBuffer(),
  );
  const dir = await Deno.makeTempDir({ prefix: "concord-layout-" });
  const path = `${dir}/db`;
  await Deno.writeFile(path, raw);
  return { dir, path };
}

/** Every live key and value through the MVCC store, in key order. */
function liveKeys(store: MvccStore): { key: string; value: Uint8Array }[] {
  const r = applyRange(store, { key: enc.encode("\0"), rangeEnd: new Uint8Array([0]) });
  return r.kvs.map((kv) => ({ key: dec.decode(kv.key), value: kv.value }));
}

Deno.test("layout: a page file written by the 2026-12-07 layout opens, checks clean and serves", async () => {
  const { dir, path } = await unpackFixture();
  try {
    const disk = new RealDisk();
    // The fixture really holds what the layout change is about: multi-page leaves.
    const db = await DB.open(disk, path);
    assert.deepEqual(db.check(), []);
    const stats = db.view((tx) => layoutStats(tx, tx.meta));
    const key = stats.trees.find((t) => t.name === "key")!;
    assert.ok(key.multiPageLeaves >= 10, `fixture has ${key.multiPageLeaves} multi-page leaves`);
    await db.close();

    // Served through the MVCC store, then written to by the current layout, then reopened.
    let backend = await openBackend(disk, path, { clock: new SimClock() });
    let store = MvccStore.open(backend, { compactionPauseMs: 0 });
    const want = expectedLive();
    assert.deepEqual(liveKeys(store), want);
    const rev = store.rev();
    for (let s = 0; s < VALUE_SIZES.length; s++) {
      for (let i = 0; i < KEYS_PER_SIZE; i += 2) {
        applyPut(store, { key: enc.encode(fixtureKey(s, i)), value: fixtureValue(s, i, 2) });
      }
    }
    applyDeleteRange(store, { key: enc.encode(fixtureKey(0, 0)) });
    await backend.commit();
    await store.close();
    await backend.close();

    const db2 = await DB.open(disk, path);
    assert.deepEqual(db2.check(), []);
    await db2.close();
    backend = await openBackend(disk, path, { clock: new SimClock() });
    store = MvccStore.open(backend, { compactionPauseMs: 0 });
    assert.equal(store.rev(), rev + VALUE_SIZES.length * KEYS_PER_SIZE / 2 + 1);
    const after = new Map(want.map((e) => [e.key, e.value]));
    for (let s = 0; s < VALUE_SIZES.length; s++) {
      for (let i = 0; i < KEYS_PER_SIZE; i += 2) after.set(fixtureKey(s, i), fixtureValue(s, i, 2));
    }
    after.delete(fixtureKey(0, 0));
    assert.deepEqual(
      liveKeys(store),
      [...after].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([key, value]) => ({ key, value })),
    );
    // The revision before the writes still reads the fixture's values.
    const old = applyRange(store, { key: enc.encode(fixtureKey(4, 0)), revision: rev });
    assert.deepEqual(old.kvs[0].value, fixtureValue(4, 0, 1));
    await store.close();
    await backend.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
