/**
 * The etcd 3.5 flags Concord does not give a meaning to. Each is still a flag (never "flag
 * provided but not defined"): a value that asks for nothing Concord lacks (etcd's default,
 * an empty list, `false`) is accepted, any other is refused with the reason; flags that only
 * tune Go or bbolt internals are accepted with a warning that they have no effect here.
 */
import { ConfigError } from "../server/config.ts";
import type { FlagDef, FlagKind, HelpGroup, ServeSettings } from "./serve_flag_types.ts";
import {
  parseBool,
  parseDurationFlag,
  parseInt64,
  parseStrings,
  parseUint,
  parseUrls,
} from "./serve_flag_values.ts";

/** Checks a value's form; returns a canonical text to compare with the default. */
function canonical(kind: FlagKind, flag: string, value: string): string {
  switch (kind) {
    case "bool":
      return String(parseBool(flag, value));
    case "uint":
      return String(parseUint(flag, value));
    case "int":
      return String(parseInt64(flag, value));
    case "duration":
      return String(parseDurationFlag(flag, value));
    case "urls":
      return parseUrls(flag, value).map((u) => u.href).join(",");
    case "strings":
      return parseStrings(value).join(",");
    case "string":
      return value;
  }
}

/**
 * A flag Concord refuses unless its value asks for nothing (equals etcd's default, or one of
 * `also`): "--flag=value is not supported by Concord: why".
 */
function refused(
  kind: FlagKind,
  group: HelpGroup,
  dflt: string,
  help: string,
  why: string,
  also: string[] = [],
): FlagDef {
  return {
    kind,
    group,
    default: dflt,
    help,
    unsupported: why,
    apply(_s: ServeSettings, value: string, flag: string) {
      const got = canonical(kind, flag, value);
      const fine = [dflt, ...also].map((d) => canonical(kind, flag, d));
      if (!fine.includes(got)) {
        throw new ConfigError(`--${flag}=${value} is not supported by Concord: ${why}`);
      }
    },
  };
}

/** A flag accepted with a warning that it has no effect in Concord (Go or bbolt internals). */
function inert(
  kind: FlagKind,
  group: HelpGroup,
  dflt: string,
  help: string,
  why: string,
  valid?: readonly string[],
): FlagDef {
  return {
    kind,
    group,
    default: dflt,
    help,
    unsupported: `accepted without effect: ${why}`,
    apply(s: ServeSettings, value: string, flag: string) {
      canonical(kind, flag, value);
      if (valid && !valid.includes(value)) {
        throw new ConfigError(
          `invalid value "${value}" for flag --${flag}: valid values are ${
            valid.map((v) => `"${v}"`).join(", ")
          }`,
        );
      }
      s.notices.push({
        level: "warn",
        msg: "flag has no effect in Concord",
        fields: { flag, value, reason: why },
      });
    },
  };
}

/** A flag whose value only matters with another flag Concord refuses: checked, then unused. */
function dependent(kind: FlagKind, group: HelpGroup, dflt: string, help: string): FlagDef {
  return {
    kind,
    group,
    default: dflt,
    help,
    apply(_s: ServeSettings, value: string, flag: string) {
      canonical(kind, flag, value);
    },
  };
}

const V2 = "Concord serves only the v3 API (etcd 3.6 removed v2)";
const PROXY = "the v2 proxy is not part of Concord (etcd 3.6 removed it)";
const DISCOVERY = "discovery is not supported; list the members with --initial-cluster";
const KEEPALIVE = "Concord's HTTP/2 server sends no keepalive pings; a connection with no " +
  "stream and no traffic for 5 minutes is closed";
const TRACING = "distributed tracing is not supported";

/** etcd 3.5's flags Concord refuses or accepts without effect, in etcd's help order. */
export const UNSUPPORTED_FLAGS: Record<string, FlagDef> = {
  "initial-election-tick-advance": inert(
    "bool",
    "Member",
    "true",
    "Whether to fast-forward initial election ticks on boot for faster election.",
    "Concord does not fast-forward election ticks at boot",
  ),
  "listen-client-http-urls": refused(
    "urls",
    "Member",
    "",
    "List of URLs to listen on for http only client traffic. Enabling this flag removes http services from --listen-client-urls.",
    "gRPC and HTTP are served together on --listen-client-urls",
  ),
  "backend-bbolt-freelist-type": inert(
    "string",
    "Member",
    "map",
    "BackendFreelistType specifies the type of freelist that boltdb backend uses(array and map are supported types).",
    "Concord's page file is not bbolt and keeps one kind of freelist",
    ["map", "array"],
  ),
  "grpc-keepalive-min-time": refused(
    "duration",
    "Member",
    "5s",
    "Minimum duration interval that a client should wait before pinging server.",
    KEEPALIVE,
  ),
  "grpc-keepalive-interval": refused(
    "duration",
    "Member",
    "2h",
    "Frequency duration of server-to-client ping to check if a connection is alive (0 to disable).",
    KEEPALIVE,
  ),
  "grpc-keepalive-timeout": refused(
    "duration",
    "Member",
    "20s",
    "Additional duration of wait before closing a non-responsive connection (0 to disable).",
    KEEPALIVE,
  ),
  "socket-reuse-port": refused(
    "bool",
    "Member",
    "false",
    "Enable to set socket option SO_REUSEPORT on listeners allowing rebinding of a port already in use.",
    "listeners are not opened with SO_REUSEPORT",
  ),
  "socket-reuse-address": refused(
    "bool",
    "Member",
    "false",
    "Enable to set socket option SO_REUSEADDR on listeners allowing binding to an address in TIME_WAIT state.",
    "listeners are not opened with an explicit SO_REUSEADDR",
  ),
  "raft-read-timeout": refused(
    "duration",
    "Member",
    "5s",
    "Read timeout set on each rafthttp connection",
    "peer connection timeouts are fixed",
  ),
  "raft-write-timeout": refused(
    "duration",
    "Member",
    "5s",
    "Write timeout set on each rafthttp connection",
    "peer connection timeouts are fixed",
  ),
  "discovery": refused(
    "string",
    "Clustering",
    "",
    "Discovery URL used to bootstrap the cluster.",
    DISCOVERY,
  ),
  "discovery-fallback": inert(
    "string",
    "Clustering",
    "proxy",
    "Expected behavior ('exit' or 'proxy') when discovery services fails.\n\"proxy\" supports v2 API only.",
    DISCOVERY,
    ["proxy", "exit"],
  ),
  "discovery-proxy": refused(
    "string",
    "Clustering",
    "",
    "HTTP proxy to use for traffic to discovery service.",
    DISCOVERY,
  ),
  "discovery-srv": refused(
    "string",
    "Clustering",
    "",
    "DNS srv domain used to bootstrap the cluster.",
    DISCOVERY,
  ),
  "discovery-srv-name": refused(
    "string",
    "Clustering",
    "",
    "Suffix to the dns srv name queried when bootstrapping.",
    DISCOVERY,
  ),
  "pre-vote": refused(
    "bool",
    "Clustering",
    "true",
    "Enable to run an additional Raft election phase.",
    "raft always runs with pre-vote",
  ),
  "enable-v2": {
    ...refused(
      "bool",
      "Clustering",
      "false",
      "Accept etcd V2 client requests. Deprecated and to be decommissioned in v3.6.",
      V2,
    ),
    deprecated: true,
  },
  "v2-deprecation": dependent(
    "string",
    "Clustering",
    "not-yet",
    "Phase of v2store deprecation. Allows to opt-in for higher compatibility mode.\nSupported values:\n  'not-yet'                // Issues a warning if v2store have meaningful content (default in v3.5)\n  'write-only'             // Custom v2 state is not allowed (planned default in v3.6)\n  'write-only-skip-check'  // Custom v2 state is not allowed similar to 'write-only', but bypass the v2 content check.\n  'write-only-drop-data'   // Custom v2 state will get DELETED !\n  'gone'                   // v2store is not maintained any longer. (planned default in v3.7)\n(Concord keeps no v2 store: every phase holds.)",
  ),
  "client-cert-file": inert(
    "string",
    "Security",
    "",
    "Path to an explicit peer client TLS cert file otherwise cert file will be used when client auth is required.",
    "Concord's JSON gateway calls the server in-process and presents no client certificate",
  ),
  "client-key-file": inert(
    "string",
    "Security",
    "",
    "Path to an explicit peer client TLS key file otherwise key file will be used when client auth is required.",
    "Concord's JSON gateway calls the server in-process and presents no client certificate",
  ),
  "client-crl-file": refused(
    "string",
    "Security",
    "",
    "Path to the client certificate revocation list file.",
    "certificate revocation lists are not checked",
  ),
  "client-cert-allowed-hostname": refused(
    "strings",
    "Security",
    "",
    "Comma-separated list of SAN hostnames for client cert authentication.",
    "client certificates are not matched against allowed hostnames",
  ),
  "auto-tls": refused(
    "bool",
    "Security",
    "false",
    "Client TLS using generated certificates.",
    "certificates are not generated; give --cert-file and --key-file",
  ),
  "peer-cert-allowed-cn": refused(
    "strings",
    "Security",
    "",
    "Comma-separated list of allowed CNs for inter-peer TLS authentication.",
    "peer certificates are checked against --peer-trusted-ca-file only",
  ),
  "peer-cert-allowed-hostname": refused(
    "strings",
    "Security",
    "",
    "Comma-separated list of allowed SAN hostnames for inter-peer TLS authentication.",
    "peer certificates are checked against --peer-trusted-ca-file only",
  ),
  "peer-auto-tls": refused(
    "bool",
    "Security",
    "false",
    "Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are not provided.",
    "certificates are not generated; give --peer-cert-file and --peer-key-file",
  ),
  "peer-client-cert-file": refused(
    "string",
    "Security",
    "",
    "Path to an explicit peer client TLS cert file otherwise peer cert file will be used when client auth is required.",
    "a member presents --peer-cert-file to its peers",
  ),
  "peer-client-key-file": refused(
    "string",
    "Security",
    "",
    "Path to an explicit peer client TLS key file otherwise peer key file will be used when client auth is required.",
    "a member presents --peer-key-file to its peers",
  ),
  "self-signed-cert-validity": dependent(
    "uint",
    "Security",
    "1",
    "The validity period of the client and peer certificates that are automatically generated by etcd when you specify ClientAutoTLS and PeerAutoTLS, the unit is year, and the default is 1.",
  ),
  "peer-crl-file": refused(
    "string",
    "Security",
    "",
    "Path to the peer certificate revocation list file.",
    "certificate revocation lists are not checked",
  ),
  "cipher-suites": refused(
    "strings",
    "Security",
    "",
    "Comma-separated list of supported TLS cipher suites between client/server and peers (empty will be auto-populated by Go).",
    "the TLS library's cipher suites are used",
  ),
  "host-whitelist": refused(
    "strings",
    "Security",
    "*",
    "Acceptable hostnames from HTTP client requests, if server is not secure (empty or * means allow all).",
    "requests are not filtered by Host",
    [""],
  ),
  "tls-min-version": refused(
    "string",
    "Security",
    "TLS1.2",
    "Minimum TLS version supported by etcd. Possible values: TLS1.2, TLS1.3.",
    "TLS 1.2 and 1.3 are always offered",
  ),
  "tls-max-version": refused(
    "string",
    "Security",
    "",
    "Maximum TLS version supported by etcd. Possible values: TLS1.2, TLS1.3 (empty will be auto-populated by Go).",
    "TLS 1.2 and 1.3 are always offered",
    ["TLS1.3"],
  ),
  "experimental-peer-skip-client-san-verification": refused(
    "bool",
    "Experimental feature",
    "false",
    "Skip verification of SAN field in client certificate for peer connections.",
    "peer certificate checks cannot be relaxed",
  ),
  "bcrypt-cost": inert(
    "uint",
    "Auth",
    "10",
    "Specify the cost / strength of the bcrypt algorithm for hashing auth passwords. Valid values are between 4 and 31.",
    "Concord hashes passwords with PBKDF2-SHA256 (600,000 iterations), not bcrypt",
  ),
  "enable-pprof": inert(
    "bool",
    "Profiling and Monitoring",
    "false",
    'Enable runtime profiling data via HTTP server. Address is at client URL + "/debug/pprof/"',
    "pprof is Go's profiler; profile Concord with deno's --inspect or --cpu-prof",
  ),
  "enable-log-rotation": refused(
    "bool",
    "Logging",
    "false",
    "Enable log rotation of a single log-outputs file target.",
    "log files are not rotated; rotate them with logrotate's copytruncate, or log to stderr",
  ),
  "log-rotation-config-json": dependent(
    "string",
    "Logging",
    '{"maxsize": 100, "maxage": 0, "maxbackups": 0, "localtime": false, "compress": false}',
    'Configures log rotation if enabled with a JSON logger config. MaxSize(MB), MaxAge(days,0=no limit), MaxBackups(0=no limit), LocalTime(use computers local time), Compress(gzip)".',
  ),
  "experimental-enable-distributed-tracing": refused(
    "bool",
    "Experimental distributed tracing",
    "false",
    "Enable experimental distributed tracing.",
    TRACING,
  ),
  "experimental-distributed-tracing-address": dependent(
    "string",
    "Experimental distributed tracing",
    "localhost:4317",
    "Distributed tracing collector address.",
  ),
  "experimental-distributed-tracing-service-name": dependent(
    "string",
    "Experimental distributed tracing",
    "etcd",
    "Distributed tracing service name, must be same across all etcd instances.",
  ),
  "experimental-distributed-tracing-instance-id": dependent(
    "string",
    "Experimental distributed tracing",
    "",
    "Distributed tracing instance ID, must be unique per each etcd instance.",
  ),
  "experimental-distributed-tracing-sampling-rate": dependent(
    "int",
    "Experimental distributed tracing",
    "0",
    "Number of samples to collect per million spans for distributed tracing. Disabled by default.",
  ),
  "proxy": {
    ...refused(
      "string",
      "v2 Proxy (Deprecated and to be decommissioned in v3.6)",
      "off",
      "Proxy mode setting ('off', 'readonly' or 'on').",
      PROXY,
    ),
    deprecated: true,
  },
  ...Object.fromEntries(
    ([
      [
        "proxy-failure-wait",
        "5000",
        "Time (in milliseconds) an endpoint will be held in a failed state.",
      ],
      [
        "proxy-refresh-interval",
        "30000",
        "Time (in milliseconds) of the endpoints refresh interval.",
      ],
      ["proxy-dial-timeout", "1000", "Time (in milliseconds) for a dial to timeout."],
      ["proxy-write-timeout", "5000", "Time (in milliseconds) for a write to timeout."],
      ["proxy-read-timeout", "0", "Time (in milliseconds) for a read to timeout."],
    ] as const).map(([name, dflt, help]) => [
      name,
      {
        ...dependent("uint", "v2 Proxy (Deprecated and to be decommissioned in v3.6)", dflt, help),
        deprecated: true,
      },
    ]),
  ),
  "experimental-initial-corrupt-check": refused(
    "bool",
    "Experimental feature",
    "false",
    "Enable to check data corruption before serving any client/peer traffic.",
    "members do not compare hashes with their peers at start-up",
  ),
  "experimental-corrupt-check-time": refused(
    "duration",
    "Experimental feature",
    "0s",
    "Duration of time between cluster corruption check passes.",
    "members do not compare hashes with their peers periodically",
  ),
  "experimental-compact-hash-check-enabled": refused(
    "bool",
    "Experimental feature",
    "false",
    "Enable leader to periodically check followers compaction hashes.",
    "the leader does not compare compaction hashes with followers",
  ),
  "experimental-compact-hash-check-time": dependent(
    "duration",
    "Experimental feature",
    "1m",
    "Duration of time between leader checks followers compaction hashes.",
  ),
  "experimental-enable-v2v3": {
    ...refused(
      "string",
      "Experimental feature",
      "",
      "Serve v2 requests through the v3 backend under a given prefix. Deprecated and to be decommissioned in v3.6.",
      V2,
    ),
    deprecated: true,
  },
  "experimental-enable-lease-checkpoint": inert(
    "bool",
    "Experimental feature",
    "false",
    "ExperimentalEnableLeaseCheckpoint enables primary lessor to persist lease remainingTTL to prevent indefinite auto-renewal of long lived leases.",
    "the leader always checkpoints remaining lease TTLs, as etcd 3.6 does",
  ),
  "experimental-enable-lease-checkpoint-persist": inert(
    "bool",
    "Experimental feature",
    "false",
    "Enable persisting remainingTTL to prevent indefinite auto-renewal of long lived leases. Always enabled in v3.6. Should be used to ensure smooth upgrade from v3.5 clusters with this feature enabled. Requires experimental-enable-lease-checkpoint to be enabled.",
    "checkpointed lease TTLs are always persisted, as etcd 3.6 does",
  ),
  "experimental-compaction-batch-limit": refused(
    "int",
    "Experimental feature",
    "1000",
    "ExperimentalCompactionBatchLimit sets the maximum revisions deleted in each compaction batch.",
    "compaction is not done in batches of revisions",
  ),
  "experimental-compaction-sleep-interval": refused(
    "duration",
    "Experimental feature",
    "10ms",
    "ExperimentalCompactionSleepInterval sets the sleep interval between each compaction batch.",
    "compaction is not done in batches of revisions",
  ),
  "experimental-watch-progress-notify-interval": refused(
    "duration",
    "Experimental feature",
    "10m",
    "Duration of periodical watch progress notification.",
    "the progress notification interval is fixed at 10 minutes",
  ),
  "experimental-downgrade-check-time": refused(
    "duration",
    "Experimental feature",
    "5s",
    "Duration of time between two downgrade status checks.",
    "cluster downgrades are not supported",
  ),
  "experimental-memory-mlock": refused(
    "bool",
    "Experimental feature",
    "false",
    "Enable to enforce etcd pages (in particular bbolt) to stay in RAM.",
    "pages are not locked in memory",
  ),
  "experimental-txn-mode-write-with-shared-buffer": inert(
    "bool",
    "Experimental feature",
    "true",
    "Enable the write transaction to use a shared buffer in its readonly check operations.",
    "a bbolt buffer optimization of etcd's; Concord's transactions read their own writes",
  ),
  "experimental-bootstrap-defrag-threshold-megabytes": refused(
    "uint",
    "Experimental feature",
    "0",
    "Enable the defrag during etcd server bootstrap on condition that it will free at least the provided threshold of disk space. Needs to be set to non-zero value to take effect.",
    "the page file is not defragmented at start-up; run etcdctl defrag",
  ),
  "experimental-stop-grpc-service-on-defrag": refused(
    "bool",
    "Experimental feature",
    "false",
    "Enable etcd gRPC service to stop serving client requests on defragmentation.",
    "the gRPC health service does not report defragmentation",
  ),
};

/**
 * Flags of etcd 2 that etcd 3.5 still accepts and ignores (its `ignored` list); they take no
 * value, as there.
 */
export const IGNORED_FLAGS = [
  "cluster-active-size",
  "cluster-remove-delay",
  "cluster-sync-interval",
  "config",
  "force",
  "max-result-buffer",
  "max-retry-attempts",
  "peer-heartbeat-interval",
  "peer-election-timeout",
  "retry-interval",
  "snapshot",
  "v",
  "vv",
];
