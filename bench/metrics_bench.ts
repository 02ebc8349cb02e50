/**
 * The per-event cost of the metrics on the hot path (a put's own server CPU is ~120 µs here):
 * a counter without labels, a bound labelled series, a histogram observation with etcd's disk
 * buckets, the client-api-version count of a call, and a whole scrape of a member's registry.
 */
import {
  ClientRequests,
  exponentialBuckets,
  GrpcMetrics,
  MetricsRegistry,
} from "../lib/api/metrics.ts";
import { registerMemberSinks } from "../lib/api/member_metrics.ts";
import { registerProcessMetrics } from "../lib/api/process_metrics.ts";

const r = new MetricsRegistry();
const sinks = registerMemberSinks(r);
registerProcessMetrics(r);
const grpc = new GrpcMetrics(r);
const puts = sinks.mvcc!.puts!;
const fsync = sinks.wal!.fsyncSeconds!;
const handled = grpc.handled.series({
  grpc_type: "unary",
  grpc_service: "etcdserverpb.KV",
  grpc_method: "Put",
  grpc_code: "OK",
});
const requests = new ClientRequests(grpc.clientRequests, "unary");
const headers = new Headers({ "content-type": "application/grpc", "client-api-version": "3.4" });
const latencies = exponentialBuckets(0.001, 2, 14).map((b) => b * 0.7);
let i = 0;

Deno.bench("counter without labels: add()", () => {
  puts.add();
});
Deno.bench("labelled series bound once: inc()", () => {
  handled.inc();
});
Deno.bench("histogram (14 buckets): observe()", () => {
  fsync.observe(latencies[i++ % latencies.length]);
});
Deno.bench("client_requests_total: header read and count", () => {
  requests.count(headers);
});
Deno.bench("scrape: render a member's registry (no member gauges)", () => {
  r.render();
});
