/**
 * `concord ctl`'s flag parsing, shaped like etcdctl's (cobra + pflag): `--name=value`,
 * `--name value`, `-w json`, `-wjson`, booleans as `--flag` or `--flag=false`, flags anywhere
 * among the positional arguments, `--` ending the flags, string slices split on commas, Go
 * durations, and the global flags also read from `ETCDCTL_*` variables when not given on the
 * command line (etcdctl's `flags.SetPflagsFromEnv`). Errors carry pflag's wording.
 */
import { parseGoDuration } from "./serve_flags.ts";

/** The kinds of values pflag flags hold that etcdctl uses. */
export type FlagKind = "bool" | "string" | "int" | "duration" | "strings";

/** A flag's parsed value: booleans, strings, integers (bigint: int64), ms, string lists. */
export type FlagValue = boolean | string | bigint | number | string[];

/** One flag a command accepts. */
export interface FlagSpec {
  name: string;
  short?: string;
  kind: FlagKind;
  /** The default, in the flag's kind (durations in ms, ints as bigint). */
  def: FlagValue;
  help: string;
}

/** A parse failure: cobra prints `Error: <message>` and exits 1. */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

/**
 * An ETCDCTL_* variable set for a flag the command line also sets: etcdctl dies with a fatal
 * log line (`<time> C | pkg/flags: <message>`) and exit code 1.
 */
export class EnvConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EnvConflictError";
  }
}

/** The result of parsing one command line against a flag set. */
export class ParsedFlags {
  readonly values = new Map<string, FlagValue>();
  /** Flags set on the command line (or from the environment): pflag's `Changed`. */
  readonly changed = new Set<string>();
  /** Positional arguments, `--` removed (as cobra hands them to a command). */
  positional: string[] = [];
  /** Index in `positional` where the arguments after `--` start, or -1. */
  dashAt = -1;

  constructor(readonly specs: FlagSpec[]) {
    for (const s of specs) this.values.set(s.name, s.def);
  }

  private get(name: string): FlagValue {
    const v = this.values.get(name);
    if (v === undefined) throw new Error(`ctl: flag --${name} is not defined for this command`);
    return v;
  }
  bool(name: string): boolean {
    return this.get(name) as boolean;
  }
  string(name: string): string {
    return this.get(name) as string;
  }
  int(name: string): bigint {
    return this.get(name) as bigint;
  }
  /** A duration flag, in milliseconds. */
  duration(name: string): number {
    return this.get(name) as number;
  }
  strings(name: string): string[] {
    return this.get(name) as string[];
  }
  has(name: string): boolean {
    return this.values.has(name);
  }
}

/** strconv.ParseInt's base-10 int64 parse with Go's error text, as pflag reports it. */
export function parseInt64(text: string, base = 10): bigint {
  const re = base === 16 ? /^[+-]?[0-9a-fA-F]+$/ : /^[+-]?[0-9]+$/;
  if (!re.test(text)) {
    throw new FlagError(`strconv.ParseInt: parsing "${text}": invalid syntax`);
  }
  const neg = text.startsWith("-");
  const digits = text.replace(/^[+-]/, "");
  const v = BigInt(base === 16 ? "0x" + digits : digits) * (neg ? -1n : 1n);
  if (v > 0x7fff_ffff_ffff_ffffn || v < -0x8000_0000_0000_0000n) {
    throw new FlagError(`strconv.ParseInt: parsing "${text}": value out of range`);
  }
  return v;
}

/** strconv.ParseUint with Go's error text. */
export function parseUint64(text: string, base = 10): bigint {
  const re = base === 16 ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/;
  if (!re.test(text)) {
    throw new FlagError(`strconv.ParseUint: parsing "${text}": invalid syntax`);
  }
  const v = BigInt(base === 16 ? "0x" + text : text);
  if (v > 0xffff_ffff_ffff_ffffn) {
    throw new FlagError(`strconv.ParseUint: parsing "${text}": value out of range`);
  }
  return v;
}

function parseBoolText(text: string): boolean | undefined {
  if (/^(1|t|T|true|TRUE|True)$/.test(text)) return true;
  if (/^(0|f|F|false|FALSE|False)$/.test(text)) return false;
  return undefined;
}

/** Reads a CSV-ish list as pflag's StringSlice does (commas split, quotes honoured). */
function splitCsv(text: string): string[] {
  if (text === "") return [];
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      if (quoted && text[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
    } else if (c === "," && !quoted) {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function setValue(p: ParsedFlags, spec: FlagSpec, text: string, shown: string): void {
  const bad = (why: string) =>
    new FlagError(`invalid argument "${text}" for "${shown}" flag: ${why}`);
  switch (spec.kind) {
    case "bool": {
      const b = parseBoolText(text);
      if (b === undefined) throw bad(`strconv.ParseBool: parsing "${text}": invalid syntax`);
      p.values.set(spec.name, b);
      break;
    }
    case "string":
      p.values.set(spec.name, text);
      break;
    case "int":
      try {
        p.values.set(spec.name, parseInt64(text));
      } catch (err) {
        throw bad((err as Error).message);
      }
      break;
    case "duration":
      try {
        p.values.set(spec.name, parseGoDuration(text));
      } catch {
        throw bad(`time: invalid duration "${text}"`);
      }
      break;
    case "strings": {
      const prev = p.changed.has(spec.name) ? p.values.get(spec.name) as string[] : [];
      p.values.set(spec.name, [...prev, ...splitCsv(text)]);
      break;
    }
  }
  p.changed.add(spec.name);
}

/**
 * Parses `args` against `specs`. Flags may sit anywhere; `--` ends them (what follows is
 * positional, and `dashAt` marks where it starts).
 */
export function parseFlags(args: readonly string[], specs: FlagSpec[]): ParsedFlags {
  const p = new ParsedFlags(specs);
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      p.dashAt = p.positional.length;
      p.positional.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith("--") && a.length > 2) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const spec = byName.get(name);
      if (!spec) throw new FlagError(`unknown flag: --${name}`);
      if (eq >= 0) setValue(p, spec, a.slice(eq + 1), `--${name}`);
      else if (spec.kind === "bool") setValue(p, spec, "true", `--${name}`);
      else if (i + 1 < args.length) setValue(p, spec, args[++i], `--${name}`);
      else throw new FlagError(`flag needs an argument: --${name}`);
      continue;
    }
    if (a.startsWith("-") && a.length > 1 && a !== "-") {
      // shorthand: -w json, -wjson, -w=json, -il (booleans combined)
      let rest = a.slice(1);
      while (rest.length > 0) {
        const c = rest[0];
        const spec = byShort.get(c);
        if (!spec) throw new FlagError(`unknown shorthand flag: '${c}' in ${a}`);
        rest = rest.slice(1);
        if (spec.kind === "bool") {
          if (rest.startsWith("=")) {
            setValue(p, spec, rest.slice(1), `-${c}, --${spec.name}`);
            rest = "";
          } else setValue(p, spec, "true", `-${c}, --${spec.name}`);
          continue;
        }
        if (rest.startsWith("=")) setValue(p, spec, rest.slice(1), `-${c}, --${spec.name}`);
        else if (rest.length > 0) setValue(p, spec, rest, `-${c}, --${spec.name}`);
        else if (i + 1 < args.length) setValue(p, spec, args[++i], `-${c}, --${spec.name}`);
        else throw new FlagError(`flag needs an argument: '${c}' in -${c}`);
        rest = "";
      }
      continue;
    }
    p.positional.push(a);
  }
  return p;
}

/** `ETCDCTL_DIAL_TIMEOUT` for `dial-timeout`: pflag's name mangling. */
export function flagToEnv(prefix: string, name: string): string {
  return `${prefix}_${name.toUpperCase().replaceAll("-", "_")}`;
}

/**
 * Sets every flag in `names` that the command line did not set from its `ETCDCTL_*`
 * variable, as etcdctl does for its global flags. A bad value is an error naming the variable;
 * a variable for a flag the command line set is an EnvConflictError.
 */
export function applyEnv(
  p: ParsedFlags,
  names: readonly string[],
  env: Readonly<Record<string, string>>,
): void {
  for (const name of names) {
    const key = flagToEnv("ETCDCTL", name);
    const text = env[key];
    if (text === undefined || text === "") continue;
    if (p.changed.has(name)) {
      // etcd's pkg/flags refuses a variable the command line shadows (a fatal log line)
      throw new EnvConflictError(
        `conflicting environment variable ${JSON.stringify(key)} is shadowed by corresponding ` +
          "command-line flag (either unset environment variable or disable flag)",
      );
    }
    const spec = p.specs.find((s) => s.name === name);
    if (!spec) continue;
    try {
      setValue(p, spec, text, `--${name}`);
    } catch (err) {
      throw new FlagError(
        `invalid value ${JSON.stringify(text)} for ${key}: ${(err as Error).message}`,
      );
    }
  }
}

/** One line per flag, in etcdctl's help layout. */
export function flagUsage(specs: FlagSpec[]): string {
  return specs.map((s) => {
    const short = s.short ? `-${s.short}, ` : "    ";
    let def: string;
    if (s.kind === "bool") def = `[=${s.def}]`;
    else if (s.kind === "strings") def = `=[${(s.def as string[]).join(",")}]`;
    else if (s.kind === "duration") def = `=${formatGoDuration(s.def as number)}`;
    else if (s.kind === "int") def = `=${s.def}`;
    else def = `=${JSON.stringify(s.def)}`;
    return `  ${short}--${s.name}${def}\t\t${s.help}`;
  }).join("\n");
}

/** Go's time.Duration String() for a duration in milliseconds (e.g. "5s", "1m30s", "3.2ms"). */
export function formatGoDuration(ms: number): string {
  const ns = Math.round(ms * 1e6);
  if (ns === 0) return "0s";
  const neg = ns < 0;
  let n = Math.abs(ns);
  let out: string;
  if (n < 1000) out = `${n}ns`;
  else if (n < 1e6) out = `${trimFrac(n / 1e3)}µs`;
  else if (n < 1e9) out = `${trimFrac(n / 1e6)}ms`;
  else {
    const h = Math.floor(n / 3.6e12);
    n -= h * 3.6e12;
    const m = Math.floor(n / 6e10);
    n -= m * 6e10;
    const s = trimFrac(n / 1e9);
    out = h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
  }
  return neg ? "-" + out : out;
}

function trimFrac(v: number): string {
  return v.toFixed(9).replace(/\.?0+$/, "");
}
