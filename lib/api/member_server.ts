/**
 * A member behind the API: the services over the member, one HTTP server per client URL,
 * /health with etcd's semantics, and an orderly stop. This is what `concord serve` runs and
 * what tests embed.
 */
import { createApiHandler } from "./handler.ts";
import { EndpointMetrics, MetricsRegistry } from "./metrics.ts";
import { boundUrl, serveMetricsListeners } from "./metrics_listener.ts";
import { registerMemberSinks, registerServerMetrics } from "./member_metrics.ts";
import { registerProcessMetrics } from "./process_metrics.ts";
import { registerPeerObservers } from "./peer_metrics.ts";
import type { HealthQuery, HealthStatus } from "./handler.ts";
import type { ProbeCheck, Probes } from "./probes.ts";
import { Errors } from "../base/errors.ts";
import {
  type HttpLimits,
  type HttpServer,
  type HttpTlsOptions,
  serveHttp,
} from "../http/server.ts";
import { ConfigError, type ServerConfig } from "../server/config.ts";
import { AlarmType } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Member, type MemberOptions } from "../server/member.ts";
import { EtcdServer } from "../server/etcd_server.ts";
import { boundPeerUrls, startPeerTransport } from "../server/peer_transport.ts";
import { formatId } from "../server/member_id.ts";
import { kvService } from "./kv_service.ts";
import { leaseService } from "./lease_service.ts";
import { watchService } from "./watch_service.ts";
import { maintenanceService } from "./maintenance_service.ts";
import { clusterService } from "./cluster_service.ts";
import { learnerGate } from "./learner_gate.ts";
import { authService } from "./auth_service.ts";
import { lockService } from "./lock_service.ts";
import { electionService } from "./election_service.ts";
import { clientTls } from "./client_tls.ts";
import { GATEWAY_COMMON_NAME_REFUSAL, gatewayRefusesCommonName } from "./tls_auth.ts";

/**
 * How long a shutdown waits for in-flight calls before cutting connections. Unary calls finish
 * in milliseconds and watches and lock waits are ended at once; what remains are clients'
 * own streams (lease keep-alives), which etcd also cuts: it stops in about a second with such
 * streams open, and so do we.
 */
const SHUTDOWN_DRAIN_MS = 1000;

/** A running server: the member and its listeners. */
export interface ConcordServer {
  readonly member: Member;
  /** The bound client URLs (port 0 resolved), in --listen-client-urls order. */
  readonly clientUrls: string[];
  /** The bound peer URLs (empty for a cluster of one, which serves no peers). */
  readonly peerUrls: string[];
  /** The bound --listen-metrics-urls (port 0 resolved), in their order. */
  readonly metricsUrls: string[];
  /** Stops accepting, drains and closes the listeners, then stops the member. */
  close(): Promise<void>;
}

/** etcd's /health: healthy with a leader and no alarm; unless serializable, a read round. */
export async function memberHealth(m: Member, q: HealthQuery): Promise<HealthStatus> {
  if (m.failure !== null) return { healthy: false, reason: "member stopped" };
  if (m.leader === 0n) return { healthy: false, reason: "RAFT NO LEADER" };
  for (const alarm of m.alarms.get()) {
    const name = AlarmType[alarm.alarm];
    if (!q.exclude.includes(name)) return { healthy: false, reason: `ALARM ${name}` };
  }
  if (!q.serializable) {
    try {
      await m.linearizableRead();
    } catch (err) {
      return { healthy: false, reason: `QGET ERROR: ${err}` };
    }
  }
  return { healthy: true };
}

/**
 * etcd 3.6's probe checks over a member. /livez: a serializable read of the local store
 * (fails only when the member has stopped). /readyz: no CORRUPT alarm, the serializable read,
 * a linearizable read (failing at once without a leader rather than waiting out the request
 * timeout), and not a learner.
 */
export function memberProbes(m: Member): Probes {
  const serializable: ProbeCheck = {
    name: "serializable_read",
    run: () => {
      if (m.failure !== null) return Promise.reject(Errors.stopped());
      m.store.range({ key: "", end: undefined }, { limit: 1 });
      return Promise.resolve();
    },
  };
  return {
    livez: [serializable],
    readyz: [
      {
        name: "data_corruption",
        run: () =>
          m.alarms.get().some((a) => a.alarm === AlarmType.CORRUPT)
            ? Promise.reject(new Error("alarm activated: CORRUPT"))
            : Promise.resolve(),
      },
      serializable,
      {
        name: "linearizable_read",
        run: async () => {
          if (m.failure !== null) throw Errors.stopped();
          if (m.leader === 0n) throw Errors.noLeader();
          await m.linearizableRead();
        },
      },
      {
        name: "non_learner",
        run: () =>
          m.membership.get(m.id)?.isLearner === true
            ? Promise.reject(new Error("not supported for learner"))
            : Promise.resolve(),
      },
    ],
  };
}

/**
 * The TLS of https --listen-metrics-urls: the client URLs' files, as etcd's ("For https, the
 * client URL TLS info is used"); refused before anything starts when they are not given.
 */
async function metricsListenerTls(
  cfg: ServerConfig,
  urls: URL[],
): Promise<HttpTlsOptions | undefined> {
  if (!urls.some((u) => u.protocol === "https:")) return undefined;
  if (cfg.tls.certFile === "" || cfg.tls.keyFile === "") {
    const u = urls.find((u) => u.protocol === "https:")!;
    throw new ConfigError(
      `--listen-metrics-urls ${u.href}: https needs the client TLS files (--cert-file, --key-file)`,
    );
  }
  return await clientTls({ ...cfg, listenClientUrls: urls });
}

/** The member's options and the server's own. */
export interface StartOptions extends MemberOptions {
  /**
   * HTTP limits of the client listeners over the defaults (tests shorten the stall timeout
   * or the unsent bound to make a response the server gives up on happen quickly).
   */
  httpLimits?: Partial<HttpLimits>;
}

/** Starts the member and serves it on every --listen-client-urls. */
export async function startServer(
  cfg: ServerConfig,
  opts: StartOptions = {},
): Promise<ConcordServer> {
  for (const u of cfg.listenClientUrls) {
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      throw new ConfigError(`--listen-client-urls ${u.href}: must use http or https`);
    }
  }
  const tls = await clientTls(cfg);
  const metricsListen = cfg.listenMetricsUrls ?? [];
  const metricsTls = await metricsListenerTls(cfg, metricsListen);
  const metrics = new MetricsRegistry();
  const observers = registerPeerObservers(metrics);
  const { httpLimits, ...memberOpts } = opts;
  const member = await Member.start(cfg, {
    transport: (host) =>
      startPeerTransport(cfg, host, { clock: opts.clock, log: opts.log, ...observers }),
    ...memberOpts,
    metrics: opts.metrics ?? registerMemberSinks(metrics),
  });
  const server = new EtcdServer(member);
  registerServerMetrics(metrics, member);
  registerProcessMetrics(metrics);
  const endpointMetrics = new EndpointMetrics(metrics);
  const health = (q: HealthQuery) => memberHealth(member, q);
  const handler = createApiHandler({
    metrics,
    metricsExtensive: cfg.metrics === "extensive",
    endpointMetrics,
    services: learnerGate(member, {
      kv: kvService(server.kv),
      lease: leaseService(server.lease),
      watch: watchService(server),
      maintenance: maintenanceService(server.maintenance),
      cluster: clusterService(server.cluster),
      auth: authService(server.auth),
      lock: lockService(server),
      election: electionService(server),
    }),
    maxRequestBytes: cfg.maxRequestBytes,
    cors: { allowedOrigins: cfg.corsOrigins.includes("*") ? "*" : cfg.corsOrigins },
    health,
    probes: memberProbes(member),
    membersStatus: (caller) => server.maintenance.membersStatus(caller),
    gateway: cfg.enableGrpcGateway !== false,
    refuseGateway: (req) =>
      gatewayRefusesCommonName(req, cfg.tls.clientCertAuth, member.auth.enabled)
        ? `${GATEWAY_COMMON_NAME_REFUSAL}\n`
        : undefined,
  });
  const servers: HttpServer[] = [];
  const metricsServers: HttpServer[] = [];
  try {
    for (const u of cfg.listenClientUrls) {
      const hostname = u.hostname.replace(/^\[(.*)\]$/, "$1");
      const port = u.port === "" ? 2379 : Number(u.port);
      const secure = u.protocol === "https:" ? tls : undefined;
      servers.push(
        await serveHttp({
          hostname,
          port,
          handler,
          tls: secure,
          limits: {
            drainTimeoutMs: SHUTDOWN_DRAIN_MS,
            ...httpLimits,
            ...(cfg.maxConcurrentStreams === undefined
              ? {}
              : { maxConcurrentStreams: cfg.maxConcurrentStreams }),
          },
        }),
      );
    }
    metricsServers.push(
      ...await serveMetricsListeners(metricsListen, {
        registry: metrics,
        endpointMetrics,
        health,
        tls: metricsTls,
        drainTimeoutMs: SHUTDOWN_DRAIN_MS,
      }),
    );
  } catch (err) {
    for (const s of [...servers, ...metricsServers]) await s.close();
    await member.stop();
    throw err;
  }
  const clientUrls = servers.map((s, i) => boundUrl(cfg.listenClientUrls[i].protocol, s));
  const metricsUrls = metricsServers.map((s, i) => boundUrl(metricsListen[i].protocol, s));
  let closing: Promise<void> | null = null;
  return {
    member,
    clientUrls,
    metricsUrls,
    get peerUrls() {
      return boundPeerUrls(member.transport, cfg);
    },
    close() {
      closing ??= (async () => {
        // etcd's Stop: a leader hands leadership to a peer before it stops, so the others
        // need no election timeout to go on serving
        const handover = member.transferLeadershipAway().then(
          (to) => {
            if (to !== null) {
              member.log.info("leadership transfer finished", {
                "local-member-id": formatId(member.id),
                "new-leader-member-id": formatId(to),
              });
            }
          },
          (err) =>
            member.log.warn("failed to transfer leadership before stopping", {
              "local-member-id": formatId(member.id),
              error: err,
            }),
        );
        const drained = Promise.all([...servers, ...metricsServers].map((s) => s.close()));
        // Long-lived calls (watch streams, lock and election waits) would hold the drain to
        // its timeout: end them now, as etcd's shutdown cancels open watch streams. Unary
        // calls in flight still finish; the member stops once they have.
        member.hub.close();
        await Promise.all([drained, handover]);
        await member.stop();
      })();
      return closing;
    },
  };
}
