/**
 * The log lines etcdutl writes on stderr while it works (zap's console encoder, RFC 3339
 * times): `<time>\tINFO\t<message>\t{"field": value, …}`. Operators grep these, so the
 * offline tools print the same messages and fields.
 */

/** One field of a log line; strings are quoted, numbers bare. */
export type LogFields = Record<string, string | number>;

/** A zap console line at level `level` (INFO, WARN, ERROR). */
export function zapLine(level: string, msg: string, fields: LogFields, now = new Date()): string {
  const time = now.toISOString().replace(/\.\d+Z$/, "Z");
  const body = Object.entries(fields).map(([k, v]) =>
    `${JSON.stringify(k)}: ${typeof v === "number" ? String(v) : JSON.stringify(v)}`
  ).join(", ");
  return `${time}\t${level}\t${msg}${body === "" ? "" : `\t{${body}}`}`;
}

/** Go's time.Duration.String() for `ms` milliseconds (zap's StringDurationEncoder). */
export function goDuration(ms: number): string {
  const ns = Math.round(ms * 1e6);
  if (ns === 0) return "0s";
  const trim = (v: number, digits: number) => v.toFixed(digits).replace(/\.?0+$/, "");
  if (ns < 1e3) return `${ns}ns`;
  if (ns < 1e6) return `${trim(ns / 1e3, 3)}µs`;
  if (ns < 1e9) return `${trim(ns / 1e6, 6)}ms`;
  const s = ns / 1e9;
  if (s < 60) return `${trim(s, 9)}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = trim(s % 60, 9);
  return `${h > 0 ? `${h}h` : ""}${m}m${rest}s`;
}
