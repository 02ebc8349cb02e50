/**
 * A member's configuration: etcd's server settings with etcd's defaults, so that a Concord
 * member drops into a deployment written for etcd. The CLI fills it from flags and `ETCD_*`
 * environment variables; embedders build it directly.
 */

import type { LogThreshold } from "../base/log.ts";

/** How the automatic compactor reads its retention (etcd's --auto-compaction-mode). */
export type AutoCompactionMode = "periodic" | "revision";

/** How auth tokens are issued (etcd's --auth-token): random simple tokens or signed JWTs. */
export type AuthTokenConfig =
  | { kind: "simple" }
  | {
    kind: "jwt";
    signMethod: string;
    /** Path of the private key (RS/ES/PS) or the HMAC secret file (HS). */
    privKey?: string;
    pubKey?: string;
    /** Token lifetime in seconds. */
    ttlSeconds: number;
  };

/** Everything a member needs to start. Durations are in milliseconds, sizes in bytes. */
export interface ServerConfig {
  name: string;
  dataDir: string;
  /** A separate WAL directory; empty means `<data-dir>/member/wal`. */
  walDir: string;
  listenClientUrls: URL[];
  advertiseClientUrls: URL[];
  listenPeerUrls: URL[];
  initialAdvertisePeerUrls: URL[];
  /** name -> peer urls of the initial members. */
  initialCluster: Map<string, URL[]>;
  initialClusterState: "new" | "existing";
  initialClusterToken: string;
  /**
   * etcd's --strict-reconfig-check: refuse a membership change that would leave the cluster
   * without a quorum of started (and, for adds and removes, connected) voting members.
   */
  strictReconfigCheck: boolean;
  /**
   * etcd's --force-new-cluster: restart this member as a cluster of one that keeps its data
   * (force_new_cluster.ts); only for a member with a data dir.
   */
  forceNewCluster: boolean;
  /** etcd 3.5's --max-learners: at most this many learners at once (3.4 fixes it at 1). */
  maxLearners: number;
  snapshotCount: number;
  maxSnapshots: number;
  maxWals: number;
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
  quotaBackendBytes: number;
  backendBatchIntervalMs: number;
  backendBatchLimit: number;
  maxRequestBytes: number;
  maxTxnOps: number;
  autoCompactionMode: AutoCompactionMode;
  /** periodic: milliseconds of history kept; revision: revisions kept; 0 disables. */
  autoCompactionRetention: number;
  authToken: AuthTokenConfig;
  authTokenTtlSeconds: number;
  tls: {
    certFile: string;
    keyFile: string;
    trustedCaFile: string;
    clientCertAuth: boolean;
  };
  /** Peer TLS (etcd's --peer-cert-file, --peer-key-file, --peer-trusted-ca-file, …). */
  peerTls: {
    certFile: string;
    keyFile: string;
    trustedCaFile: string;
    clientCertAuth: boolean;
  };
  /** Origins allowed by CORS ("*" for any). */
  corsOrigins: string[];
  /** etcd's --log-level: lines below it are not written. */
  logLevel: LogThreshold;
  /**
   * etcd's --experimental-warning-apply-duration: an apply taking longer is logged as "apply
   * request took too long" (default 100 ms).
   */
  warningApplyDurationMs?: number;
  /**
   * etcd's --experimental-compaction-batch-limit: revisions a compaction deletes per backend
   * commit (default 1,000). No flag sets it yet; the simulation lowers it so that compactions
   * commit in several batches.
   */
  compactionBatchLimit?: number;
  /** etcd's --enable-grpc-gateway (default true): the JSON gateway under /v3/. */
  enableGrpcGateway?: boolean;
  /** etcd's --max-concurrent-streams per client connection (default: the HTTP server's). */
  maxConcurrentStreams?: number;
  /** etcd's --listen-metrics-urls: more listeners serving only /metrics and /health. */
  listenMetricsUrls?: URL[];
  /** etcd's --metrics: "extensive" adds per-method gRPC latency histograms (default basic). */
  metrics?: "basic" | "extensive";
}

/** etcd's default quota when --quota-backend-bytes is 0: 2 GiB. */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;
/** etcd's --max-request-bytes default: 1.5 MiB. */
export const DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
/** etcd's --max-txn-ops default. */
export const DEFAULT_MAX_TXN_OPS = 128;
/** etcd 3.6's --snapshot-count default. */
export const DEFAULT_SNAPSHOT_COUNT = 10_000;

/** Thrown for a configuration etcd would refuse; the message names the flag. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The configuration a bare `concord serve` uses: etcd's defaults, data in `<name>.concord`. */
export function defaultConfig(name = "default"): ServerConfig {
  const peer = new URL("http://localhost:2380");
  return {
    name,
    dataDir: `${name}.concord`,
    walDir: "",
    listenClientUrls: [new URL("http://localhost:2379")],
    advertiseClientUrls: [new URL("http://localhost:2379")],
    listenPeerUrls: [peer],
    initialAdvertisePeerUrls: [peer],
    initialCluster: new Map([[name, [peer]]]),
    initialClusterState: "new",
    initialClusterToken: "etcd-cluster",
    strictReconfigCheck: true,
    forceNewCluster: false,
    maxLearners: 1,
    snapshotCount: DEFAULT_SNAPSHOT_COUNT,
    maxSnapshots: 5,
    maxWals: 5,
    heartbeatIntervalMs: 100,
    electionTimeoutMs: 1000,
    quotaBackendBytes: DEFAULT_QUOTA_BYTES,
    backendBatchIntervalMs: 100,
    backendBatchLimit: 10_000,
    maxRequestBytes: DEFAULT_MAX_REQUEST_BYTES,
    maxTxnOps: DEFAULT_MAX_TXN_OPS,
    autoCompactionMode: "periodic",
    autoCompactionRetention: 0,
    authToken: { kind: "simple" },
    authTokenTtlSeconds: 300,
    tls: { certFile: "", keyFile: "", trustedCaFile: "", clientCertAuth: false },
    peerTls: { certFile: "", keyFile: "", trustedCaFile: "", clientCertAuth: false },
    corsOrigins: ["*"],
    logLevel: "info",
    warningApplyDurationMs: 100,
  };
}

/** Checks the rules etcd checks at start-up, throwing a ConfigError naming the flag. */
export function validateConfig(cfg: ServerConfig): void {
  if (cfg.name === "") throw new ConfigError("--name must not be empty");
  if (cfg.heartbeatIntervalMs <= 0) throw new ConfigError("--heartbeat-interval must be > 0");
  if (cfg.electionTimeoutMs < 5 * cfg.heartbeatIntervalMs) {
    throw new ConfigError(
      `--election-timeout[${cfg.electionTimeoutMs}ms] should be at least as 5 times as --heartbeat-interval[${cfg.heartbeatIntervalMs}ms]`,
    );
  }
  if (cfg.electionTimeoutMs > 50_000) {
    throw new ConfigError(
      `--election-timeout[${cfg.electionTimeoutMs}ms] is too long, and should be set less than 50000ms`,
    );
  }
  if (cfg.listenClientUrls.length === 0) throw new ConfigError("--listen-client-urls is empty");
  for (const u of [...cfg.listenClientUrls, ...cfg.advertiseClientUrls]) {
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      throw new ConfigError(`client url ${u.href} must use http or https`);
    }
  }
  const tlsWanted = cfg.listenClientUrls.some((u) => u.protocol === "https:");
  if (tlsWanted && (cfg.tls.certFile === "" || cfg.tls.keyFile === "")) {
    throw new ConfigError("https client urls need --cert-file and --key-file");
  }
  // etcd would fall back to the system's roots; Concord asks for the CA to trust. Only where
  // it matters: on http URLs etcd ignores --client-cert-auth (with a warning), and so do we.
  if (tlsWanted && cfg.tls.clientCertAuth && cfg.tls.trustedCaFile === "") {
    throw new ConfigError("--client-cert-auth needs --trusted-ca-file");
  }
  const peerTlsWanted = cfg.listenPeerUrls.some((u) => u.protocol === "https:");
  for (const u of cfg.listenPeerUrls) {
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      throw new ConfigError(`peer url ${u.href} must use http or https`);
    }
  }
  if (peerTlsWanted && (cfg.peerTls.certFile === "" || cfg.peerTls.keyFile === "")) {
    throw new ConfigError("https peer urls need --peer-cert-file and --peer-key-file");
  }
  if (peerTlsWanted && cfg.peerTls.clientCertAuth && cfg.peerTls.trustedCaFile === "") {
    throw new ConfigError("--peer-client-cert-auth needs --peer-trusted-ca-file");
  }
  if (!cfg.initialCluster.has(cfg.name)) {
    throw new ConfigError(
      `couldn't find local name "${cfg.name}" in the initial cluster configuration`,
    );
  }
  if (cfg.maxRequestBytes <= 0) throw new ConfigError("--max-request-bytes must be > 0");
  if (cfg.maxTxnOps <= 0) throw new ConfigError("--max-txn-ops must be > 0");
  if (cfg.snapshotCount <= 0) throw new ConfigError("--snapshot-count must be > 0");
  if (cfg.quotaBackendBytes < 0) throw new ConfigError("--quota-backend-bytes must be >= 0");
}
