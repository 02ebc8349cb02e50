/**
 * `concord serve`'s flags: etcd's names, defaults and forms (`--flag value`, `--flag=value`,
 * `-flag`, booleans with an optional `=true|false`), also settable through etcd's environment
 * variables (`ETCD_NAME`, `ETCD_DATA_DIR`, …) so Concord drops into deployments written for
 * etcd. A flag on the command line wins over its environment variable, as in etcd.
 */
import {
  type AuthTokenConfig,
  ConfigError,
  DEFAULT_QUOTA_BYTES,
  defaultConfig,
  type ServerConfig,
  validateConfig,
} from "../server/config.ts";
import { parseCorsOrigins } from "../api/cors.ts";
import { METRICS_FLAGS } from "./serve_metrics_flags.ts";

type Kind = "string" | "uint" | "bool" | "duration" | "urls";

/** One flag: how it is shown in --help and applied to the configuration. */
export interface FlagDef {
  kind: Kind;
  help: string;
  apply(cfg: ServerConfig, value: string): void;
}

function parseUint(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(`invalid value "${value}" for flag --${flag}`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new ConfigError(`value "${value}" for flag --${flag} is too large`);
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

function parseUrls(flag: string, value: string): URL[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s !== "").map((s) => {
    try {
      return new URL(s);
    } catch {
      throw new ConfigError(`invalid url "${s}" for flag --${flag}`);
    }
  });
}

function parseBool(flag: string, value: string): boolean {
  if (/^(1|t|true|TRUE|True)$/.test(value)) return true;
  if (/^(0|f|false|FALSE|False)$/.test(value)) return false;
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

const FLAGS: Record<string, FlagDef> = {
  "name": {
    kind: "string",
    help: "Human-readable name for this member.",
    apply: (c, v) => (c.name = v),
  },
  "data-dir": {
    kind: "string",
    help: "Path to the data directory (default <name>.concord).",
    apply: (c, v) => (c.dataDir = v),
  },
  "wal-dir": {
    kind: "string",
    help: "Path to a dedicated WAL directory.",
    apply: (c, v) => (c.walDir = v),
  },
  "listen-client-urls": {
    kind: "urls",
    help: "URLs to listen on for client traffic.",
    apply: (c, v) => (c.listenClientUrls = parseUrls("listen-client-urls", v)),
  },
  "advertise-client-urls": {
    kind: "urls",
    help: "Client URLs advertised to the cluster.",
    apply: (c, v) => (c.advertiseClientUrls = parseUrls("advertise-client-urls", v)),
  },
  "listen-peer-urls": {
    kind: "urls",
    help: "URLs to listen on for peer traffic.",
    apply: (c, v) => (c.listenPeerUrls = parseUrls("listen-peer-urls", v)),
  },
  "initial-advertise-peer-urls": {
    kind: "urls",
    help: "Peer URLs advertised to the cluster.",
    apply: (c, v) => (c.initialAdvertisePeerUrls = parseUrls("initial-advertise-peer-urls", v)),
  },
  "initial-cluster": {
    kind: "string",
    help: "Initial cluster configuration for bootstrapping.",
    apply: (c, v) => (c.initialCluster = parseInitialCluster(v)),
  },
  "initial-cluster-state": {
    kind: "string",
    help: "Initial cluster state ('new' or 'existing').",
    apply: (c, v) => {
      if (v !== "new" && v !== "existing") {
        throw new ConfigError(`invalid value "${v}" for flag --initial-cluster-state`);
      }
      c.initialClusterState = v;
    },
  },
  "initial-cluster-token": {
    kind: "string",
    help: "Initial cluster token.",
    apply: (c, v) => (c.initialClusterToken = v),
  },
  "strict-reconfig-check": {
    kind: "bool",
    help: "Reject reconfiguration requests that would cause quorum loss.",
    apply: (c, v) => (c.strictReconfigCheck = parseBool("strict-reconfig-check", v)),
  },
  "max-learners": {
    kind: "uint",
    help: "Sets the maximum number of learners that can be available in the cluster membership.",
    apply: (c, v) => (c.maxLearners = parseUint("max-learners", v)),
  },
  "snapshot-count": {
    kind: "uint",
    help: "Committed entries that trigger a snapshot.",
    apply: (c, v) => (c.snapshotCount = parseUint("snapshot-count", v)),
  },
  "max-snapshots": {
    kind: "uint",
    help: "Snapshot files to retain (0 is unlimited).",
    apply: (c, v) => (c.maxSnapshots = parseUint("max-snapshots", v)),
  },
  "max-wals": {
    kind: "uint",
    help: "WAL files to retain (0 is unlimited).",
    apply: (c, v) => (c.maxWals = parseUint("max-wals", v)),
  },
  "heartbeat-interval": {
    kind: "uint",
    help: "Time (ms) of a heartbeat interval.",
    apply: (c, v) => (c.heartbeatIntervalMs = parseUint("heartbeat-interval", v)),
  },
  "election-timeout": {
    kind: "uint",
    help: "Time (ms) for an election to timeout.",
    apply: (c, v) => (c.electionTimeoutMs = parseUint("election-timeout", v)),
  },
  "quota-backend-bytes": {
    kind: "uint",
    help: "Raise the NOSPACE alarm beyond this backend size (0 = 2 GiB).",
    apply: (c, v) => {
      const n = parseUint("quota-backend-bytes", v);
      c.quotaBackendBytes = n === 0 ? DEFAULT_QUOTA_BYTES : n;
    },
  },
  "backend-batch-interval": {
    kind: "duration",
    help: "Longest time before a backend commit.",
    apply: (c, v) => (c.backendBatchIntervalMs = parseGoDuration(v)),
  },
  "backend-batch-limit": {
    kind: "uint",
    help: "Most operations before a backend commit.",
    apply: (c, v) => (c.backendBatchLimit = parseUint("backend-batch-limit", v)),
  },
  "max-request-bytes": {
    kind: "uint",
    help: "Largest client request accepted, in bytes.",
    apply: (c, v) => (c.maxRequestBytes = parseUint("max-request-bytes", v)),
  },
  "max-txn-ops": {
    kind: "uint",
    help: "Most operations in one transaction.",
    apply: (c, v) => (c.maxTxnOps = parseUint("max-txn-ops", v)),
  },
  "auto-compaction-mode": {
    kind: "string",
    help: "'periodic' (retention is a duration) or 'revision'.",
    apply: (c, v) => {
      if (v !== "periodic" && v !== "revision") {
        throw new ConfigError(`unknown auto-compaction-mode "${v}"`);
      }
      c.autoCompactionMode = v;
    },
  },
  // Resolved after every flag is read, because its meaning depends on the mode.
  "auto-compaction-retention": {
    kind: "string",
    help: "History to keep: '1h', '30m', '5' (hours) or revisions.",
    apply: () => {},
  },
  "auth-token": {
    kind: "string",
    help: "'simple' or 'jwt,pub-key=…,priv-key=…,sign-method=…'.",
    apply: (c, v) => (c.authToken = parseAuthToken(v)),
  },
  "auth-token-ttl": {
    kind: "uint",
    help: "Lifetime in seconds of a simple auth token.",
    apply: (c, v) => (c.authTokenTtlSeconds = parseUint("auth-token-ttl", v)),
  },
  "cert-file": {
    kind: "string",
    help: "Client TLS certificate.",
    apply: (c, v) => (c.tls.certFile = v),
  },
  "key-file": { kind: "string", help: "Client TLS key.", apply: (c, v) => (c.tls.keyFile = v) },
  "trusted-ca-file": {
    kind: "string",
    help: "CA for client certificates.",
    apply: (c, v) => (c.tls.trustedCaFile = v),
  },
  "client-cert-auth": {
    kind: "bool",
    help: "Require client certificates.",
    apply: (c, v) => (c.tls.clientCertAuth = parseBool("client-cert-auth", v)),
  },
  "peer-cert-file": {
    kind: "string",
    help: "Peer TLS certificate (served to peers and presented to them).",
    apply: (c, v) => (c.peerTls.certFile = v),
  },
  "peer-key-file": {
    kind: "string",
    help: "Peer TLS key.",
    apply: (c, v) => (c.peerTls.keyFile = v),
  },
  "peer-trusted-ca-file": {
    kind: "string",
    help: "CA peers' certificates must chain to.",
    apply: (c, v) => (c.peerTls.trustedCaFile = v),
  },
  "peer-client-cert-auth": {
    kind: "bool",
    help: "Require peers to present a certificate signed by --peer-trusted-ca-file.",
    apply: (c, v) => (c.peerTls.clientCertAuth = parseBool("peer-client-cert-auth", v)),
  },
  "cors": {
    kind: "string",
    help: "Comma-separated allowed CORS origins (empty or '*' for any; default '*').",
    apply: (c, v) => {
      let origins: "*" | string[];
      try {
        origins = parseCorsOrigins(v);
      } catch (err) {
        throw new ConfigError(`invalid value "${v}" for flag --cors: ${(err as Error).message}`);
      }
      c.corsOrigins = origins === "*" ? ["*"] : origins;
    },
  },
  "log-level": {
    kind: "string",
    help: "debug, info, warn or error.",
    apply: (c, v) => {
      if (v !== "debug" && v !== "info" && v !== "warn" && v !== "error") {
        throw new ConfigError(`unknown log level "${v}"`);
      }
      c.logLevel = v;
    },
  },
  ...METRICS_FLAGS,
};

/** The environment variable etcd reads for a flag: ETCD_ + upper snake case. */
export function envNameFor(flag: string): string {
  return "ETCD_" + flag.toUpperCase().replace(/-/g, "_");
}

/** The result of parsing: the configuration and warnings worth printing at start-up. */
export interface ParsedServeFlags {
  config: ServerConfig;
  warnings: string[];
  /** True when --help was asked for. */
  help: boolean;
}

function resolveRetention(cfg: ServerConfig, text: string): number {
  if (cfg.autoCompactionMode === "revision") {
    return parseUint("auto-compaction-retention", text);
  }
  // periodic: a bare number means hours, as in etcd.
  if (/^\d+$/.test(text)) return Number(text) * 3_600_000;
  return parseGoDuration(text);
}

/**
 * Parses `concord serve` arguments and the environment into a validated configuration.
 * Throws ConfigError naming the flag on bad input.
 */
export function parseServeFlags(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): ParsedServeFlags {
  const given = new Map<string, string>();
  const warnings: string[] = [];
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "-h" || arg === "--help" || arg === "-help") {
      help = true;
      continue;
    }
    const m = /^--?([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new ConfigError(`unexpected argument "${arg}"`);
    const [, name, inline] = m;
    const def = FLAGS[name];
    if (!def) throw new ConfigError(`flag provided but not defined: -${name}`);
    let value = inline;
    if (value === undefined) {
      if (def.kind === "bool") value = "true";
      else if (i + 1 < args.length) value = args[++i];
      else throw new ConfigError(`flag needs an argument: -${name}`);
    }
    given.set(name, value);
  }
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith("ETCD_")) continue;
    const flag = key.slice(5).toLowerCase().replace(/_/g, "-");
    if (!(flag in FLAGS)) {
      if (!["ETCDCTL_API"].includes(key)) {
        warnings.push(`unrecognized environment variable ${key}=${value}`);
      }
      continue;
    }
    if (given.has(flag)) {
      warnings.push(
        `conflicting environment variable "${key}" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`,
      );
      continue;
    }
    given.set(flag, value);
  }

  const cfg = defaultConfig(given.get("name") ?? "default");
  // Mode first, so retention can be read in its light; then everything else in table order.
  for (const name of Object.keys(FLAGS)) {
    const value = given.get(name);
    if (value !== undefined) FLAGS[name].apply(cfg, value);
  }
  if (!given.has("data-dir")) cfg.dataDir = `${cfg.name}.concord`;
  if (!given.has("initial-cluster")) {
    cfg.initialCluster = new Map([[cfg.name, cfg.initialAdvertisePeerUrls]]);
  }
  const retention = given.get("auto-compaction-retention");
  if (retention !== undefined) cfg.autoCompactionRetention = resolveRetention(cfg, retention);
  if (!help) validateConfig(cfg);
  return { config: cfg, warnings, help };
}

/** `concord serve --help`: every flag with its environment variable. */
export function serveHelp(): string {
  const lines = ["Usage: concord serve [flags]", "", "Flags (each also settable as ETCD_<FLAG>):"];
  for (const [name, def] of Object.entries(FLAGS)) {
    const arg = def.kind === "bool" ? "" : ` <${def.kind}>`;
    lines.push(`  --${name}${arg}`.padEnd(44) + def.help);
  }
  return lines.join("\n");
}
