/**
 * `concord serve`: parse etcd's flags (ETCD_* variables, or etcd's YAML --config-file), open
 * the log outputs, start the member, serve it on every --listen-client-urls, and stop in order
 * on SIGINT/SIGTERM: stop accepting, close the HTTP servers, stop raft, commit and close the
 * backend, close the WAL. Everything after the flags is logged as etcd's zap logger logs it
 * (JSON lines; see lib/base/log.ts).
 */
import { capMallocArenas } from "./malloc_arenas.ts";
import { releaseStartupPages } from "./startup_pages.ts";
import { ConfigError, type ServerConfig } from "../server/config.ts";
import { parseServeFlags, serveHelp } from "./serve_flags.ts";
import { goArch, serveVersion } from "./serve_help.ts";
import { startServer } from "../api/member_server.ts";
import { clientTlsWarnings } from "../api/client_tls.ts";
import { DataDirLockedError } from "../server/member.ts";
import { formatId } from "../server/member_id.ts";
import { MemberRemovedError } from "../server/member_calls.ts";
import { openLogOutputs } from "./log_outputs.ts";
import { noSyncDisk } from "../io/no_sync_disk.ts";
import { RealDisk } from "../io/real_disk.ts";
import { ETCD_COMPAT_VERSION, VERSION } from "../base/version.ts";
import { formatGoDuration } from "./serve_flag_values.ts";
import type { Logger } from "../base/log.ts";
import type { FaultPoints } from "../base/fault_points.ts";
import { FailpointSpecError } from "../base/failpoint_terms.ts";
import { FAILPOINTS_ENV, failpointsFromEnv } from "./serve_failpoints.ts";
import {
  FAILPOINTS_HTTP_ENV,
  type FailpointsHttpServer,
  serveFailpointsHttp,
} from "./serve_failpoints_http.ts";

const hrefs = (urls: URL[]) => urls.map((u) => u.href.replace(/\/$/, ""));

/** etcd's "starting an etcd server" line: the configuration the member runs with. */
function logStartup(log: Logger, cfg: ServerConfig, logOutputs: string[]): void {
  log.info("starting an etcd server", {
    "etcd-version": ETCD_COMPAT_VERSION,
    "concord-version": VERSION,
    "deno-version": Deno.version.deno,
    "go-os": Deno.build.os,
    "go-arch": goArch(Deno.build.arch),
    "name": cfg.name,
    "data-dir": cfg.dataDir,
    "wal-dir": cfg.walDir,
    "heartbeat-interval": formatGoDuration(cfg.heartbeatIntervalMs),
    "election-timeout": formatGoDuration(cfg.electionTimeoutMs),
    "snapshot-count": cfg.snapshotCount,
    "max-wals": cfg.maxWals,
    "max-snapshots": cfg.maxSnapshots,
    "initial-advertise-peer-urls": hrefs(cfg.initialAdvertisePeerUrls),
    "listen-peer-urls": hrefs(cfg.listenPeerUrls),
    "advertise-client-urls": hrefs(cfg.advertiseClientUrls),
    "listen-client-urls": hrefs(cfg.listenClientUrls),
    "cors": cfg.corsOrigins,
    "initial-cluster": [...cfg.initialCluster].map(([n, us]) =>
      hrefs(us).map((u) => `${n}=${u}`).join(",")
    ).join(","),
    "initial-cluster-state": cfg.initialClusterState,
    "initial-cluster-token": cfg.initialClusterToken,
    "quota-backend-bytes": cfg.quotaBackendBytes,
    "max-request-bytes": cfg.maxRequestBytes,
    "max-txn-ops": cfg.maxTxnOps,
    "max-learners": cfg.maxLearners,
    "pre-vote": true,
    "auto-compaction-mode": cfg.autoCompactionMode,
    "auto-compaction-retention": cfg.autoCompactionMode === "periodic"
      ? formatGoDuration(cfg.autoCompactionRetention)
      : String(cfg.autoCompactionRetention),
    "auth-token": cfg.authToken.kind,
    "log-level": cfg.logLevel,
    "log-outputs": logOutputs,
  });
}

/** Runs `concord serve …` until a signal; returns the exit code. */
export async function runServe(
  args: string[],
  env: Readonly<Record<string, string>> = Deno.env.toObject(),
): Promise<number> {
  let parsed;
  try {
    parsed = parseServeFlags(args, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`concord serve: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (parsed.help) {
    console.log(serveHelp());
    return 0;
  }
  if (parsed.version) {
    console.log(serveVersion());
    return 0;
  }
  const cfg = parsed.config;
  // the fault points' log goes through the logger opened below
  let failLog: Logger | undefined;
  let failpoints;
  try {
    failpoints = failpointsFromEnv(env, {
      fired: (f) =>
        failLog?.warn("failpoint fired", {
          point: f.point,
          action: f.term.action,
          ...(f.term.action === "sleep" ? { "sleep-ms": f.term.ms } : {}),
        }),
    });
  } catch (err) {
    if (err instanceof FailpointSpecError) {
      console.error(`concord serve: ${err.message}`);
      return 1;
    }
    throw err;
  }
  let outputs;
  try {
    outputs = openLogOutputs(parsed.settings.logOutputs, cfg.logLevel);
  } catch (err) {
    console.error(`concord serve: ${(err as Error).message}`);
    return 2;
  }
  let failHttp: FailpointsHttpServer | undefined;
  try {
    const log = outputs.logger.named("cli/serve");
    failLog = outputs.logger.named("failpoint");
    if (failpoints !== undefined && failpoints.armed !== "") {
      log.warn("fault points armed (a test's, never production's)", {
        [FAILPOINTS_ENV]: failpoints.armed,
      });
    }
    if (failpoints?.http !== undefined) {
      try {
        failHttp = serveFailpointsHttp(
          failpoints.http,
          failpoints.faults,
          (c) =>
            failLog?.warn(c.terms === null ? "failpoint disarmed" : "failpoint armed", {
              point: c.point,
              ...(c.terms === null ? {} : { terms: c.terms }),
            }),
        );
      } catch (err) {
        log.error("cannot listen for failpoints over HTTP", {
          [FAILPOINTS_HTTP_ENV]: env[FAILPOINTS_HTTP_ENV],
          error: err instanceof Error ? err.message : String(err),
        });
        return 1;
      }
      log.warn("failpoint HTTP endpoint listening (a test's, never production's)", {
        address: `${failHttp.addr.hostname}:${failHttp.addr.port}`,
      });
    }
    const arenas = capMallocArenas(env);
    log.info(arenas.capped ? "capped malloc arenas" : "malloc arenas not capped", {
      detail: arenas.detail,
    });
    return await serveWith(parsed, log, outputs.logger, failpoints?.faults);
  } finally {
    await failHttp?.shutdown();
    outputs.close();
  }
}

async function serveWith(
  parsed: ReturnType<typeof parseServeFlags>,
  log: Logger,
  root: Logger,
  faults: FaultPoints | undefined,
): Promise<number> {
  const cfg = parsed.config;
  for (const n of parsed.notices) log[n.level](n.msg, n.fields);
  for (const w of clientTlsWarnings(cfg)) log.warn(w);
  logStartup(log, cfg, parsed.settings.logOutputs);
  let server;
  try {
    if (parsed.settings.unsafeNoFsync) {
      log.warn("fsync is disabled (--unsafe-no-fsync): a power loss can lose acknowledged writes");
    }
    server = await startServer(cfg, {
      log: root,
      disk: parsed.settings.unsafeNoFsync ? noSyncDisk(new RealDisk()) : undefined,
      snapshotCatchUpEntries: parsed.settings.snapshotCatchUpEntries,
      faults,
    });
  } catch (err) {
    if (err instanceof DataDirLockedError || err instanceof ConfigError) {
      log.error("cannot start member", { "data-dir": cfg.dataDir, error: err.message });
      return 1;
    }
    if (err instanceof Deno.errors.AddrInUse) {
      log.error("cannot listen", { error: err.message });
      return 1;
    }
    // a damaged WAL or page file, a full disk, …: say what and where, without a stack
    log.error("cannot start member", {
      "data-dir": cfg.dataDir,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      cause: err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined,
    });
    return 1;
  }
  const { promise: stopped, resolve: stop } = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const handlers = signals.map((sig) => {
    const h = () => stop(sig);
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  const member = server.member;
  const id = formatId(member.id);
  const peers = member.membership.list().length;
  log.info("now serving peer/client/metrics", {
    "local-member-id": id,
    "initial-advertise-peer-urls": hrefs(cfg.initialAdvertisePeerUrls),
    "listen-peer-urls": server.peerUrls,
    "advertise-client-urls": hrefs(cfg.advertiseClientUrls),
    "listen-client-urls": server.clientUrls,
  });
  if (peers > 1) {
    log.info("waiting for a quorum of the cluster's members", {
      "local-member-id": id,
      "members": peers,
    });
  }
  // etcd's ReadyNotify: ready once a leader committed this member's published attributes
  // a member removed from the cluster stops and exits, as etcd does
  member.removed.then(() => stop("removal"));
  // a member that failed (a WAL or backend commit that could not be made durable: a full
  // disk) stops and exits non-zero, as etcd exits on a failed bbolt commit
  let fatal: unknown = null;
  member.failed.then((err) => {
    if (err instanceof MemberRemovedError) return; // `removed` says it
    fatal = err;
    stop("failure");
  });
  const first = await Promise.race([member.published.then(() => ""), stopped]);
  if (first === "") {
    log.info("ready to serve client requests", {
      "local-member-id": id,
      "name": cfg.name,
      "data-dir": cfg.dataDir,
      "client-urls": server.clientUrls,
    });
    for (const u of server.clientUrls) {
      if (u.startsWith("http:")) {
        log.info("serving client traffic insecurely; this is strongly discouraged!", {
          address: u.slice("http://".length),
        });
      }
    }
    // the start is over: the executable's pages it alone used need not stay resident
    const pages = releaseStartupPages();
    log.info(pages.released ? "released start-up pages" : "start-up pages kept", {
      detail: pages.detail,
    });
  }
  const sig = await stopped;
  for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  if (sig === "failure") {
    log.error("the member stopped after a fatal error; shutting down", {
      "local-member-id": id,
      error: fatal instanceof Error ? `${fatal.name}: ${fatal.message}` : String(fatal),
      cause: fatal instanceof Error && fatal.cause instanceof Error
        ? fatal.cause.message
        : undefined,
    });
  } else if (sig === "removal") {
    log.warn("the member has been permanently removed from the cluster; shutting down", {
      "local-member-id": id,
    });
  } else {
    log.info("received signal; shutting down", { signal: sig, "local-member-id": id });
  }
  const closeInfo = {
    name: cfg.name,
    "data-dir": cfg.dataDir,
    "advertise-peer-urls": hrefs(cfg.initialAdvertisePeerUrls),
    "advertise-client-urls": hrefs(cfg.advertiseClientUrls),
  };
  log.info("closing etcd server", closeInfo);
  const started = performance.now();
  await server.close();
  log.info("closed etcd server", {
    ...closeInfo,
    took: formatGoDuration(performance.now() - started),
  });
  return sig === "failure" ? 1 : 0;
}
