/**
 * The flags of etcd 3.5 that Concord gives their meaning, with etcd's names, defaults and help
 * text (etcd's server/etcdmain/help.go); where Concord's default differs, --help shows
 * Concord's. The flags Concord accepts only when they ask for nothing it lacks are in
 * serve_flags_unsupported.ts.
 */
import { ConfigError, DEFAULT_QUOTA_BYTES } from "../server/config.ts";
import { parseCorsOrigins } from "../api/cors.ts";
import { isLogThreshold } from "../base/log.ts";
import type { FlagDef, ServeSettings } from "./serve_flag_types.ts";
import {
  parseAuthToken,
  parseBool,
  parseDurationFlag,
  parseInitialCluster,
  parseInt64,
  parseStrings,
  parseUint,
  parseUrls,
} from "./serve_flag_values.ts";

type Apply = (s: ServeSettings, value: string, flag: string) => void;

function def(
  kind: FlagDef["kind"],
  group: FlagDef["group"],
  dflt: string,
  help: string,
  apply: Apply,
): FlagDef {
  return { kind, group, default: dflt, help, apply };
}

/** etcd's largest uint32, the default of --max-concurrent-streams. */
const MAX_UINT32 = 4294967295;

/** The flags Concord implements, in etcd's help order. */
export const IMPLEMENTED_FLAGS: Record<string, FlagDef> = {
  "name": def(
    "string",
    "Member",
    "default",
    "Human-readable name for this member.",
    (s, v) => (s.config.name = v),
  ),
  "data-dir": def(
    "string",
    "Member",
    "${name}.concord",
    "Path to the data directory.",
    (s, v) => (s.config.dataDir = v),
  ),
  "wal-dir": def(
    "string",
    "Member",
    "",
    "Path to the dedicated wal directory.",
    (s, v) => (s.config.walDir = v),
  ),
  "snapshot-count": def(
    "uint",
    "Member",
    "10000",
    "Number of committed transactions to trigger a snapshot to disk.",
    (s, v, f) => (s.config.snapshotCount = parseUint(f, v)),
  ),
  "heartbeat-interval": def(
    "uint",
    "Member",
    "100",
    "Time (in milliseconds) of a heartbeat interval.",
    (s, v, f) => (s.config.heartbeatIntervalMs = parseUint(f, v)),
  ),
  "election-timeout": def(
    "uint",
    "Member",
    "1000",
    "Time (in milliseconds) for an election to timeout. See tuning documentation for details.",
    (s, v, f) => (s.config.electionTimeoutMs = parseUint(f, v)),
  ),
  "listen-peer-urls": def(
    "urls",
    "Member",
    "http://localhost:2380",
    "List of URLs to listen on for peer traffic.",
    (s, v, f) => (s.config.listenPeerUrls = parseUrls(f, v)),
  ),
  "listen-client-urls": def(
    "urls",
    "Member",
    "http://localhost:2379",
    "List of URLs to listen on for client grpc traffic and http as long as --listen-client-http-urls is not specified.",
    (s, v, f) => (s.config.listenClientUrls = parseUrls(f, v)),
  ),
  "max-snapshots": def(
    "uint",
    "Member",
    "5",
    "Maximum number of snapshot files to retain (0 is unlimited).",
    (s, v, f) => (s.config.maxSnapshots = parseUint(f, v)),
  ),
  "max-wals": def(
    "uint",
    "Member",
    "5",
    "Maximum number of wal files to retain (0 is unlimited).",
    (s, v, f) => (s.config.maxWals = parseUint(f, v)),
  ),
  "quota-backend-bytes": def(
    "int",
    "Member",
    "0",
    "Sets the maximum size (in bytes) that the etcd backend database may consume. Exceeding this triggers an alarm and puts etcd in read-only mode. Set to 0 to use the default 2GiB limit.",
    (s, v, f) => {
      const n = parseInt64(f, v);
      // etcd: 0 is the default quota; a negative quota disables the check (2^63-1 here)
      s.config.quotaBackendBytes = n === 0
        ? DEFAULT_QUOTA_BYTES
        : n < 0
        ? Number.MAX_SAFE_INTEGER
        : n;
    },
  ),
  "backend-batch-interval": def(
    "duration",
    "Member",
    "100ms",
    "BackendBatchInterval is the maximum time before commit the backend transaction (0 is the default).",
    (s, v, f) => (s.config.backendBatchIntervalMs = parseDurationFlag(f, v) || 100),
  ),
  "backend-batch-limit": def(
    "int",
    "Member",
    "10000",
    "BackendBatchLimit is the maximum operations before commit the backend transaction (0 is the default).",
    (s, v, f) => (s.config.backendBatchLimit = parseInt64(f, v) > 0 ? parseInt64(f, v) : 10_000),
  ),
  "max-txn-ops": def(
    "uint",
    "Member",
    "128",
    "Maximum number of operations permitted in a transaction.",
    (s, v, f) => (s.config.maxTxnOps = parseUint(f, v)),
  ),
  "max-request-bytes": def(
    "uint",
    "Member",
    "1572864",
    "Maximum client request size in bytes the server will accept.",
    (s, v, f) => (s.config.maxRequestBytes = parseUint(f, v)),
  ),
  "max-concurrent-streams": def(
    "uint",
    "Member",
    "math.MaxUint32",
    "Maximum concurrent streams that each client can open at a time (Concord: when not given, 1000 per HTTP/2 connection).",
    (s, v, f) => {
      const n = v === "math.MaxUint32" ? MAX_UINT32 : parseUint(f, v);
      if (n > MAX_UINT32) throw new ConfigError(`value "${v}" for flag --${f} is out of range`);
      s.config.maxConcurrentStreams = n;
    },
  ),
  "enable-grpc-gateway": def(
    "bool",
    "Member",
    "true",
    "Enable GRPC gateway.",
    (s, v, f) => (s.config.enableGrpcGateway = parseBool(f, v)),
  ),
  "initial-advertise-peer-urls": def(
    "urls",
    "Clustering",
    "http://localhost:2380",
    "List of this member's peer URLs to advertise to the rest of the cluster.",
    (s, v, f) => (s.config.initialAdvertisePeerUrls = parseUrls(f, v)),
  ),
  "initial-cluster": def(
    "string",
    "Clustering",
    "default=http://localhost:2380",
    "Initial cluster configuration for bootstrapping.",
    (s, v) => (s.config.initialCluster = parseInitialCluster(v)),
  ),
  "initial-cluster-state": def(
    "string",
    "Clustering",
    "new",
    "Initial cluster state ('new' when bootstrapping a new cluster or 'existing' when adding new members to an existing cluster).\nAfter successful initialization (bootstrapping or adding), flag is ignored on restarts.",
    (s, v, f) => {
      if (v !== "new" && v !== "existing") {
        throw new ConfigError(
          `invalid value "${v}" for flag --${f}: valid values are "new", "existing"`,
        );
      }
      s.config.initialClusterState = v;
    },
  ),
  "initial-cluster-token": def(
    "string",
    "Clustering",
    "etcd-cluster",
    "Initial cluster token for the etcd cluster during bootstrap.\nSpecifying this can protect you from unintended cross-cluster interaction when running multiple clusters.",
    (s, v) => (s.config.initialClusterToken = v),
  ),
  "advertise-client-urls": def(
    "urls",
    "Clustering",
    "http://localhost:2379",
    "List of this member's client URLs to advertise to the public.\nThe client URLs advertised should be accessible to machines that talk to etcd cluster. etcd client libraries parse these URLs to connect to the cluster.",
    (s, v, f) => (s.config.advertiseClientUrls = parseUrls(f, v)),
  ),
  "force-new-cluster": def(
    "bool",
    "Unsafe feature",
    "false",
    "Force to create a new one-member cluster.",
    (s, v, f) => (s.config.forceNewCluster = parseBool(f, v)),
  ),
  "strict-reconfig-check": def(
    "bool",
    "Clustering",
    "true",
    "Reject reconfiguration requests that would cause quorum loss.",
    (s, v, f) => (s.config.strictReconfigCheck = parseBool(f, v)),
  ),
  "max-learners": def(
    "uint",
    "Clustering",
    "1",
    "Sets the maximum number of learners that can be available in the cluster membership.",
    (s, v, f) => (s.config.maxLearners = parseUint(f, v)),
  ),
  // Read after every other flag, because its meaning depends on the mode (see serve_flags.ts).
  "auto-compaction-retention": def(
    "string",
    "Clustering",
    "0",
    "Auto compaction retention length. 0 means disable auto compaction.",
    () => {},
  ),
  "auto-compaction-mode": def(
    "string",
    "Clustering",
    "periodic",
    "Interpret 'auto-compaction-retention' one of: periodic|revision. 'periodic' for duration based retention, defaulting to hours if no time unit is provided (e.g. '5m'). 'revision' for revision number based retention.",
    (s, v, f) => {
      if (v !== "periodic" && v !== "revision") {
        throw new ConfigError(`unknown auto-compaction-mode "${v}" for flag --${f}`);
      }
      s.config.autoCompactionMode = v;
    },
  ),
  "cert-file": def(
    "string",
    "Security",
    "",
    "Path to the client server TLS cert file.",
    (s, v) => (s.config.tls.certFile = v),
  ),
  "key-file": def(
    "string",
    "Security",
    "",
    "Path to the client server TLS key file.",
    (s, v) => (s.config.tls.keyFile = v),
  ),
  "client-cert-auth": def(
    "bool",
    "Security",
    "false",
    "Enable client cert authentication.",
    (s, v, f) => (s.config.tls.clientCertAuth = parseBool(f, v)),
  ),
  "trusted-ca-file": def(
    "string",
    "Security",
    "",
    "Path to the client server TLS trusted CA cert file.",
    (s, v) => (s.config.tls.trustedCaFile = v),
  ),
  "peer-cert-file": def(
    "string",
    "Security",
    "",
    "Path to the peer server TLS cert file.",
    (s, v) => (s.config.peerTls.certFile = v),
  ),
  "peer-key-file": def(
    "string",
    "Security",
    "",
    "Path to the peer server TLS key file.",
    (s, v) => (s.config.peerTls.keyFile = v),
  ),
  "peer-client-cert-auth": def(
    "bool",
    "Security",
    "false",
    "Enable peer client cert authentication.",
    (s, v, f) => (s.config.peerTls.clientCertAuth = parseBool(f, v)),
  ),
  "peer-trusted-ca-file": def(
    "string",
    "Security",
    "",
    "Path to the peer server TLS trusted CA file.",
    (s, v) => (s.config.peerTls.trustedCaFile = v),
  ),
  "cors": def(
    "string",
    "Security",
    "*",
    "Comma-separated whitelist of origins for CORS, or cross-origin resource sharing, (empty or * means allow all).",
    (s, v, f) => {
      let origins: "*" | string[];
      try {
        origins = parseCorsOrigins(v);
      } catch (err) {
        throw new ConfigError(`invalid value "${v}" for flag --${f}: ${(err as Error).message}`);
      }
      s.config.corsOrigins = origins === "*" ? ["*"] : origins;
    },
  ),
  "auth-token": def(
    "string",
    "Auth",
    "simple",
    "Specify a v3 authentication token type and its options ('simple' or 'jwt').",
    (s, v) => (s.config.authToken = parseAuthToken(v)),
  ),
  "auth-token-ttl": def(
    "uint",
    "Auth",
    "300",
    "Time (in seconds) of the auth-token-ttl.",
    (s, v, f) => (s.config.authTokenTtlSeconds = parseUint(f, v)),
  ),
  "logger": def(
    "string",
    "Logging",
    "zap",
    "Currently only supports 'zap' for structured logging.",
    (s, v) => {
      if (v === "capnslog") throw new ConfigError("--logger=capnslog is removed in v3.5");
      if (v !== "zap") throw new ConfigError(`unknown logger option "${v}"`);
      s.logger = v;
    },
  ),
  "log-outputs": def(
    "strings",
    "Logging",
    "default",
    "Specify 'stdout' or 'stderr' to skip journald logging even when running under systemd, or list of comma separated output targets.",
    (s, v) => {
      const outs = [...new Set(parseStrings(v))];
      s.logOutputs = outs.length === 0 ? ["default"] : outs;
    },
  ),
  "log-level": def(
    "string",
    "Logging",
    "info",
    "Configures log level. Only supports debug, info, warn, error, panic, or fatal.",
    (s, v) => {
      if (!isLogThreshold(v)) {
        throw new ConfigError(`unknown log level "${v}" for flag --log-level`);
      }
      s.config.logLevel = v;
    },
  ),
  "experimental-warning-apply-duration": def(
    "duration",
    "Experimental feature",
    "100ms",
    "Warning is generated if requests take more than this duration.",
    (s, v, f) => (s.config.warningApplyDurationMs = parseDurationFlag(f, v)),
  ),
  "unsafe-no-fsync": def(
    "bool",
    "Unsafe feature",
    "false",
    "Disables fsync, unsafe, will cause data loss.",
    (s, v, f) => (s.unsafeNoFsync = parseBool(f, v)),
  ),
  "experimental-snapshot-catchup-entries": {
    ...def(
      "uint",
      "Experimental feature",
      "5000",
      "Number of entries for a slow follower to catch up after compacting the raft storage entries.",
      (s, v, f) => (s.snapshotCatchUpEntries = parseUint(f, v)),
    ),
    hidden: true,
  },
};
