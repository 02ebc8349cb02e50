/// <reference lib="dom" />
/**
 * The Metrics page: live charts of the serving member's /metrics, read every two seconds
 * while shown: requests per second (gRPC calls handled), p99 request latency (from the
 * handling-time histogram's buckets of unary calls: a stream's time is how long it stayed
 * open), database size, watchers, and p99 WAL fsync latency.
 * A figure the member does not export is said to be missing, by name.
 */
import { Chart } from "./chart.ts";
import { h } from "./dom.ts";
import { Notice } from "./notice.ts";
import type { Page } from "./page.ts";
import { parseMetrics, quantile, rate, type Sample, total } from "./prom_text.ts";
import { bytesText } from "./value_format.ts";

const POLL_MS = 2000;

const REQUESTS = "grpc_server_handled_total";
const LATENCY = "grpc_server_handling_seconds";
const DB_SIZE = "etcd_mvcc_db_total_size_in_bytes";
const WATCHERS = "etcd_debugging_mvcc_watcher_total";
const FSYNC = "etcd_disk_wal_fsync_duration_seconds";

const ms = (s: number) => `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)} ms`;

/** The Metrics page. */
export class MetricsPage implements Page {
  readonly id = "metrics";
  readonly title = "Metrics";
  readonly el: HTMLElement;
  readonly #notice = new Notice();
  readonly #requests = new Chart("requests", "Requests/s", (v) => v.toFixed(1));
  readonly #latency = new Chart("latency", "p99 request latency", ms);
  readonly #db = new Chart("db", "DB size", (v) => bytesText(Math.round(v)));
  readonly #watchers = new Chart("watchers", "Watchers", (v) => String(Math.round(v)));
  readonly #fsync = new Chart("fsync", "p99 WAL fsync", ms);
  #timer?: ReturnType<typeof setInterval>;
  #last?: { at: number; samples: Sample[] };

  /** Made once by the shell. */
  constructor() {
    this.el = h(
      "section",
      { class: "page metrics" },
      this.#notice.el,
      h(
        "div",
        { class: "charts" },
        this.#requests.el,
        this.#latency.el,
        this.#db.el,
        this.#watchers.el,
        this.#fsync.el,
      ),
    );
  }

  show(): void {
    this.hide();
    void this.#poll();
    this.#timer = setInterval(() => void this.#poll(), POLL_MS);
  }

  hide(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    // a rate across a gap would average over time not shown
    this.#last = undefined;
  }

  async #poll(): Promise<void> {
    try {
      const res = await fetch("/metrics");
      if (!res.ok) throw new Error(`/metrics answered ${res.status} ${res.statusText}`);
      const samples = parseMetrics(await res.text());
      const at = performance.now();
      const prev = this.#last;
      this.#last = { at, samples };
      this.#notice.clear();
      const missing = (name: string) =>
        samples.some((s) => s.name === name || s.name === `${name}_bucket`)
          ? undefined
          : `${name}: not exported`;
      this.#db.push(total(samples, DB_SIZE), missing(DB_SIZE) ?? "");
      this.#watchers.push(total(samples, WATCHERS), missing(WATCHERS) ?? "");
      if (prev === undefined) return;
      const seconds = (at - prev.at) / 1000;
      this.#requests.push(
        rate(prev.samples, samples, REQUESTS, seconds),
        missing(REQUESTS) ?? "",
      );
      this.#latency.push(
        quantile(prev.samples, samples, LATENCY, 0.99, { grpc_type: "unary" }),
        missing(LATENCY) ?? "no requests lately",
      );
      this.#fsync.push(
        quantile(prev.samples, samples, FSYNC, 0.99),
        missing(FSYNC) ?? "no fsync lately",
      );
    } catch (err) {
      this.#notice.error(err);
    }
  }
}
