/**
 * A small Prometheus metrics registry, rendered in the text exposition format at /metrics.
 * The API layer feeds the gRPC request metrics etcd exposes (go-grpc-prometheus names);
 * the server registers its own (raft, mvcc, disk) on the same registry.
 */

/** Label values by label name. */
export type Labels = Readonly<Record<string, string>>;

/** The labels of a metric without any: compared by identity on the fast paths. */
const EMPTY: Labels = Object.freeze({});

type Kind = "counter" | "gauge" | "histogram";

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly kind: Kind;
  render(out: string[]): void;
}

function labelKey(names: readonly string[], labels: Labels): string {
  const parts: string[] = [];
  for (const n of names) {
    const v = labels[n];
    if (v === undefined) throw new Error(`metric label ${n} missing`);
    parts.push(v);
  }
  for (const k of Object.keys(labels)) {
    if (!names.includes(k)) throw new Error(`metric label ${k} is not declared`);
  }
  return JSON.stringify(parts);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatLabels(names: readonly string[], values: readonly string[], extra = ""): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i])}"`);
  if (extra !== "") parts.push(extra);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/**
 * A sample value or bucket bound as Prometheus' Go client writes it (Go's `%g` with the
 * shortest digits: exponent form from 1e6 up and below 1e-4, as `1.048576e+06`), so `le`
 * labels are the very strings etcd's are and queries naming them match.
 */
export function formatValue(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (Number.isNaN(v)) return "NaN";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  const a = Math.abs(v);
  if (a >= 1e-4 && a < 1e6) return String(v);
  const [mantissa, exp] = v.toExponential().split("e");
  const sign = exp[0];
  const digits = exp.slice(1);
  return `${mantissa}e${sign}${digits.length < 2 ? "0" + digits : digits}`;
}

/**
 * Prometheus' ExponentialBuckets: `count` bounds from `start`, each `factor` times the last
 * (computed by the same repeated multiplication, so the bounds are the same doubles).
 */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0, b = start; i < count; i++, b *= factor) out.push(b);
  return out;
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** A value that only goes up (requests served, bytes written). */
export class Counter implements Metric {
  readonly kind = "counter";
  readonly #values = new Map<string, { labels: string[]; value: number }>();
  /** The one series of a counter without labels: shown from the start, as Prometheus' are. */
  readonly #solo: { labels: string[]; value: number } | undefined;
  constructor(readonly name: string, readonly help: string, readonly labelNames: string[] = []) {
    if (labelNames.length === 0) {
      this.#solo = { labels: [], value: 0 };
      this.#values.set(labelKey([], {}), this.#solo);
    }
  }

  /**
   * Adds `by` (default 1, never negative) to a counter without labels: a field addition, for
   * hot paths and for the sinks the lower layers are given (`CountSink`).
   */
  add(by = 1): void {
    if (this.#solo === undefined) throw new Error(`metric ${this.name} has labels`);
    if (by < 0) throw new RangeError(`counter ${this.name} cannot decrease`);
    this.#solo.value += by;
  }

  /** Adds `by` (default 1, never negative) to the series with these labels. */
  inc(labels: Labels = EMPTY, by = 1): void {
    if (by < 0) throw new RangeError(`counter ${this.name} cannot decrease`);
    if (this.#solo !== undefined && labels === EMPTY) {
      this.#solo.value += by;
      return;
    }
    const key = labelKey(this.labelNames, labels);
    const s = this.#values.get(key);
    if (s) s.value += by;
    else this.#values.set(key, { labels: this.labelNames.map((n) => labels[n]), value: by });
  }

  /**
   * One series bound once (Prometheus' WithLabelValues): a hot path increments it without
   * building its label key each time. The series appears at its first increment.
   */
  series(labels: Labels = {}): { inc(by?: number): void } {
    const key = labelKey(this.labelNames, labels);
    const values = this.#values;
    const names = this.labelNames;
    let s: { labels: string[]; value: number } | undefined;
    return {
      inc: (by = 1) => {
        if (by < 0) throw new RangeError(`counter ${this.name} cannot decrease`);
        s ??= values.get(key);
        if (s === undefined) {
          s = { labels: names.map((n) => labels[n]), value: 0 };
          values.set(key, s);
        }
        s.value += by;
      },
    };
  }

  /** The current value of one series (0 if never incremented). */
  get(labels: Labels = EMPTY): number {
    if (this.#solo !== undefined && labels === EMPTY) return this.#solo.value;
    return this.#values.get(labelKey(this.labelNames, labels))?.value ?? 0;
  }

  render(out: string[]): void {
    for (const s of this.#values.values()) {
      out.push(`${this.name}${formatLabels(this.labelNames, s.labels)} ${formatValue(s.value)}`);
    }
  }
}

/** A value that goes up and down (open streams, has_leader). */
export class Gauge implements Metric {
  readonly kind = "gauge";
  readonly #values = new Map<string, { labels: string[]; value: number }>();
  readonly #solo: { labels: string[]; value: number } | undefined;
  constructor(readonly name: string, readonly help: string, readonly labelNames: string[] = []) {
    if (labelNames.length === 0) {
      this.#solo = { labels: [], value: 0 };
      this.#values.set(labelKey([], {}), this.#solo);
    }
  }

  /** Sets the series with these labels to `value`. */
  set(value: number, labels: Labels = EMPTY): void {
    if (this.#solo !== undefined && labels === EMPTY) {
      this.#solo.value = value;
      return;
    }
    const key = labelKey(this.labelNames, labels);
    const s = this.#values.get(key);
    if (s) s.value = value;
    else this.#values.set(key, { labels: this.labelNames.map((n) => labels[n]), value });
  }

  /** Adds `by` (may be negative). */
  add(by: number, labels: Labels = EMPTY): void {
    if (this.#solo !== undefined && labels === EMPTY) {
      this.#solo.value += by;
      return;
    }
    this.set(this.get(labels) + by, labels);
  }

  /** The current value of one series (0 if never set). */
  get(labels: Labels = EMPTY): number {
    if (this.#solo !== undefined && labels === EMPTY) return this.#solo.value;
    return this.#values.get(labelKey(this.labelNames, labels))?.value ?? 0;
  }

  render(out: string[]): void {
    for (const s of this.#values.values()) {
      out.push(`${this.name}${formatLabels(this.labelNames, s.labels)} ${formatValue(s.value)}`);
    }
  }
}

/** Latency buckets (seconds) etcd uses for its request histograms. */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

interface HistogramSeries {
  labels: string[];
  counts: number[];
  sum: number;
  count: number;
}

/** A distribution of observations in cumulative buckets (request latency, sizes). */
export class Histogram implements Metric {
  readonly kind = "histogram";
  readonly buckets: readonly number[];
  readonly #values = new Map<string, HistogramSeries>();
  /** The one series of a histogram without labels, shown from the start. */
  readonly #solo: HistogramSeries | undefined;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: string[] = [],
    buckets: readonly number[] = DEFAULT_BUCKETS,
  ) {
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i] > buckets[i - 1])) throw new RangeError("buckets must increase");
    }
    this.buckets = [...buckets];
    if (labelNames.length === 0) this.#solo = this.#series(labelKey([], {}), EMPTY);
  }

  /** Records one observation (a `ObserveSink` for the lower layers when without labels). */
  observe(value: number, labels: Labels = EMPTY): void {
    if (this.#solo !== undefined && labels === EMPTY) {
      this.#record(this.#solo, value);
      return;
    }
    this.#record(this.#series(labelKey(this.labelNames, labels), labels), value);
  }

  /** Shows the series with these labels now, with no observations yet. */
  init(labels: Labels): void {
    this.#series(labelKey(this.labelNames, labels), labels);
  }

  /** One series bound once, as `Counter.series`; it appears at its first observation. */
  series(labels: Labels = {}): { observe(value: number): void } {
    const key = labelKey(this.labelNames, labels);
    let s: HistogramSeries | undefined;
    return {
      observe: (value: number) => {
        s ??= this.#series(key, labels);
        this.#record(s, value);
      },
    };
  }

  #series(key: string, labels: Labels): HistogramSeries {
    let s = this.#values.get(key);
    if (!s) {
      s = {
        labels: this.labelNames.map((n) => labels[n]),
        counts: this.buckets.map(() => 0),
        sum: 0,
        count: 0,
      };
      this.#values.set(key, s);
    }
    return s;
  }

  /** Counts the observation in its own bucket only; render() makes the counts cumulative. */
  #record(s: HistogramSeries, value: number): void {
    const b = this.buckets;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    if (i < b.length) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  /** The number of observations of one series. */
  count(labels: Labels = EMPTY): number {
    return this.#values.get(labelKey(this.labelNames, labels))?.count ?? 0;
  }

  render(out: string[]): void {
    for (const s of this.#values.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        const le = `le="${formatValue(this.buckets[i])}"`;
        cumulative += s.counts[i];
        out.push(
          `${this.name}_bucket${formatLabels(this.labelNames, s.labels, le)} ${cumulative}`,
        );
      }
      out.push(
        `${this.name}_bucket${formatLabels(this.labelNames, s.labels, 'le="+Inf"')} ${s.count}`,
      );
      out.push(`${this.name}_sum${formatLabels(this.labelNames, s.labels)} ${formatValue(s.sum)}`);
      out.push(`${this.name}_count${formatLabels(this.labelNames, s.labels)} ${s.count}`);
    }
  }
}

/** A set of metrics rendered together; names are unique within a registry. */
export class MetricsRegistry {
  readonly #metrics = new Map<string, Metric>();
  readonly #collectors: (() => void)[] = [];

  /**
   * Runs `collect` before every render, so gauges that mirror state kept elsewhere (raft
   * indexes, database size) are read when scraped rather than updated on every change.
   */
  onCollect(collect: () => void): void {
    this.#collectors.push(collect);
  }

  /** Registers a counter; the name must be new. */
  counter(name: string, help: string, labelNames: string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  /** Registers a gauge; the name must be new. */
  gauge(name: string, help: string, labelNames: string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }

  /** Registers a histogram; the name must be new. */
  histogram(
    name: string,
    help: string,
    labelNames: string[] = [],
    buckets: readonly number[] = DEFAULT_BUCKETS,
  ): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }

  #add<M extends Metric>(m: M): M {
    if (!NAME_RE.test(m.name)) throw new Error(`invalid metric name ${m.name}`);
    if (this.#metrics.has(m.name)) throw new Error(`metric ${m.name} already registered`);
    this.#metrics.set(m.name, m);
    return m;
  }

  /** The registry in Prometheus text exposition format 0.0.4. */
  render(): string {
    for (const collect of this.#collectors) collect();
    const out: string[] = [];
    for (const m of this.#metrics.values()) {
      out.push(`# HELP ${m.name} ${m.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
      out.push(`# TYPE ${m.name} ${m.kind}`);
      m.render(out);
    }
    return out.join("\n") + "\n";
  }
}

/** The Content-Type of `MetricsRegistry.render()`. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Distinct client-api-version values counted under their own label; calls with later ones
 * are counted under "other", so clients sending arbitrary values cannot grow the series
 * without bound (etcd's are unbounded).
 */
export const MAX_CLIENT_VERSIONS = 64;

/**
 * etcd_server_client_requests_total for one kind of call: by the client's
 * `client-api-version` metadata ("unknown" without it), as etcd's interceptors count. One
 * bound series per value, so a call costs a header read and a map lookup.
 */
export class ClientRequests {
  readonly #series = new Map<string, { inc(by?: number): void }>();
  #other: { inc(by?: number): void } | undefined;
  constructor(readonly counter: Counter, readonly type: "unary" | "stream") {}

  /** Counts one call with these request headers. */
  count(header: Headers): void {
    const version = header.get("client-api-version") ?? "unknown";
    let s = this.#series.get(version);
    if (s === undefined) {
      if (this.#series.size >= MAX_CLIENT_VERSIONS) {
        s = this.#other ??= this.counter.series({ type: this.type, client_api_version: "other" });
      } else {
        s = this.counter.series({ type: this.type, client_api_version: version });
        this.#series.set(version, s);
      }
    }
    s.inc();
  }
}

/** Options of `GrpcMetrics`. */
export interface GrpcMetricsOptions {
  /**
   * etcd's `--metrics extensive`: also the per-method latency histograms
   * (grpc_server_handling_seconds). etcd's default, `basic`, has none.
   */
  extensive?: boolean;
}

/** The gRPC server metrics etcd exports, fed by the API layer for every call. */
export class GrpcMetrics {
  /** RPCs started, by type, service and method. */
  readonly started: Counter;
  /** RPCs finished, by type, service, method and gRPC code name. */
  readonly handled: Counter;
  /** Stream messages received from clients. */
  readonly received: Counter;
  /** Stream messages sent to clients. */
  readonly sent: Counter;
  /** Time from start to the end of the call, in seconds (with `extensive` only). */
  readonly handlingSeconds: Histogram | undefined;
  /** Calls by kind ("unary", "stream") and the client's client-api-version header. */
  readonly clientRequests: Counter;
  /** Message bytes received from and sent to gRPC clients (etcd counts its codec's). */
  readonly receivedBytes: Counter;
  readonly sentBytes: Counter;
  /**
   * Watch and lease keep-alive streams that failed to receive a request or send a response
   * for a reason other than the client leaving, by Type ("receive", "send") and API ("watch",
   * "lease-keepalive"), as etcd's v3rpc counts them.
   */
  readonly streamFailures: Counter;
  /** clientRequests for unary calls and for streams. */
  readonly unaryRequests: ClientRequests;
  readonly streamRequests: ClientRequests;

  constructor(registry: MetricsRegistry, options: GrpcMetricsOptions = {}) {
    const base = ["grpc_type", "grpc_service", "grpc_method"];
    this.started = registry.counter(
      "grpc_server_started_total",
      "Total number of RPCs started on the server.",
      base,
    );
    this.handled = registry.counter(
      "grpc_server_handled_total",
      "Total number of RPCs completed on the server, regardless of success or failure.",
      [...base, "grpc_code"],
    );
    this.received = registry.counter(
      "grpc_server_msg_received_total",
      "Total number of RPC stream messages received on the server.",
      base,
    );
    this.sent = registry.counter(
      "grpc_server_msg_sent_total",
      "Total number of gRPC stream messages sent by the server.",
      base,
    );
    this.handlingSeconds = options.extensive
      ? registry.histogram(
        "grpc_server_handling_seconds",
        "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
        base,
      )
      : undefined;
    this.clientRequests = registry.counter(
      "etcd_server_client_requests_total",
      "The total number of client requests per client version.",
      ["type", "client_api_version"],
    );
    this.unaryRequests = new ClientRequests(this.clientRequests, "unary");
    this.streamRequests = new ClientRequests(this.clientRequests, "stream");
    this.receivedBytes = registry.counter(
      "etcd_network_client_grpc_received_bytes_total",
      "The total number of bytes received from grpc clients.",
    );
    this.sentBytes = registry.counter(
      "etcd_network_client_grpc_sent_bytes_total",
      "The total number of bytes sent to grpc clients.",
    );
    this.streamFailures = registry.counter(
      "etcd_network_server_stream_failures_total",
      "The total number of stream failures from the local server.",
      ["Type", "API"],
    );
  }
}

/**
 * The counters of the HTTP endpoints etcd serves beside gRPC: /health answers (etcd 3.4's
 * etcd_server_health_*), each check run by /livez and /readyz (etcd 3.5.11's
 * etcd_server_healthcheck and etcd_server_healthchecks_total) and /metrics scrapes (the
 * promhttp_* families of Prometheus' Go handler, which etcd's /metrics shows).
 */
export class EndpointMetrics {
  readonly healthSuccess: Counter;
  readonly healthFailures: Counter;
  /** The last result of each probe check (1 passed, 0 failed), by probe type and check. */
  readonly healthCheck: Gauge;
  /** Probe checks run, by probe type, check and status ("success" or "error"). */
  readonly healthChecks: Counter;
  /** Scrapes by HTTP status code. */
  readonly scrapes: Counter;
  readonly scrapesInFlight: Gauge;

  constructor(registry: MetricsRegistry) {
    this.healthSuccess = registry.counter(
      "etcd_server_health_success",
      "The total number of successful health checks",
    );
    this.healthFailures = registry.counter(
      "etcd_server_health_failures",
      "The total number of failed health checks",
    );
    this.healthCheck = registry.gauge(
      "etcd_server_healthcheck",
      "The result of each kind of healthcheck.",
      ["type", "name"],
    );
    this.healthChecks = registry.counter(
      "etcd_server_healthchecks_total",
      "The total number of each kind of healthcheck.",
      ["type", "name", "status"],
    );
    this.scrapes = registry.counter(
      "promhttp_metric_handler_requests_total",
      "Total number of scrapes by HTTP status code.",
      ["code"],
    );
    // the Go handler shows its three codes from the start
    for (const code of ["200", "500", "503"]) this.scrapes.inc({ code }, 0);
    this.scrapesInFlight = registry.gauge(
      "promhttp_metric_handler_requests_in_flight",
      "Current number of scrapes being served.",
    );
  }

  /** Counts one /health answer. */
  health(healthy: boolean): void {
    (healthy ? this.healthSuccess : this.healthFailures).add();
  }

  /** Records one run of probe check `name` of /livez or /readyz (`type`), as etcd does. */
  probeCheck(type: string, name: string, ok: boolean): void {
    this.healthCheck.set(ok ? 1 : 0, { type, name });
    this.healthChecks.inc({ type, name, status: ok ? "success" : "error" });
  }
}
