import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { LeaseTimeIndex } from "../../lib/lease/lease_queue.ts";

Deno.test("lease time index: randomized set/delete/pop against a sorted reference", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const index = new LeaseTimeIndex();
  const ref = new Map<bigint, number>();
  const earliest = () => {
    let best: [bigint, number] | undefined;
    for (const [id, t] of ref) if (!best || t < best[1]) best = [id, t];
    return best;
  };
  for (let step = 0; step < 5000; step++) {
    const id = BigInt(rand.int(200));
    const r = rand.int(10);
    if (r < 5) {
      const t = rand.int(1000);
      index.set(id, t);
      ref.set(id, t);
    } else if (r < 7) {
      index.delete(id);
      ref.delete(id);
    } else if (r < 9) {
      const top = index.peek();
      const want = earliest();
      assert.equal(top?.time, want?.[1], `seed=${seed} step ${step}`);
      if (top) assert.equal(ref.get(top.id), top.time);
    } else {
      const top = index.peek();
      if (top) {
        const id2 = top.id;
        index.delete(id2);
        ref.delete(id2);
      }
    }
    assert.equal(index.length, ref.size);
  }
  index.clear();
  assert.equal(index.length, 0);
  assert.equal(index.peek(), undefined);
});
