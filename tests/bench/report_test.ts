import assert from "node:assert/strict";
import { formatReport, jsonSummary } from "../../bench/loadgen/report.ts";
import { summarize } from "../../bench/loadgen/stats.ts";

Deno.test("formatReport prints etcd's benchmark report for known latencies", () => {
  // Binary fractions, so the bucket bounds are exact (as float64 in etcd's Go code too).
  const lats = [0.125, 0.25, 0.25, 0.375, 1.375];
  const s = summarize(lats, 0.5, new Map([["14: unavailable", 2]]));
  // n = 5: ranks sit at 0, 20, 40, 60, 80 %, so p90 and above have no sample and are omitted.
  const expected = `
Summary:
  Total:\t0.5000 secs.
  Slowest:\t1.3750 secs.
  Fastest:\t0.1250 secs.
  Average:\t0.4750 secs.
  Stddev:\t0.4569 secs.
  Requests/sec:\t10.0000

Response time histogram:
  0.1250 [1]\t|∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎
  0.2500 [2]\t|∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎
  0.3750 [1]\t|∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎
  0.5000 [0]\t|
  0.6250 [0]\t|
  0.7500 [0]\t|
  0.8750 [0]\t|
  1.0000 [0]\t|
  1.1250 [0]\t|
  1.2500 [0]\t|
  1.3750 [1]\t|∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎

Latency distribution:
  10% in 0.2500 secs.
  25% in 0.2500 secs.
  50% in 0.3750 secs.
  75% in 1.3750 secs.

Error distribution:
  [2]\t14: unavailable
`;
  assert.equal(formatReport(s), expected);
});

Deno.test("formatReport of a run with only errors prints only the error distribution", () => {
  const s = summarize([], 1, new Map([["4: deadline exceeded", 7]]));
  assert.equal(formatReport(s), "\nError distribution:\n  [7]\t4: deadline exceeded\n");
});

Deno.test("jsonSummary carries count, errors and p50/p90/p99 by etcd's percentile rule", () => {
  const lats = Array.from({ length: 100 }, (_, i) => (i + 1) / 1000);
  const j = jsonSummary(summarize(lats, 2, new Map([["a", 1], ["b", 2]])));
  assert.equal(j.count, 100);
  assert.equal(j.errors, 3);
  assert.deepEqual(j.errorKinds, { a: 1, b: 2 });
  assert.equal(j.rps, 50);
  assert.equal(j.p50, 0.051);
  assert.equal(j.p90, 0.091);
  assert.equal(j.p99, 0.1);
});
