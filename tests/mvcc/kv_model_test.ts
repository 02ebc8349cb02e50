import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { EtcdError } from "../../lib/base/errors.ts";
import { KEY_BUCKET, MvccStore } from "../../lib/mvcc/kv_store.ts";
import { mainRevBytes } from "../../lib/mvcc/revision.ts";
import {
  applyCompaction,
  applyDeleteRange,
  applyPut,
  applyRange,
  applyTxn,
} from "../../lib/mvcc/applier.ts";
import { Model } from "./model.ts";
import { genDelete, genPut, genRange, genTxn, LEASES } from "./gen.ts";
import { TestLessor } from "./test_lessor.ts";
import { newDisk, openSimBackend } from "./helpers.ts";

function outcome<T>(f: () => T): { ok: T } | { err: string } {
  try {
    return { ok: f() };
  } catch (e) {
    if (e instanceof EtcdError) return { err: `${e.code} ${e.message}` };
    throw e;
  }
}

async function runSeed(seed: number, steps: number): Promise<void> {
  const r = new Rand(seed);
  const disk = await newDisk();
  let backend = await openSimBackend(disk);
  let lessor = new TestLessor(LEASES);
  const open = () =>
    MvccStore.open(backend, {
      leases: lessor,
      compactionBatchLimit: r.range(1, 6),
      compactionPauseMs: 0,
      indexCompactionStep: r.range(1, 8),
    });
  let store = open();
  const model = new Model();
  for (const l of LEASES) model.leases.add(l);
  for (let step = 0; step < steps; step++) {
    const x = r.int(100);
    const ctx = `seed=${seed} step=${step}`;
    if (x < 30) {
      const p = genPut(r);
      assert.deepEqual(outcome(() => applyPut(store, p)), outcome(() => model.put(p)), ctx);
    } else if (x < 40) {
      const d = genDelete(r);
      assert.deepEqual(
        outcome(() => applyDeleteRange(store, d)),
        outcome(() => model.deleteRange(d)),
        ctx,
      );
    } else if (x < 65) {
      const q = genRange(r, model.rev, model.compactRev);
      assert.deepEqual(
        outcome(() => applyRange(store, q)),
        outcome(() => model.range(q)),
        `${ctx} ${Deno.inspect(q)}`,
      );
    } else if (x < 88) {
      const t = genTxn(r, model.rev, model.compactRev);
      const maxOps = r.chance(0.1) ? 2 : 128;
      assert.deepEqual(
        outcome(() => applyTxn(store, t, { maxTxnOps: maxOps })),
        outcome(() => model.txn(t, maxOps)),
        ctx,
      );
    } else if (x < 94) {
      const rev = r.range(Math.max(1, model.compactRev - 1), model.rev + 2);
      let done: Promise<void> | undefined;
      const got = outcome(() => {
        done = applyCompaction(store, { revision: rev }).done;
        return store.rev();
      });
      assert.deepEqual(got, outcome(() => (model.compact(rev), model.rev)), ctx);
      if (done && r.chance(0.5)) await done;
    } else {
      await store.close();
      if (r.chance(0.5)) {
        await backend.close();
      } else {
        // kill -9 after the last commit: everything committed survives.
        await backend.commit();
        disk.processCrash();
      }
      backend = await openSimBackend(disk);
      lessor = new TestLessor(LEASES);
      store = open();
      assert.equal(store.rev(), model.rev, ctx);
      assert.equal(store.compactRev(), model.compactRev, ctx);
    }
    assert.equal(store.rev(), model.rev, `${ctx} revision after op ${x}`);
    // The lessor's attachments equal the keys that carry each lease now.
    if (step % 10 === 0) {
      for (const l of LEASES) {
        const want = model.keysAt(new Uint8Array([0]), new Uint8Array([0]), model.rev)
          .filter((kv) => kv.lease === l).map((kv) => String.fromCharCode(...kv.key)).sort();
        assert.deepEqual([...lessor.attached.get(l)!].sort(), want, `${ctx} lease ${l}`);
      }
    }
  }
  await store.settle();
  // After compaction exactly the revisions live at the compacted revision remain below it.
  if (model.compactRev > 0) {
    let below = 0;
    backend.read.range(KEY_BUCKET, new Uint8Array(0), mainRevBytes(model.compactRev + 1), () => {
      below++;
    });
    const all = new Uint8Array([0]);
    // Live keys' newest revisions, plus deletions made exactly at the compacted revision.
    const deletedAt = [...model.history.values()].filter((h) =>
      h.some((e) =>
        e.main === model.compactRev && e.kv === null
      )
    ).length;
    assert.equal(
      below,
      model.keysAt(all, all, model.compactRev).length + deletedAt,
      `seed=${seed} kept`,
    );
  }
  // History that survives compaction reads the same after a reopen.
  const before = store.hashKV(0);
  await store.close();
  await backend.close();
  backend = await openSimBackend(disk);
  store = MvccStore.open(backend, { leases: new TestLessor(LEASES) });
  assert.deepEqual(store.hashKV(0), before, `seed=${seed} hash after reopen`);
  for (let rev = Math.max(model.compactRev, 1); rev <= model.rev; rev++) {
    const q = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]), revision: rev };
    assert.deepEqual(applyRange(store, q), model.range(q), `seed=${seed} full range at ${rev}`);
  }
  await store.close();
  await backend.close();
}

Deno.test("mvcc matches the reference model on random operations", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rounds = Number(Deno.env.get("MVCC_ROUNDS") ?? 4);
  for (let i = 0; i < rounds; i++) await runSeed((seed + i) >>> 0, 600);
});
