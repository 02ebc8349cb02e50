/**
 * Formats a run's summary like etcd's benchmark tool (pkg/report with precision "%4.4f"), so
 * reports from both tools can be read side by side, plus a one-line JSON form for scripts.
 */
import { histogram, PERCENTILES, percentiles, type Stats } from "./stats.ts";

const BAR = "∎";

function sec(v: number): string {
  return `${v.toFixed(4)} secs`;
}

/** The text report: Summary, Response time histogram, Latency distribution, Error distribution. */
export function formatReport(s: Stats): string {
  let out = "";
  if (s.count > 0) {
    out += "\nSummary:\n";
    out += `  Total:\t${sec(s.totalSeconds)}.\n`;
    out += `  Slowest:\t${sec(s.slowest)}.\n`;
    out += `  Fastest:\t${sec(s.fastest)}.\n`;
    out += `  Average:\t${sec(s.average)}.\n`;
    out += `  Stddev:\t${sec(s.stddev)}.\n`;
    out += `  Requests/sec:\t${s.rps.toFixed(4)}\n`;
    const buckets = histogram(s.latencies);
    const max = Math.max(...buckets.map((b) => b.count));
    out += "\nResponse time histogram:\n";
    for (const b of buckets) {
      const bar = max > 0 ? Math.floor((b.count * 40) / max) : 0;
      out += `  ${b.upper.toFixed(4)} [${b.count}]\t|${BAR.repeat(bar)}\n`;
    }
    out += "\nLatency distribution:\n";
    const data = percentiles(s.latencies);
    PERCENTILES.forEach((p, i) => {
      if (data[i] > 0) out += `  ${p}% in ${sec(data[i])}.\n`;
    });
  }
  if (s.errors.size > 0) {
    out += "\nError distribution:\n";
    for (const [msg, n] of s.errors) out += `  [${n}]\t${msg}\n`;
  }
  return out;
}

/** Machine-readable summary (latencies in seconds) for bench/compare.ts. */
export interface JsonSummary {
  count: number;
  errors: number;
  errorKinds: Record<string, number>;
  totalSeconds: number;
  rps: number;
  average: number;
  fastest: number;
  slowest: number;
  p50: number;
  p90: number;
  p99: number;
}

/** The summary as a JSON-able object. */
export function jsonSummary(s: Stats): JsonSummary {
  const [p50, p90, p99] = percentiles(s.latencies, [50, 90, 99]);
  let errors = 0;
  for (const n of s.errors.values()) errors += n;
  return {
    count: s.count,
    errors,
    errorKinds: Object.fromEntries(s.errors),
    totalSeconds: s.totalSeconds,
    rps: s.rps,
    average: s.average,
    fastest: s.fastest,
    slowest: s.slowest,
    p50,
    p90,
    p99,
  };
}
