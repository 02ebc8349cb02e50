import assert from "node:assert/strict";
import {
  exponentialBuckets,
  formatValue,
  GrpcMetrics,
  MAX_CLIENT_VERSIONS,
  MetricsRegistry,
} from "../../lib/api/metrics.ts";

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

Deno.test("metrics: values and bounds as Go's client writes them; etcd's exponential buckets", () => {
  assert.deepEqual(
    [0, 2, 0.5, 1e-5, 123.5, 524288, 1048576, 1.76500000025e9, Infinity, NaN].map(formatValue),
    [
      "0",
      "2",
      "0.5",
      "1e-05",
      "123.5",
      "524288",
      "1.048576e+06",
      "1.76500000025e+09",
      "+Inf",
      "NaN",
    ],
  );
  assert.deepEqual(exponentialBuckets(0.001, 2, 4), [0.001, 0.002, 0.004, 0.008]);
  // the same doubles as Go's repeated multiplication: 0.0001 * 2^15 prints as etcd's 3.2768
  assert.equal(formatValue(exponentialBuckets(0.0001, 2, 16)[15]), "3.2768");
});

Deno.test("metrics: series without labels show from the start; histograms count one bucket", () => {
  const r = new MetricsRegistry();
  const c = r.counter("c_total", "C.");
  const h = r.histogram("h_seconds", "H.", [], [1, 2, 4]);
  const l = r.histogram("l_seconds", "L.", ["m"], [1]);
  assert.match(r.render(), /^c_total 0$/m);
  assert.match(r.render(), /^h_seconds_bucket\{le="\+Inf"\} 0$/m);
  assert.doesNotMatch(r.render(), /^l_seconds_bucket/m); // labelled: only once it has a series
  l.init({ m: "Put" });
  assert.match(r.render(), /^l_seconds_count\{m="Put"\} 0$/m);
  c.add(2);
  c.inc();
  assert.equal(c.get(), 3);
  for (const v of [0.5, 1, 1.5, 3, 9]) h.observe(v);
  const text = r.render();
  const lines = text.split("\n");
  for (const [le, n] of [["1", 2], ["2", 3], ["4", 4], ["+Inf", 5]] as const) {
    assert.ok(lines.includes(`h_seconds_bucket{le="${le}"} ${n}`), le);
  }
  assert.ok(lines.includes("h_seconds_sum 15"));
  assert.throws(() => c.add(-1), RangeError);
  assert.throws(() => r.counter("x_total", "X.", ["a"]).add(), /has labels/);
});

Deno.test("metrics: client-api-version values beyond MAX_CLIENT_VERSIONS count as other", () => {
  const r = new MetricsRegistry();
  const g = new GrpcMetrics(r);
  const headers = (v?: string) => new Headers(v === undefined ? {} : { "client-api-version": v });
  g.unaryRequests.count(headers("3.4"));
  g.unaryRequests.count(headers());
  g.streamRequests.count(headers("3.4"));
  for (let i = 0; i < MAX_CLIENT_VERSIONS + 5; i++) g.unaryRequests.count(headers(`x${i}`));
  const text = r.render();
  assert.match(
    text,
    /^etcd_server_client_requests_total\{type="unary",client_api_version="3.4"\} 1$/m,
  );
  assert.match(
    text,
    /^etcd_server_client_requests_total\{type="unary",client_api_version="unknown"\} 1$/m,
  );
  assert.match(
    text,
    /^etcd_server_client_requests_total\{type="stream",client_api_version="3.4"\} 1$/m,
  );
  // 64 distinct values: 3.4, unknown and x0..x61 have their own; x62.. land in other
  assert.match(
    text,
    /^etcd_server_client_requests_total\{type="unary",client_api_version="x61"\} 1$/m,
  );
  assert.match(
    text,
    /^etcd_server_client_requests_total\{type="unary",client_api_version="other"\} 7$/m,
  );
  assert.doesNotMatch(text, /client_api_version="x62"/);
  // basic: no latency histograms
  assert.equal(g.handlingSeconds, undefined);
});
