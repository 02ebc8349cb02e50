/**
 * The API front: one UniversalHandlerFn serving, on one port, gRPC, gRPC-web and Connect
 * (the same handlers, from Connect's router), etcd's REST gateway, /health, /version and
 * /metrics, with CORS for browsers, a request size limit and one error mapping.
 */
import { Code, ConnectError, createConnectRouter } from "@connectrpc/connect";
import type {
  UniversalHandler,
  UniversalHandlerFn,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Health } from "../../proto/gen/grpc/health/v1/health_pb.ts";
import { grpcHealthService } from "./grpc_health.ts";
import { ETCD_CLUSTER_VERSION, ETCD_COMPAT_VERSION } from "../base/version.ts";
import { Cors, type CorsOptions } from "./cors.ts";
import { Gateway } from "./gateway.ts";
import { canonicalGatewayPath } from "./gateway_routes.ts";
import { type AnyImpl, instrumentService } from "./instrument.ts";
import { DEFAULT_MAX_REQUEST_BYTES, GRPC_OVERHEAD_BYTES, limitBody } from "./limits.ts";
import { encodeGrpcMessage, normalizeGrpcMessage } from "./grpc_message.ts";
import { type DirectHandler, grpcUnaryHandler } from "./grpc_unary.ts";
import { grpcStreamHandler } from "./grpc_stream.ts";
import { PushBody } from "../http/push_body.ts";
import { connectUnaryHandler } from "./connect_unary.ts";
import { binaryResponseToText, isGrpcWebText, textRequestToBinary } from "./grpc_web_text.ts";
import {
  EndpointMetrics,
  GrpcMetrics,
  METRICS_CONTENT_TYPE,
  type MetricsRegistry,
} from "./metrics.ts";
import { type EtcdServices, SERVICE_DESCRIPTORS } from "./services.ts";
import { once } from "./body.ts";
import { ENVELOPED_JSON, quoteLargeIntegersInEnvelopes } from "./json_int64.ts";
import { type Probes, serveProbe } from "./probes.ts";
import { isConsolePath, serveConsole } from "./console/serve.ts";
import {
  MEMBERS_STATUS_PATH,
  type MembersStatusFn,
  serveMembersStatus,
} from "./console/members_status.ts";

/** What /health reports: etcd answers 200 `{"health":"true"}` or 503 `{"health":"false"}`. */
export interface HealthStatus {
  healthy: boolean;
  /** Why the member is unhealthy (etcd 3.5 adds it to the body). */
  reason?: string;
}

/**
 * etcd's /health query parameters: `serializable=true` asks for a local check without a
 * consensus round; `exclude=NOSPACE` (repeatable) ignores those alarms.
 */
export interface HealthQuery {
  serializable: boolean;
  exclude: string[];
}

/** Options of `createApiHandler`. */
export interface ApiHandlerOptions {
  /** The server's service implementations; missing services and methods are Unimplemented. */
  services: Partial<EtcdServices>;
  /** Browser access: allowed origins (default: any origin), or false to send no CORS headers. */
  cors?: CorsOptions | false;
  /** etcd's --max-request-bytes (default 1.5 MiB); 512 KiB of framing is allowed on top. */
  maxRequestBytes?: number;
  /**
   * Registry for /metrics; the handler registers the grpc_server_* metrics, etcd's client
   * request, client byte and health counters and the scrape counters on it.
   */
  metrics?: MetricsRegistry;
  /** etcd's `--metrics extensive`: per-method latency histograms too (default basic). */
  metricsExtensive?: boolean;
  /**
   * The /health and /metrics counters, when they are shared with other listeners (the
   * metrics listeners); by default the handler registers its own on `metrics`.
   */
  endpointMetrics?: EndpointMetrics;
  /**
   * The check behind /health (and the gRPC health service). Without one, /health answers 503
   * "no health check configured".
   */
  health?: (query: HealthQuery) => HealthStatus | Promise<HealthStatus>;
  /**
   * A REST gateway request the server refuses before routing: returns the text of a 400
   * answer, or undefined to serve it (etcd refuses gateway calls whose client certificate
   * names a user, see tls_auth.ts).
   */
  refuseGateway?: (req: UniversalServerRequest) => string | undefined;
  /** etcd's --enable-grpc-gateway: false leaves the JSON gateway's /v3/… paths 404. */
  gateway?: boolean;
  /** The checks of /livez and /readyz (etcd 3.6's); without them those paths are 404. */
  probes?: Probes;
  /**
   * Every member's status for the console's Cluster page (see console/members_status.ts);
   * without it that path is 404.
   */
  membersStatus?: MembersStatusFn;
}

const encoder = new TextEncoder();

/** A whole response with one text body. */
export function respond(
  status: number,
  contentType: string,
  text: string,
): UniversalServerResponse {
  return {
    status,
    header: new Headers({ "Content-Type": contentType }),
    body: once(encoder.encode(text)),
  };
}

/**
 * The path of a request URL (absolute or origin-form). Plain paths are sliced out directly;
 * anything with dot segments or escapes goes through URL for its normalization.
 */
export function pathOf(url: string): string {
  let start = 0;
  const scheme = url.indexOf("://");
  if (scheme >= 0) {
    start = url.indexOf("/", scheme + 3);
    if (start < 0) return "/";
  }
  let end = url.length;
  const q = url.indexOf("?", start);
  if (q >= 0) end = q;
  const h = url.indexOf("#", start);
  if (h >= 0 && h < end) end = h;
  const path = url.slice(start, end);
  if (path.includes("/.") || path.includes("%") || path === "") {
    return new URL(url, "http://localhost").pathname;
  }
  return path;
}

/** True for content types gRPC clients send (application/grpc, application/grpc+proto). */
function isGrpc(contentType: string | null): boolean {
  return contentType !== null && /^application\/grpc(\+|;|$)/.test(contentType);
}

/** A gRPC "unknown service" answer, as grpc-go gives for a path it has no handler for. */
function grpcUnimplemented(path: string): UniversalServerResponse {
  const trailer = new Headers({
    "grpc-status": String(Code.Unimplemented),
    "grpc-message": encodeGrpcMessage(`unknown service ${path.split("/")[1] ?? ""}`),
  });
  return {
    status: 200,
    header: new Headers({ "Content-Type": "application/grpc" }),
    body: (async function* () {})(),
    trailer,
  };
}

/**
 * Re-encodes grpc-message (in headers for trailers-only answers, else in the trailer once the
 * body has ended) to the gRPC spec's percent-encoding; see grpc_message.ts.
 */
function fixGrpcMessage(res: UniversalServerResponse): UniversalServerResponse {
  normalizeGrpcMessage(res.header);
  const body = res.body;
  if (body === undefined) {
    normalizeGrpcMessage(res.trailer);
    return res;
  }
  // a pushed body stays one (lib/http writes it straight into frames); its maker normalizes
  // the trailer before it ends the body (lib/api/grpc_stream.ts)
  if (body instanceof PushBody) return res;
  async function* wrapped(): AsyncGenerator<Uint8Array> {
    yield* body as AsyncIterable<Uint8Array>;
    normalizeGrpcMessage(res.trailer);
  }
  return { ...res, body: wrapped() };
}

/**
 * A bidirectional call (Watch, LeaseKeepAlive) as Connect's router is to serve it over
 * HTTP/1.x. The router answers such a call 505 (its protocol negotiation refuses bidi streams
 * on HTTP/1.x, lest a client that waits for responses before ending its request body hang),
 * yet browsers reach a cleartext server only over HTTP/1.1, and both their Connect and
 * gRPC-web clients send a streaming call's request messages as one whole body. Served anyway,
 * the call is half-duplex as the Connect protocol allows: the request messages are read as
 * they arrive (lib/http streams an HTTP/1.1 request body while the response is written), the
 * end of the body ends only the request stream (a watch keeps streaming events, as etcd's does
 * after a client closes its sending side), and the client going away aborts the call. The
 * router sees the request as HTTP/2 only so that its version check lets it through; nothing
 * else in Connect's handlers reads the version.
 */
function servedOverHttp1(req: UniversalServerRequest): UniversalServerRequest {
  return req.httpVersion.startsWith("1.") ? { ...req, httpVersion: "2" } : req;
}

/**
 * /metrics: the registry rendered, counted as Prometheus' Go handler counts its scrapes
 * (promhttp_metric_handler_*, which etcd's /metrics shows).
 */
export function metricsResponse(
  registry: MetricsRegistry | undefined,
  endpointMetrics: EndpointMetrics | undefined,
): UniversalServerResponse {
  if (endpointMetrics === undefined) {
    return respond(200, METRICS_CONTENT_TYPE, registry ? registry.render() : "");
  }
  endpointMetrics.scrapesInFlight.add(1);
  try {
    const text = registry ? registry.render() : "";
    endpointMetrics.scrapes.inc({ code: "200" });
    return respond(200, METRICS_CONTENT_TYPE, text);
  } catch (err) {
    endpointMetrics.scrapes.inc({ code: "500" });
    throw err;
  } finally {
    endpointMetrics.scrapesInFlight.add(-1);
  }
}

/**
 * etcd's /health: 200 `{"health":"true"}` or 503 `{"health":"false","reason":…}` from `check`
 * (query: serializable, exclude), counted in etcd_server_health_* when metrics are given.
 */
export async function healthResponse(
  req: UniversalServerRequest,
  check: ((query: HealthQuery) => HealthStatus | Promise<HealthStatus>) | undefined,
  endpointMetrics?: EndpointMetrics,
): Promise<UniversalServerResponse> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return respond(405, "text/plain; charset=utf-8", "Method Not Allowed\n");
  }
  let status: HealthStatus;
  if (!check) status = { healthy: false, reason: "no health check configured" };
  else {
    try {
      const q = new URL(req.url, "http://localhost").searchParams;
      status = await check({
        serializable: q.get("serializable") === "true",
        exclude: q.getAll("exclude"),
      });
    } catch (err) {
      status = { healthy: false, reason: err instanceof Error ? err.message : String(err) };
    }
  }
  endpointMetrics?.health(status.healthy);
  const body: Record<string, string> = { health: String(status.healthy) };
  if (status.reason !== undefined) body.reason = status.reason;
  return respond(status.healthy ? 200 : 503, "application/json", JSON.stringify(body));
}

/** Builds the API handler. Call once per server; the result serves every connection. */
export function createApiHandler(options: ApiHandlerOptions): UniversalHandlerFn {
  const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  if (!(maxRequestBytes > 0)) throw new RangeError("maxRequestBytes must be positive");
  const wireLimit = maxRequestBytes + GRPC_OVERHEAD_BYTES;
  const registry = options.metrics;
  const grpcMetrics = registry
    ? new GrpcMetrics(registry, { extensive: options.metricsExtensive })
    : undefined;
  const grpcBytes = grpcMetrics
    ? { received: grpcMetrics.receivedBytes, sent: grpcMetrics.sentBytes }
    : undefined;
  const endpointMetrics = options.endpointMetrics ??
    (registry ? new EndpointMetrics(registry) : undefined);
  const cors = options.cors === false
    ? undefined
    : new Cors(options.cors ?? { allowedOrigins: "*" });

  // Wrap every implementation once: the router and the gateway share the wrapped methods.
  const wrapped: { [K in keyof EtcdServices]?: Record<string, AnyImpl> } = {};
  for (const key of Object.keys(SERVICE_DESCRIPTORS) as (keyof EtcdServices)[]) {
    const impl = options.services[key];
    const raw = (impl ?? {}) as unknown as Readonly<Record<string, AnyImpl | undefined>>;
    wrapped[key] = instrumentService(SERVICE_DESCRIPTORS[key], raw, grpcMetrics);
  }

  // Everything served over gRPC, gRPC-web and Connect: etcd's services and gRPC health.
  const served: { service: DescService; impls: Record<string, AnyImpl> }[] = [];
  for (const key of Object.keys(SERVICE_DESCRIPTORS) as (keyof EtcdServices)[]) {
    served.push({ service: SERVICE_DESCRIPTORS[key], impls: wrapped[key] ?? {} });
  }
  const healthCheck = options.health;
  const grpcHealth = grpcHealthService(
    healthCheck
      ? async () => (await healthCheck({ serializable: false, exclude: [] })).healthy
      : undefined,
  ) as unknown as Readonly<Record<string, AnyImpl | undefined>>;
  served.push({ service: Health, impls: instrumentService(Health, grpcHealth, grpcMetrics) });

  // Single-message requests are bounded as a whole by limitBody (giving etcd's error); the
  // per-message bound of Connect applies to client streams.
  const router = createConnectRouter({ readMaxBytes: wireLimit });
  for (const { service, impls } of served) {
    for (const method of service.methods) {
      const impl = impls[method.localName];
      if (impl === undefined) continue;
      const single = method.methodKind === "unary" || method.methodKind === "server_streaming";
      router.rpc(
        method as DescMethod,
        impl as never,
        single ? { readMaxBytes: 0x7fffffff } : undefined,
      );
    }
    // Methods without an implementation still get a handler, answering Unimplemented.
    const missing = service.methods.filter((m) => impls[m.localName] === undefined);
    if (missing.length > 0) router.service(service, {});
  }
  const byPath = new Map<string, UniversalHandler>();
  for (const h of router.handlers) if (!byPath.has(h.requestPath)) byPath.set(h.requestPath, h);
  const singleMessage = new Set<string>();
  for (const h of router.handlers) {
    if (h.method.methodKind === "unary" || h.method.methodKind === "server_streaming") {
      singleMessage.add(h.requestPath);
    }
  }
  const bidi = new Set<string>();
  for (const h of router.handlers) {
    if (h.method.methodKind === "bidi_streaming") bidi.add(h.requestPath);
  }
  const gateway = new Gateway(wrapped, wireLimit);
  // Direct paths: unary calls over gRPC, then the Connect protocol, and streaming calls over
  // gRPC; each declines (undefined) what it does not handle, which then goes to Connect's
  // router.
  const directUnary = new Map<string, DirectHandler[]>();
  for (const { service, impls } of served) {
    for (const method of service.methods) {
      const impl = impls[method.localName];
      if (impl === undefined) continue;
      directUnary.set(
        `/${method.parent.typeName}/${method.name}`,
        method.methodKind === "unary"
          ? [
            // answers every failure in its trailers: its promise needs no last resort
            grpcUnaryHandler(method, impl, wireLimit, grpcBytes),
            withLastResort(connectUnaryHandler(method, impl, wireLimit)),
          ]
          : [withLastResort(grpcStreamHandler(method, impl, wireLimit, grpcBytes))],
      );
    }
  }

  // Not async: a direct path's promise is the call's promise, with no frame of this function
  // (nor of the handler below) suspended on it while the call waits for its commit.
  const serve = (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    const path = pathOf(req.url);
    const rpc = byPath.get(path);
    if (rpc) {
      const directs = directUnary.get(path);
      if (directs !== undefined) {
        for (const direct of directs) {
          const res = direct(req);
          if (res !== undefined) return res;
        }
      }
      return lastResort(serveRouted(req, path, rpc));
    }
    return lastResort(serveOther(req, path));
  };

  /** A call of an RPC path that no direct path took: Connect's router. */
  const serveRouted = async (
    req: UniversalServerRequest,
    path: string,
    rpc: UniversalHandler,
  ): Promise<UniversalServerResponse> => {
    if (bidi.has(path)) req = servedOverHttp1(req);
    // Base64 is 4/3 of the binary size: bound the text as the binary would be bounded.
    const text = isGrpcWebText(req.header.get("Content-Type"));
    if (singleMessage.has(path)) {
      const limit = text ? Math.ceil(wireLimit / 3) * 4 : wireLimit;
      req = { ...req, body: limitBody(req.body as AsyncIterable<Uint8Array>, limit) };
    }
    if (text) return binaryResponseToText(await rpc(textRequestToBinary(req)));
    if (ENVELOPED_JSON.test(req.header.get("Content-Type") ?? "")) {
      const body = req.body as AsyncIterable<Uint8Array>;
      req = { ...req, body: quoteLargeIntegersInEnvelopes(body, wireLimit) };
    }
    const res = await rpc(req);
    return isGrpc(res.header?.get("Content-Type") ?? null) ? fixGrpcMessage(res) : res;
  };

  /** Everything that is not an RPC: the gateway, probes, the console, health, metrics. */
  const serveOther = async (
    req: UniversalServerRequest,
    path: string,
  ): Promise<UniversalServerResponse> => {
    const gw = canonicalGatewayPath(path);
    if (gw !== undefined && options.gateway !== false && gateway.has(gw)) {
      const refusal = options.refuseGateway?.(req);
      if (refusal !== undefined) return respond(400, "text/plain; charset=utf-8", refusal);
      return await gateway.handle(req, gw);
    }
    if (isGrpc(req.header.get("Content-Type"))) return grpcUnimplemented(path);
    if (options.probes) {
      const probe = await serveProbe(
        options.probes,
        req.method,
        path,
        req.url,
        endpointMetrics && ((type, name, ok) => endpointMetrics.probeCheck(type, name, ok)),
      );
      if (probe) return probe;
    }
    if (path === MEMBERS_STATUS_PATH) return await serveMembersStatus(req, options.membersStatus);
    if (isConsolePath(path)) return serveConsole(req, path);
    switch (path) {
      case "/health":
        return await health(req);
      case "/version":
        if (req.method !== "GET" && req.method !== "HEAD") break;
        return respond(
          200,
          "application/json",
          JSON.stringify({ etcdserver: ETCD_COMPAT_VERSION, etcdcluster: ETCD_CLUSTER_VERSION }),
        );
      case "/metrics":
        if (req.method !== "GET" && req.method !== "HEAD") break;
        return metricsResponse(registry, endpointMetrics);
      default:
        return respond(404, "text/plain; charset=utf-8", "404 page not found\n");
    }
    return respond(405, "text/plain; charset=utf-8", "Method Not Allowed\n");
  };

  const health = (req: UniversalServerRequest) =>
    healthResponse(req, options.health, endpointMetrics);

  return (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    if (cors) {
      const pre = cors.preflight(req);
      if (pre) return Promise.resolve(pre);
    }
    let res: Promise<UniversalServerResponse>;
    try {
      res = serve(req);
    } catch (err) {
      res = Promise.resolve(failure(err));
    }
    // decided now, from the request alone: a call without a CORS answer (every gRPC client's)
    // gets the call's own promise
    return cors !== undefined && cors.decorates(req) ? res.then((r) => cors.decorate(req, r)) : res;
  };
}

/**
 * The answer of a last resort, which never leaks a stack to the client: Connect's handlers and
 * the direct paths answer their own errors, this is for what escapes them.
 */
function failure(err: unknown): UniversalServerResponse {
  const msg = err instanceof ConnectError ? err.rawMessage : "internal error";
  return respond(500, "text/plain; charset=utf-8", msg + "\n");
}

/** `res` with a rejection answered by `failure`. */
function lastResort(res: Promise<UniversalServerResponse>): Promise<UniversalServerResponse> {
  return res.then(undefined, failure);
}

/** `direct` with its rejections (and synchronous throws) answered by `failure`. */
function withLastResort(direct: DirectHandler): DirectHandler {
  return (req) => {
    let res: Promise<UniversalServerResponse> | undefined;
    try {
      res = direct(req);
    } catch (err) {
      return Promise.resolve(failure(err));
    }
    return res === undefined ? undefined : lastResort(res);
  };
}
