/**
 * `concord serve`'s flags: etcd's names, defaults and forms (`--flag value`, `--flag=value`,
 * `-flag`, booleans with an optional `=true|false`), also settable through etcd's environment
 * variables (`ETCD_NAME`, `ETCD_DATA_DIR`, …) so Concord drops into deployments written for
 * etcd. A flag on the command line wins over its environment variable, as in etcd. With
 * `--config-file` (or `ETCD_CONFIG_FILE`) the YAML file is the whole configuration: other flags
 * and `ETCD_*` variables are ignored, as etcd 3.5 ignores them.
 *
 * The table of flags is in serve_flag_table.ts (what Concord implements) and
 * serve_flags_unsupported.ts (etcd flags refused or without effect here).
 */
import { ConfigError, defaultConfig, type ServerConfig, validateConfig } from "../server/config.ts";
import type { FlagDef, Notice, ServeSettings } from "./serve_flag_types.ts";
import { IMPLEMENTED_FLAGS } from "./serve_flag_table.ts";
import { METRICS_FLAGS } from "./serve_metrics_flags.ts";
import { IGNORED_FLAGS, UNSUPPORTED_FLAGS } from "./serve_flags_unsupported.ts";
import { configFileValues } from "./serve_config_file.ts";
import { serveHelp as helpText } from "./serve_help.ts";
import { parseGoDuration, parseUint } from "./serve_flag_values.ts";

export { parseAuthToken, parseGoDuration, parseInitialCluster } from "./serve_flag_values.ts";

/** Every flag `concord serve` knows, by name. */
export const SERVE_FLAGS: Readonly<Record<string, FlagDef>> = {
  ...IMPLEMENTED_FLAGS,
  ...METRICS_FLAGS,
  ...UNSUPPORTED_FLAGS,
};

/** The environment variable etcd reads for a flag: ETCD_ + upper snake case. */
export function envNameFor(flag: string): string {
  return "ETCD_" + flag.toUpperCase().replace(/-/g, "_");
}

/** The result of parsing: the configuration and what to log about it at start-up. */
export interface ParsedServeFlags {
  config: ServerConfig;
  /** --logger, --log-outputs and the member options flags set. */
  settings: ServeSettings;
  /** Lines to log once the logger exists (warnings about flags, the config file read). */
  notices: Notice[];
  /** True when --help was asked for. */
  help: boolean;
  /** True when --version was asked for. */
  version: boolean;
  /** The config file read, if any. */
  configFile?: string;
}

function resolveRetention(cfg: ServerConfig, text: string): number {
  if (cfg.autoCompactionMode === "revision") {
    return parseUint("auto-compaction-retention", text);
  }
  // periodic: a bare number means hours, as in etcd.
  if (/^\d+$/.test(text)) return Number(text) * 3_600_000;
  return parseGoDuration(text);
}

/** The command line, read as Go's flag package reads it. */
interface CommandLine {
  given: Map<string, string>;
  help: boolean;
  version: boolean;
  configFile?: string;
  ignored: string[];
}

function readArgs(args: readonly string[]): CommandLine {
  const out: CommandLine = { given: new Map(), help: false, version: false, ignored: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "-h" || arg === "--help" || arg === "-help") {
      out.help = true;
      continue;
    }
    const m = /^--?([A-Za-z0-9][A-Za-z0-9._-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new ConfigError(`'${arg}' is not a valid flag`);
    const [, name, inline] = m;
    if (name === "version") {
      if (inline === undefined || /^(1|t|T|true|TRUE|True)$/.test(inline)) out.version = true;
      continue;
    }
    if (IGNORED_FLAGS.includes(name)) {
      out.ignored.push(name);
      continue;
    }
    const def = name === "config-file" ? undefined : SERVE_FLAGS[name];
    if (!def && name !== "config-file") {
      throw new ConfigError(`flag provided but not defined: -${name}`);
    }
    let value = inline;
    if (value === undefined) {
      if (def?.kind === "bool") value = "true";
      else if (i + 1 < args.length) value = args[++i];
      else throw new ConfigError(`flag needs an argument: -${name}`);
    }
    if (name === "config-file") out.configFile = value;
    else out.given.set(name, value);
  }
  return out;
}

/** Adds the ETCD_* variables to `given` as etcd's SetFlagsFromEnv does. */
function readEnv(
  given: Map<string, string>,
  env: Readonly<Record<string, string>>,
  notices: Notice[],
): void {
  const fromArgs = new Set(given.keys());
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith("ETCD_") || key === "ETCD_CONFIG_FILE") continue;
    if (key === "ETCD_VERSION") {
      notices.push({
        level: "warn",
        msg: "cannot set special environment variable",
        fields: { key, value },
      });
      continue;
    }
    const flag = key.slice(5).toLowerCase().replace(/_/g, "-");
    if (!(flag in SERVE_FLAGS)) {
      notices.push({
        level: "warn",
        msg: "unrecognized environment variable",
        fields: { "environment-variable": `${key}=${value}` },
      });
      continue;
    }
    if (fromArgs.has(flag)) {
      notices.push({
        level: "warn",
        msg:
          "conflicting environment variable is shadowed by corresponding command-line flag (either unset environment variable or disable flag)",
        fields: { "environment-variable": key },
      });
      continue;
    }
    if (value === "") continue;
    given.set(flag, value);
    notices.push({
      level: "info",
      msg: "recognized and used environment variable",
      fields: { "variable-name": key, "variable-value": value },
    });
  }
}

/** Builds the settings from flag values, in table order, and checks them as etcd does. */
function build(given: Map<string, string>, notices: Notice[], check: boolean): ServeSettings {
  const cfg = defaultConfig(given.get("name") ?? "default");
  const s: ServeSettings = { config: cfg, logger: "zap", logOutputs: ["default"], notices };
  for (const [name, def] of Object.entries(SERVE_FLAGS)) {
    const value = given.get(name);
    if (value !== undefined) def.apply(s, value, name);
  }
  if (!given.has("data-dir")) cfg.dataDir = `${cfg.name}.concord`;
  if (!given.has("initial-cluster")) {
    cfg.initialCluster = new Map([[cfg.name, cfg.initialAdvertisePeerUrls]]);
  }
  const retention = given.get("auto-compaction-retention");
  if (retention !== undefined) cfg.autoCompactionRetention = resolveRetention(cfg, retention);
  if (s.logOutputs.length > 1 && s.logOutputs.includes("default")) {
    throw new ConfigError(`multi logoutput for "default" is not supported yet`);
  }
  if (check) validateConfig(cfg);
  return s;
}

/**
 * Parses `concord serve` arguments and the environment (and the config file they name, read
 * with `readFile`) into a validated configuration. Throws ConfigError naming the flag on bad
 * input.
 */
export function parseServeFlags(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  readFile: (path: string) => string = (p) => Deno.readTextFileSync(p),
): ParsedServeFlags {
  const cl = readArgs(args);
  const notices: Notice[] = [];
  const done = (s: ServeSettings, configFile?: string): ParsedServeFlags => ({
    config: s.config,
    settings: s,
    notices: s.notices,
    help: cl.help,
    version: cl.version,
    configFile,
  });
  if (cl.help || cl.version) return done(build(new Map(), notices, false));
  for (const name of cl.ignored) {
    notices.push({
      level: "warn",
      msg: "flag is no longer supported - ignoring",
      fields: { "flag-name": name },
    });
  }
  const configFile = cl.configFile ?? (env.ETCD_CONFIG_FILE || undefined);
  if (configFile !== undefined) {
    let text: string;
    try {
      text = readFile(configFile);
    } catch (err) {
      throw new ConfigError(`cannot read config file ${configFile}: ${(err as Error).message}`);
    }
    const file = configFileValues(text, SERVE_FLAGS);
    notices.push({
      level: "info",
      msg:
        "loaded server configuration, other configuration command line flags and environment variables will be ignored if provided",
      fields: { path: configFile },
    });
    if (cl.given.size > 0) {
      // etcd ignores them silently; naming them saves an operator a puzzle
      notices.push({
        level: "warn",
        msg: "command line flags ignored because --config-file is given",
        fields: { flags: [...cl.given.keys()] },
      });
    }
    notices.push(...file.notices);
    return done(build(file.given, notices, true), configFile);
  }
  readEnv(cl.given, env, notices);
  for (const name of cl.given.keys()) {
    if (SERVE_FLAGS[name].deprecated) {
      notices.push({
        level: "warn",
        msg: `--${name} is deprecated in 3.5 and will be decommissioned in 3.6.`,
      });
    }
  }
  return done(build(cl.given, notices, true));
}

/** `concord serve --help`: every flag by section with its default, as etcd's. */
export function serveHelp(): string {
  return helpText(SERVE_FLAGS);
}
