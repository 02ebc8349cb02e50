/**
 * A small Prometheus metrics registry, rendered in the text exposition format at /metrics.
 * The API layer feeds the gRPC request metrics etcd exposes (go-grpc-prometheus names);
 * the server registers its own (raft, mvcc, disk) on the same registry.
 */

/** Label values by label name. */
export type Labels = Readonly<Record<string, string>>;

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

function formatValue(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (Number.isNaN(v)) return "NaN";
  return String(v);
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** A value that only goes up (requests served, bytes written). */
export class Counter implements Metric {
  readonly kind = "counter";
  readonly #values = new Map<string, { labels: string[]; value: number }>();
  constructor(readonly name: string, readonly help: string, readonly labelNames: string[] = []) {}

  /** Adds `by` (default 1, never negative) to the series with these labels. */
  inc(labels: Labels = {}, by = 1): void {
    if (by < 0) throw new RangeError(`counter ${this.name} cannot decrease`);
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
  get(labels: Labels = {}): number {
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
  constructor(readonly name: string, readonly help: string, readonly labelNames: string[] = []) {}

  /** Sets the series with these labels to `value`. */
  set(value: number, labels: Labels = {}): void {
    const key = labelKey(this.labelNames, labels);
    const s = this.#values.get(key);
    if (s) s.value = value;
    else this.#values.set(key, { labels: this.labelNames.map((n) => labels[n]), value });
  }

  /** Adds `by` (may be negative). */
  add(by: number, labels: Labels = {}): void {
    this.set(this.get(labels) + by, labels);
  }

  /** The current value of one series (0 if never set). */
  get(labels: Labels = {}): number {
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
  }

  /** Records one observation. */
  observe(value: number, labels: Labels = {}): void {
    this.#record(this.#series(labelKey(this.labelNames, labels), labels), value);
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

  #record(s: HistogramSeries, value: number): void {
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  /** The number of observations of one series. */
  count(labels: Labels = {}): number {
    return this.#values.get(labelKey(this.labelNames, labels))?.count ?? 0;
  }

  render(out: string[]): void {
    for (const s of this.#values.values()) {
      for (let i = 0; i < this.buckets.length; i++) {
        const le = `le="${formatValue(this.buckets[i])}"`;
        out.push(
          `${this.name}_bucket${formatLabels(this.labelNames, s.labels, le)} ${s.counts[i]}`,
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
  /** Time from start to the end of the call, in seconds. */
  readonly handlingSeconds: Histogram;

  constructor(registry: MetricsRegistry) {
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
    this.handlingSeconds = registry.histogram(
      "grpc_server_handling_seconds",
      "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
      base,
    );
  }
}
