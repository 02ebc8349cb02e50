/**
 * etcd's --listen-metrics-urls: more listeners that serve only /metrics and /health (so
 * Prometheus and load balancers can reach a member without reaching its client API), over
 * http, or https with the client URLs' certificate (etcd: "For https, the client URL TLS info
 * is used"). Everything else there is 404.
 */
import type {
  UniversalHandlerFn,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { type HttpServer, type HttpTlsOptions, serveHttp } from "../http/server.ts";
import { ConfigError } from "../server/config.ts";
import {
  type HealthQuery,
  healthResponse,
  type HealthStatus,
  metricsResponse,
  pathOf,
  respond,
} from "./handler.ts";
import type { EndpointMetrics, MetricsRegistry } from "./metrics.ts";

/** What a metrics listener serves. */
export interface MetricsListenerOptions {
  registry: MetricsRegistry;
  /** The counters shared with the client listeners' /health and /metrics. */
  endpointMetrics: EndpointMetrics;
  health: (query: HealthQuery) => HealthStatus | Promise<HealthStatus>;
  /** The client TLS, for https URLs; an https URL without it is refused. */
  tls: HttpTlsOptions | undefined;
  drainTimeoutMs?: number;
}

/** The handler of a metrics listener: /metrics and /health only. */
export function metricsOnlyHandler(o: MetricsListenerOptions): UniversalHandlerFn {
  return async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    switch (pathOf(req.url)) {
      case "/metrics":
        if (req.method !== "GET" && req.method !== "HEAD") break;
        return metricsResponse(o.registry, o.endpointMetrics);
      case "/health":
        return await healthResponse(req, o.health, o.endpointMetrics);
      default:
        return respond(404, "text/plain; charset=utf-8", "404 page not found\n");
    }
    return respond(405, "text/plain; charset=utf-8", "Method Not Allowed\n");
  };
}

/**
 * Listens on every URL; returns the servers (closed by the caller). On a failure the ones
 * already listening are closed before the error is thrown.
 */
export async function serveMetricsListeners(
  urls: readonly URL[],
  o: MetricsListenerOptions,
): Promise<HttpServer[]> {
  for (const u of urls) {
    if (u.protocol === "https:" && o.tls === undefined) {
      throw new ConfigError(
        `--listen-metrics-urls ${u.href}: https needs the client TLS files (--cert-file, --key-file)`,
      );
    }
  }
  const handler = metricsOnlyHandler(o);
  const servers: HttpServer[] = [];
  try {
    for (const u of urls) {
      servers.push(
        await serveHttp({
          hostname: u.hostname.replace(/^\[(.*)\]$/, "$1"),
          port: u.port === "" ? (u.protocol === "https:" ? 443 : 80) : Number(u.port),
          handler,
          tls: u.protocol === "https:" ? o.tls : undefined,
          limits: o.drainTimeoutMs === undefined ? undefined : { drainTimeoutMs: o.drainTimeoutMs },
        }),
      );
    }
  } catch (err) {
    for (const s of servers) await s.close();
    throw err;
  }
  return servers;
}

/** The bound URL of a listener (port 0 resolved). */
export function boundUrl(protocol: string, s: HttpServer): string {
  const host = s.hostname.includes(":") ? `[${s.hostname}]` : s.hostname;
  return `${protocol}//${host}:${s.port}`;
}
