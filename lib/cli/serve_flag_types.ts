/**
 * The shape of `concord serve`'s flag table: what a flag is (its value kind, etcd's default
 * and help text, its section in `--help`) and how it acts on the settings being built. One
 * table serves the command line, `ETCD_*` variables and the `--config-file` YAML.
 */
import type { ServerConfig } from "../server/config.ts";
import type { LogFields, LogLevel } from "../base/log.ts";

/** How a flag's value is written. */
export type FlagKind = "string" | "uint" | "int" | "bool" | "duration" | "urls" | "strings";

/** The sections of etcd 3.5's `etcd --help`, in its order. */
export const HELP_GROUPS = [
  "Member",
  "Clustering",
  "Security",
  "Auth",
  "Profiling and Monitoring",
  "Logging",
  "Experimental distributed tracing",
  "v2 Proxy (Deprecated and to be decommissioned in v3.6)",
  "Experimental feature",
  "Unsafe feature",
] as const;

/** A section of the help text. */
export type HelpGroup = typeof HELP_GROUPS[number];

/** A line to log once the logger exists (flags are read before it is made). */
export interface Notice {
  level: LogLevel;
  msg: string;
  fields?: LogFields;
}

/** Everything the flags decide: the member's configuration and the process around it. */
export interface ServeSettings {
  config: ServerConfig;
  /** --logger (only "zap"). */
  logger: string;
  /** --log-outputs: "default", "stderr", "stdout" or file paths. */
  logOutputs: string[];
  /** --unsafe-no-fsync: no fdatasync at all (lib/io/no_sync_disk.ts). */
  unsafeNoFsync?: boolean;
  /** --experimental-snapshot-catchup-entries, when given. */
  snapshotCatchUpEntries?: number;
  /** Warnings and facts about the flags, logged at start-up. */
  notices: Notice[];
}

/** One flag of `concord serve`. */
export interface FlagDef {
  kind: FlagKind;
  group: HelpGroup;
  /** The default as `--help` shows it (etcd's, or Concord's where it differs). */
  default: string;
  help: string;
  /** Gives the flag its meaning; throws ConfigError (naming the flag) on a bad value. */
  apply(s: ServeSettings, value: string, flag: string): void;
  /** Set for flags Concord refuses unless they ask for nothing: the reason, for --help. */
  unsupported?: string;
  /** etcd 3.5 warns "--X is deprecated in 3.5 and will be decommissioned in 3.6." */
  deprecated?: boolean;
  /** Not shown by --help (etcd's hidden and ignored flags). */
  hidden?: boolean;
}
