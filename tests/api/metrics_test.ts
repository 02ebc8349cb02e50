import assert from "node:assert/strict";
import { MetricsRegistry } from "../../lib/api/metrics.ts";

Deno.test("metrics registry renders Prometheus text format", () => {
  const r = new MetricsRegistry();
  const c = r.counter("requests_total", "Requests.", ["method"]);
  const g = r.gauge("has_leader", "Whether a leader exists.");
  const h = r.histogram("latency_seconds", "Latency.", [], [0.1, 1]);
  c.inc({ method: "Put" });
  c.inc({ method: "Put" }, 2);
  c.inc({ method: 'a"b\\c\nd' });
  g.set(1);
  h.observe(0.05);
  h.observe(0.5);
  h.observe(3);
  assert.equal(
    r.render(),
    [
      "# HELP requests_total Requests.",
      "# TYPE requests_total counter",
      'requests_total{method="Put"} 3',
      'requests_total{method="a\\"b\\\\c\\nd"} 1',
      "# HELP has_leader Whether a leader exists.",
      "# TYPE has_leader gauge",
      "has_leader 1",
      "# HELP latency_seconds Latency.",
      "# TYPE latency_seconds histogram",
      'latency_seconds_bucket{le="0.1"} 1',
      'latency_seconds_bucket{le="1"} 2',
      'latency_seconds_bucket{le="+Inf"} 3',
      "latency_seconds_sum 3.55",
      "latency_seconds_count 3",
      "",
    ].join("\n"),
  );
  assert.throws(() => c.inc({ method: "x" }, -1), RangeError);
  assert.throws(() => c.inc({}), /label method missing/);
  assert.throws(() => c.inc({ method: "x", other: "y" }), /not declared/);
  assert.throws(() => r.counter("requests_total", "again"), /already registered/);
  assert.throws(() => r.gauge("bad name", "x"), /invalid metric name/);
});
