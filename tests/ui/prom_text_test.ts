/**
 * The Metrics page's arithmetic on /metrics text: parsing (labels with escapes, +Inf,
 * comments), a counter's rate (and across a reset), and a histogram quantile over an
 * interval computed as Prometheus' histogram_quantile does on the buckets' increase.
 */
import assert from "node:assert/strict";
import { parseMetrics, quantile, rate, total } from "../../lib/ui/prom_text.ts";

const before = parseMetrics(`# HELP h a histogram
# TYPE h histogram
h_bucket{method="Put",le="0.001"} 10
h_bucket{method="Put",le="0.01"} 10
h_bucket{method="Put",le="0.1"} 10
h_bucket{method="Put",le="+Inf"} 10
h_bucket{method="Range",le="0.001"} 5
h_bucket{method="Range",le="0.01"} 5
h_bucket{method="Range",le="0.1"} 5
h_bucket{method="Range",le="+Inf"} 5
c_total{code="OK",msg="a \\"quoted\\", value"} 100
c_total{code="Unavailable"} 4
g 7.5e3
`);

Deno.test("prom text: samples, labels with escapes, sums", () => {
  assert.equal(before.length, 11);
  const c = before.find((s) => s.name === "c_total" && s.labels.code === "OK")!;
  assert.equal(c.labels.msg, 'a "quoted", value');
  assert.equal(total(before, "c_total"), 104);
  assert.equal(total(before, "g"), 7500);
  assert.equal(total(before, "missing"), undefined);
  assert.equal(before.find((s) => s.labels.le === "+Inf")!.labels.le, "+Inf");
  assert.throws(() => parseMetrics("not a line at all {"), /not a metrics line/);
});

Deno.test("prom text: a counter's rate, and across a reset", () => {
  const after = parseMetrics('c_total{code="OK"} 130\nc_total{code="Unavailable"} 4\n');
  assert.equal(rate(before, after, "c_total", 2), 15);
  const reset = parseMetrics('c_total{code="OK"} 6\n');
  assert.equal(rate(before, reset, "c_total", 2), 3);
  assert.equal(rate(before, after, "missing", 2), undefined);
});

Deno.test("prom text: p99 over the interval from the buckets' increase", () => {
  // 100 new observations: 90 under 1 ms, 9 in (1 ms, 10 ms], 1 in (10 ms, 100 ms]
  const after = parseMetrics(`h_bucket{method="Put",le="0.001"} 70
h_bucket{method="Put",le="0.01"} 79
h_bucket{method="Put",le="0.1"} 80
h_bucket{method="Put",le="+Inf"} 80
h_bucket{method="Range",le="0.001"} 35
h_bucket{method="Range",le="0.01"} 35
h_bucket{method="Range",le="0.1"} 35
h_bucket{method="Range",le="+Inf"} 35
`);
  // rank 99 of 100 falls at the end of the (1 ms, 10 ms] bucket: 90 + 9 = 99
  assert.ok(Math.abs(quantile(before, after, "h", 0.99)! - 0.01) < 1e-12);
  // rank 50: within the first bucket, interpolated from 0: 0.001 * 50/90
  assert.ok(Math.abs(quantile(before, after, "h", 0.5)! - 0.001 * 50 / 90) < 1e-12);
  // rank 99.5: half-way through the (10 ms, 100 ms] bucket's one observation
  assert.ok(Math.abs(quantile(before, after, "h", 0.995)! - 0.055) < 1e-12);
  // only the Range series: 30 observations, all under 1 ms
  assert.ok(
    Math.abs(quantile(before, after, "h", 0.99, { method: "Range" })! - 0.001 * 29.7 / 30) <
      1e-12,
  );
  // nothing observed in between: no figure
  assert.equal(quantile(after, after, "h", 0.99), undefined);
  assert.equal(quantile(before, after, "missing", 0.99), undefined);
  // observations beyond the last finite bound report that bound
  const inf = parseMetrics('h_bucket{le="0.001"} 0\nh_bucket{le="+Inf"} 3\n');
  assert.equal(quantile([], inf, "h", 0.99), 0.001);
});
