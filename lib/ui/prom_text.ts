/**
 * Reading Prometheus' text format (what /metrics answers) and the figures the Metrics page
 * plots from two successive readings: a counter's rate, a gauge's value, and a histogram's
 * quantile over the interval (Prometheus' histogram_quantile on the buckets' increase).
 * Pure functions, no DOM.
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

function unescape(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

function number(s: string): number {
  if (s === "+Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  return Number(s);
}

/** Every sample of a /metrics text; a line it cannot read throws, naming the line. */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) throw new SyntaxError(`not a metrics line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[3] ?? "";
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const at = LABEL.lastIndex;
      const l = LABEL.exec(body);
      if (!l) {
        if (body.slice(at).trim() === "") break;
        throw new SyntaxError(`bad labels in: ${line}`);
      }
      labels[l[1]] = unescape(l[2]);
    }
    out.push({ name: m[1], labels, value: number(m[4]) });
  }
  return out;
}

/** The sum of every series of `name` (undefined when the member exports none). */
export function total(samples: Sample[], name: string): number | undefined {
  let sum: number | undefined;
  for (const s of samples) if (s.name === name) sum = (sum ?? 0) + s.value;
  return sum;
}

/** A counter's increase per second between two readings `seconds` apart. */
export function rate(
  before: Sample[],
  after: Sample[],
  name: string,
  seconds: number,
): number | undefined {
  const a = total(before, name);
  const b = total(after, name);
  if (a === undefined || b === undefined || seconds <= 0) return undefined;
  // a counter that went down was reset (the member restarted): count from zero
  return (b >= a ? b - a : b) / seconds;
}

/** Label values a series must have to count (e.g. `{ grpc_type: "unary" }`). */
export type LabelFilter = Record<string, string>;

function matches(s: Sample, filter: LabelFilter): boolean {
  for (const [k, v] of Object.entries(filter)) if (s.labels[k] !== v) return false;
  return true;
}

/** A histogram's cumulative bucket counts summed over its series, by upper bound. */
function buckets(samples: Sample[], name: string, filter: LabelFilter): Map<number, number> {
  const by = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || s.labels.le === undefined || !matches(s, filter)) continue;
    const le = number(s.labels.le);
    by.set(le, (by.get(le) ?? 0) + s.value);
  }
  return by;
}

/**
 * The `q` quantile (0..1) of what histogram `name` observed between two readings (in its
 * series matching `filter`), in its unit, interpolated within the bucket as Prometheus does.
 * Undefined when the member has no such histogram or it observed nothing in between.
 */
export function quantile(
  before: Sample[],
  after: Sample[],
  name: string,
  q: number,
  filter: LabelFilter = {},
): number | undefined {
  const b = buckets(before, name, filter);
  const a = buckets(after, name, filter);
  if (a.size === 0) return undefined;
  const bounds = [...a.keys()].sort((x, y) => x - y);
  const counts = bounds.map((le) => Math.max(0, a.get(le)! - (b.get(le) ?? 0)));
  const all = counts[counts.length - 1];
  if (!(all > 0)) return undefined;
  const rank = q * all;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i] < rank) continue;
    if (bounds[i] === Infinity) return i > 0 ? bounds[i - 1] : undefined;
    const lower = i > 0 ? bounds[i - 1] : 0;
    const below = i > 0 ? counts[i - 1] : 0;
    const inBucket = counts[i] - below;
    return inBucket <= 0 ? bounds[i] : lower + (bounds[i] - lower) * ((rank - below) / inBucket);
  }
  return bounds[bounds.length - 1];
}
