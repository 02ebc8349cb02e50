/**
 * The value forms of `concord serve`'s flags, parsed as etcd's Go flag package parses them:
 * unsigned integers, Go booleans and durations, URL lists, `--initial-cluster` and
 * `--auth-token`. Each failure is a ConfigError naming the flag.
 */
import { type AuthTokenConfig, ConfigError } from "../server/config.ts";

/** Parses an unsigned integer flag value (a safe integer). */
export function parseUint(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(`invalid value "${value}" for flag --${flag}`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new ConfigError(`value "${value}" for flag --${flag} is too large`);
  }
  return n;
}

/** Parses a signed integer flag value (a safe integer). */
export function parseInt64(flag: string, value: string): number {
  if (!/^-?\d+$/.test(value)) throw new ConfigError(`invalid value "${value}" for flag --${flag}`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new ConfigError(`value "${value}" for flag --${flag} is out of range`);
  }
  return n;
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a Go duration ("100ms", "1h30m", "5s") into milliseconds. */
export function parseGoDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  if (text === "0") return 0;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) throw new ConfigError(`invalid duration "${text}"`);
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    at = re.lastIndex;
  }
  if (text.length === 0) throw new ConfigError(`invalid duration ""`);
  return total;
}

/** Formats milliseconds as Go prints a time.Duration ("100ms", "1s", "2h0m0s", "0s"). */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1) return `${+(ms * 1000).toFixed(3)}µs`;
  if (ms < 1000) return `${+ms.toFixed(6)}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = +((ms % 60_000) / 1000).toFixed(9);
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** A duration flag value in milliseconds, the flag named on failure. */
export function parseDurationFlag(flag: string, value: string): number {
  try {
    return parseGoDuration(value);
  } catch {
    throw new ConfigError(`invalid value "${value}" for flag --${flag}: invalid duration`);
  }
}

/** Parses a comma-separated URL list. */
export function parseUrls(flag: string, value: string): URL[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s !== "").map((s) => {
    try {
      return new URL(s);
    } catch {
      throw new ConfigError(`invalid url "${s}" for flag --${flag}`);
    }
  });
}

/** Parses a comma-separated list of strings (etcd's flags.StringsValue), dropping empties. */
export function parseStrings(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** Parses a Go boolean (1, t, true, TRUE, True, 0, f, false, FALSE, False). */
export function parseBool(flag: string, value: string): boolean {
  if (/^(1|t|T|true|TRUE|True)$/.test(value)) return true;
  if (/^(0|f|F|false|FALSE|False)$/.test(value)) return false;
  throw new ConfigError(`invalid boolean value "${value}" for flag --${flag}`);
}

/** Parses `--initial-cluster` ("n1=http://a:2380,n2=http://b:2380"). */
export function parseInitialCluster(value: string): Map<string, URL[]> {
  const out = new Map<string, URL[]>();
  for (const part of value.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new ConfigError(`invalid --initial-cluster entry "${part}" (want name=url)`);
    const name = part.slice(0, eq);
    const urls = parseUrls("initial-cluster", part.slice(eq + 1));
    out.set(name, [...(out.get(name) ?? []), ...urls]);
  }
  return out;
}

/** Parses `--auth-token` ("simple", or "jwt,pub-key=…,priv-key=…,sign-method=RS256,ttl=10m"). */
export function parseAuthToken(value: string): AuthTokenConfig {
  const [kind, ...opts] = value.split(",");
  if (kind === "simple") return { kind: "simple" };
  if (kind !== "jwt") throw new ConfigError(`unknown token type "${kind}" for flag --auth-token`);
  const token: AuthTokenConfig = { kind: "jwt", signMethod: "", ttlSeconds: 300 };
  for (const opt of opts) {
    const [k, v = ""] = opt.split("=", 2);
    if (k === "sign-method") token.signMethod = v;
    else if (k === "priv-key") token.privKey = v;
    else if (k === "pub-key") token.pubKey = v;
    else if (k === "ttl") token.ttlSeconds = parseGoDuration(v) / 1000;
    else throw new ConfigError(`unknown jwt option "${k}" for flag --auth-token`);
  }
  if (token.signMethod === "") throw new ConfigError("--auth-token jwt needs sign-method");
  if (!token.privKey && !token.pubKey) {
    throw new ConfigError("--auth-token jwt needs priv-key or pub-key");
  }
  return token;
}
