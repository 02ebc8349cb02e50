import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { BTree } from "../../lib/mvcc/btree.ts";

Deno.test("btree: random inserts, deletes and scans match a sorted map", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const r = new Rand(seed);
  const t = new BTree<number>();
  const m = new Map<string, number>();
  const key = () => String.fromCharCode(...r.bytes(r.range(1, 4)));
  for (let i = 0; i < 20_000; i++) {
    const x = r.int(10);
    const k = key();
    if (x < 6) {
      t.set(k, i);
      m.set(k, i);
    } else if (x < 9) {
      assert.equal(t.delete(k), m.delete(k));
    } else {
      t.compactIfSparse();
    }
    if (i % 500 === 0) {
      const from = key();
      const end = r.chance(0.3) ? "" : key();
      const got: [string, number][] = [];
      t.ascend(from, end, (k2, v) => {
        got.push([k2, v]);
        return true;
      });
      const want = [...m.entries()].filter(([k2]) => k2 >= from && (end === "" || k2 < end))
        .sort((a, b) => (a[0] < b[0] ? -1 : 1));
      assert.deepEqual(got, want, `seed=${seed} step ${i}`);
    }
    assert.equal(t.get(k), m.get(k), `seed=${seed} step ${i}`);
  }
  assert.equal(t.size, m.size);
});

Deno.test("btree: sequential appends and early stop", () => {
  const t = new BTree<number>();
  for (let i = 0; i < 10_000; i++) t.set(String(i).padStart(6, "0"), i);
  const seen: number[] = [];
  t.ascend("005000", "", (_k, v) => {
    seen.push(v);
    return seen.length < 3;
  });
  assert.deepEqual(seen, [5000, 5001, 5002]);
  for (let i = 0; i < 9_990; i++) t.delete(String(i).padStart(6, "0"));
  t.compactIfSparse();
  const rest: number[] = [];
  t.ascend("", "", (_k, v) => (rest.push(v), true));
  assert.deepEqual(rest, Array.from({ length: 10 }, (_, i) => 9990 + i));
});
