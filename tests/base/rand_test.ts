import assert from "node:assert/strict";
import { Rand } from "../../lib/base/rand.ts";

Deno.test("Rand replays exactly from its seed and differs across seeds", () => {
  const a = new Rand(42), b = new Rand(42), c = new Rand(43);
  const sa = Array.from({ length: 100 }, () => a.nextU32());
  const sb = Array.from({ length: 100 }, () => b.nextU32());
  const sc = Array.from({ length: 100 }, () => c.nextU32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

Deno.test("Rand.int stays in range and covers it", () => {
  const r = new Rand(1);
  const seen = new Set<number>();
  for (let i = 0; i < 10_000; i++) {
    const v = r.int(10);
    assert.ok(v >= 0 && v < 10);
    seen.add(v);
  }
  assert.deepEqual(seen.size, 10);
});
