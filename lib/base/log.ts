/**
 * Structured logging as etcd's zap logger writes it: one JSON object per line, with `level`,
 * `ts` (UTC, milliseconds, as etcd 3.4 prints it), `caller` (here the module that logged, e.g.
 * "server/member", where zap gives a Go file:line), `msg` and then the event's fields, e.g.
 *
 *   {"level":"info","ts":"2026-12-07T07:10:00.123Z","caller":"server/member","msg":"…","term":2}
 *
 * Layers receive a Logger from whoever starts them (never a global), so tests capture lines
 * through `createLogger({ write })` and a process chooses its outputs once. Guard any field
 * that costs something to build with `enabled(level)`; nothing on a request's path logs at
 * info or below.
 */

/** Severities, lowest first. etcd's "panic" and "fatal" are accepted as thresholds only. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** What `--log-level` accepts (etcd: debug, info, warn, error, panic, fatal). */
export type LogThreshold = LogLevel | "dpanic" | "panic" | "fatal";

/** An event's fields, written after `msg` in insertion order. */
export type LogFields = Record<string, unknown>;

/** The logging interface every layer takes. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** True when lines at `level` are written: check it before building costly fields. */
  enabled(level: LogLevel): boolean;
  /** The same logger with `caller` set to `module` (e.g. "server/raft_loop"). */
  named(module: string): Logger;
}

const RANK: Record<LogThreshold, number> = {
  debug: 0,
  info: 1,
  warn: 2,
  error: 3,
  dpanic: 4,
  panic: 5,
  fatal: 6,
};

/** True for the names `--log-level` accepts. */
export function isLogThreshold(s: string): s is LogThreshold {
  return Object.hasOwn(RANK, s);
}

/** Options of createLogger. */
export interface LoggerOptions {
  /** Receives each line, without its newline. */
  write(line: string): void;
  /** Lines below this level are dropped (default info, etcd's default). */
  level?: LogThreshold;
  /** The `caller` of lines logged without `named` (default none). */
  caller?: string;
  /** Wall clock for `ts` (default Date.now). */
  now?: () => number;
}

/** JSON for a field value: bigints as numbers when exact, else as decimal strings; errors as messages. */
function replacer(_key: string, v: unknown): unknown {
  if (typeof v === "bigint") {
    return v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v.toString();
  }
  if (v instanceof Error) return v.message;
  if (v instanceof Map) return Object.fromEntries(v);
  if (v instanceof Set) return [...v];
  return v;
}

/** Formats one line as zap's JSON encoder does (level, ts, caller, msg, fields). */
export function formatLogLine(
  level: LogLevel,
  ts: number,
  caller: string | undefined,
  msg: string,
  fields?: LogFields,
): string {
  let line = `{"level":"${level}","ts":"${new Date(ts).toISOString()}"`;
  if (caller !== undefined) line += `,"caller":${JSON.stringify(caller)}`;
  line += `,"msg":${JSON.stringify(msg)}`;
  if (fields !== undefined) {
    for (const key of Object.keys(fields)) {
      const value = fields[key];
      if (value === undefined) continue;
      line += `,${JSON.stringify(key)}:${JSON.stringify(value, replacer) ?? "null"}`;
    }
  }
  return line + "}";
}

class JsonLogger implements Logger {
  readonly #o: Required<Omit<LoggerOptions, "caller">>;
  readonly #min: number;
  readonly #caller: string | undefined;

  constructor(o: Required<Omit<LoggerOptions, "caller">>, caller: string | undefined) {
    this.#o = o;
    this.#min = RANK[o.level];
    this.#caller = caller;
  }

  #log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (RANK[level] < this.#min) return;
    this.#o.write(formatLogLine(level, this.#o.now(), this.#caller, msg, fields));
  }

  debug(msg: string, fields?: LogFields): void {
    this.#log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.#log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.#log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.#log("error", msg, fields);
  }
  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#min;
  }
  named(module: string): Logger {
    return new JsonLogger(this.#o, module);
  }
}

/** A logger writing etcd-style JSON lines to `write`. */
export function createLogger(opts: LoggerOptions): Logger {
  return new JsonLogger(
    { write: opts.write, level: opts.level ?? "info", now: opts.now ?? Date.now },
    opts.caller,
  );
}

/** A logger that drops everything (embedders and tests that want silence). */
export const nullLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  enabled: () => false,
  named: () => nullLogger,
};

/**
 * A logger over a plain line sink (`(line) => void`, the form older options took): each event
 * becomes "concord: msg key=value …", every level included. Lets callers that collect text lines keep
 * doing so.
 */
export function lineLogger(write: (line: string) => void): Logger {
  const emit = (msg: string, fields?: LogFields) => {
    let line = `concord: ${msg}`;
    if (fields !== undefined) {
      for (const key of Object.keys(fields)) {
        if (fields[key] === undefined) continue;
        const v = JSON.stringify(fields[key], replacer);
        line += ` ${key}=${v}`;
      }
    }
    write(line);
  };
  const logger: Logger = {
    debug: emit,
    info: emit,
    warn: emit,
    error: emit,
    enabled: () => true,
    named: () => logger,
  };
  return logger;
}

/** A Logger from either a Logger or a line sink; `fallback` when neither is given. */
export function asLogger(
  log: Logger | ((line: string) => void) | undefined,
  fallback: () => Logger,
): Logger {
  if (log === undefined) return fallback();
  return typeof log === "function" ? lineLogger(log) : log;
}

/** The JSON lines logger a process uses when its embedder gave none: info and up to stderr. */
export function stderrLogger(level: LogThreshold = "info"): Logger {
  const enc = new TextEncoder();
  return createLogger({
    level,
    write: (line) => writeAllSync(Deno.stderr, enc.encode(line + "\n")),
  });
}

/** Writes every byte with a synchronous writer (log lines stay whole and in order). */
export function writeAllSync(w: { writeSync(p: Uint8Array): number }, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += w.writeSync(data.subarray(off));
}

/** A duration as zap writes one (Go's time.Duration text: "2.727624ms", "1.5s"). */
export function tookField(ms: number): string {
  if (ms < 1) return `${+(ms * 1000).toFixed(3)}µs`;
  if (ms < 1000) return `${+ms.toFixed(6)}ms`;
  return `${+(ms / 1000).toFixed(9)}s`;
}
