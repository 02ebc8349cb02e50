import assert from "node:assert/strict";
import { histogram, PERCENTILES, percentiles, summarize } from "../../bench/loadgen/stats.ts";

Deno.test("summarize: count, fastest, slowest, average, population stddev, rps; input order is irrelevant", () => {
  const s = summarize([4, 1, 3, 2], 2);
  assert.equal(s.count, 4);
  assert.equal(s.fastest, 1);
  assert.equal(s.slowest, 4);
  assert.equal(s.average, 2.5);
  assert.equal(s.stddev, Math.sqrt(1.25));
  assert.equal(s.rps, 2);
  assert.deepEqual([...s.latencies], [1, 2, 3, 4]);
});

Deno.test("summarize: an empty run has zeros, not NaN", () => {
  const s = summarize([], 1, new Map([["boom", 3]]));
  assert.equal(s.count, 0);
  assert.equal(s.average, 0);
  assert.equal(s.stddev, 0);
  assert.equal(s.rps, 0);
  assert.equal(s.errors.get("boom"), 3);
});

Deno.test("percentiles follow etcd's rule: first sample with rank*100/n >= p", () => {
  // 1000 samples 0.001 .. 1.000: rank i holds (i+1)/1000.
  const lats = Array.from({ length: 1000 }, (_, i) => (i + 1) / 1000);
  // p10 -> rank 100, p25 -> 250, p50 -> 500, p75 -> 750, p90 -> 900, p95 -> 950, p99 -> 990,
  // p99.9 -> 999.
  assert.deepEqual(percentiles(lats), [0.101, 0.251, 0.501, 0.751, 0.901, 0.951, 0.991, 1]);
  assert.deepEqual(PERCENTILES, [10, 25, 50, 75, 90, 95, 99, 99.9]);
});

Deno.test("percentiles with few samples: unreachable ones stay 0 (not printed), reachable ones share samples", () => {
  // n = 4: ranks 0..3 are at 0%, 25%, 50%, 75%.
  assert.deepEqual(percentiles([1, 2, 3, 4], [10, 25, 50, 75, 90]), [2, 2, 3, 4, 0]);
  assert.deepEqual(percentiles([], [50]), [0]);
});

Deno.test("histogram: 10 equal buckets from fastest plus a last one at slowest, like etcd's report", () => {
  const even = histogram([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual(even.map((b) => b.upper), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual(even.map((b) => b.count), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  const skewed = histogram([0, 0, 0, 0.45, 10]);
  assert.deepEqual(skewed.map((b) => b.count), [3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  const total = histogram([0.3, 0.1, 0.2].sort()).reduce((a, b) => a + b.count, 0);
  assert.equal(total, 3);
  assert.deepEqual(histogram([]), []);
  // All samples equal: every sample lands in the first bucket.
  assert.deepEqual(histogram([2, 2, 2]).map((b) => b.count), [3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
});
