/**
 * gofail's runtime HTTP endpoint (etcd-io/gofail runtime/http.go, which etcd's robustness
 * suite arms failpoints through while traffic runs), for `concord serve` with
 * CONCORD_FAILPOINTS_HTTP=host:port (gofail's GOFAIL_HTTP). The protocol is gofail's:
 *
 * - `GET /`: one `name=terms` line per point the build has (every Concord fault point; an
 *   unarmed one as `name=`), sorted, as etcd's `Available()` reads them.
 * - `GET /<name>`: the point's terms as armed, with a newline; 404 if there is no such point
 *   or it is not armed.
 * - `GET /<name>/count`: how many hits ran one of its terms; 404 for no such point, 500 for
 *   one not armed (gofail's codes).
 * - `PUT /<name>` with the terms as the body: arms it (counts afresh), 204; `PUT /failpoints`
 *   with `name=terms;…` arms several at once. 400 with the reason for an unknown point or
 *   terms Concord cannot run (the same check as CONCORD_FAILPOINTS; all or none are armed).
 * - `DELETE /<name>`: disarms, 204; 400 for no such point or one not armed.
 * - any other method: 405 with `Allow: PUT`.
 *
 * Errors are `text/plain` lines as Go's http.Error writes them. A test-only endpoint: it
 * listens on 127.0.0.1 unless the variable names another host, and has no authentication.
 */
import { ALL_FAULT_POINTS, type FaultPoint } from "../base/fault_points.ts";
import {
  type ArmedTerms,
  FailpointSpecError,
  findFaultPoint,
  parseFailpointSpec,
  parsePointTerms,
  type TermFaultPoints,
} from "../base/failpoint_terms.ts";

/** The variable's name (gofail's is GOFAIL_HTTP). */
export const FAILPOINTS_HTTP_ENV = "CONCORD_FAILPOINTS_HTTP";

/** Where the endpoint listens. */
export interface FailpointsHttpAddr {
  hostname: string;
  port: number;
}

/**
 * Reads `host:port`, `:port` (127.0.0.1) or `[v6]:port`; port 0 takes a free one (the log
 * says which). Throws FailpointSpecError on anything else.
 */
export function parseFailpointsHttpAddr(value: string): FailpointsHttpAddr {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(value.trim());
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) {
    throw new FailpointSpecError(`"${value}": expected host:port, as 127.0.0.1:22381`);
  }
  const host = m[1] ?? m[2];
  return { hostname: host === "" ? "127.0.0.1" : host, port };
}

/** What the endpoint changed, for the process's log. */
export interface FailpointsHttpChange {
  point: FaultPoint;
  /** The terms armed, or null when disarmed. */
  terms: string | null;
}

/** Go's http.Error: the message as a text/plain line. */
function goError(status: number, message: string, headers: Record<string, string> = {}) {
  return new Response(`${message}\n`, {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "x-content-type-options": "nosniff",
      ...headers,
    },
  });
}

const text = (body: string) =>
  new Response(body, { headers: { "content-type": "text/plain; charset=utf-8" } });

const NO_EXIST = "failpoint: failpoint does not exist";
const DISABLED = "failpoint: failpoint is disabled";

/**
 * The endpoint's handler over `points` (the member's own: an arm takes effect at the next
 * hit). `changed` hears every arm and disarm.
 */
export function failpointsHttpHandler(
  points: TermFaultPoints,
  changed: (c: FailpointsHttpChange) => void = () => {},
): (req: Request) => Promise<Response> {
  return async (req) => {
    const url = new URL(req.url);
    // Go's RequestURI: the path and query as sent, not decoded
    const key = (url.pathname + url.search).slice(1);
    switch (req.method) {
      case "PUT": {
        const body = await req.text();
        let armed: Map<FaultPoint, ArmedTerms>;
        if (key.toLowerCase() === "failpoints") {
          try {
            armed = parseFailpointSpec(body);
          } catch (err) {
            if (!(err instanceof FailpointSpecError)) throw err;
            return goError(400, `fail to parse failpoint: ${err.message}`);
          }
        } else {
          const point = findFaultPoint(key);
          if (point === undefined) return goError(400, `fail to set failpoint: ${NO_EXIST}`);
          try {
            armed = new Map([[point, { terms: parsePointTerms(point, body), desc: body }]]);
          } catch (err) {
            if (!(err instanceof FailpointSpecError)) throw err;
            return goError(400, `fail to set failpoint: ${err.message}`);
          }
        }
        for (const [point, a] of armed) {
          points.arm(point, a.terms, a.desc);
          changed({ point, terms: a.desc });
        }
        return new Response(null, { status: 204 });
      }
      case "GET": {
        await req.body?.cancel();
        if (key === "") {
          const lines = [...ALL_FAULT_POINTS].sort().map((p) =>
            `${p}=${points.status(p)?.desc ?? ""}`
          );
          return text(lines.join("\n") + "\n");
        }
        if (key.endsWith("/count")) {
          const point = findFaultPoint(key.slice(0, -"/count".length));
          if (point === undefined) return goError(404, `failed to GET: ${NO_EXIST}`);
          const s = points.status(point);
          if (s === undefined) return goError(500, `failed to GET: ${DISABLED}`);
          return text(String(s.count));
        }
        const point = findFaultPoint(key);
        const s = point === undefined ? undefined : points.status(point);
        if (s === undefined) {
          // gofail writes the empty status after its error line: a second newline
          return goError(404, `failed to GET: ${point === undefined ? NO_EXIST : DISABLED}\n`);
        }
        return text(`${s.desc}\n`);
      }
      case "DELETE": {
        await req.body?.cancel();
        const point = findFaultPoint(key);
        if (point === undefined) return goError(400, `failed to delete failpoint ${NO_EXIST}`);
        if (!points.disarm(point)) return goError(400, `failed to delete failpoint ${DISABLED}`);
        changed({ point, terms: null });
        return new Response(null, { status: 204 });
      }
      default:
        await req.body?.cancel();
        return goError(405, "Method not allowed", { allow: "PUT" });
    }
  };
}

/** The endpoint, listening. */
export interface FailpointsHttpServer {
  /** Where it listens (the port chosen when 0 was asked). */
  addr: Deno.NetAddr;
  /** Stops listening and ends open connections. */
  shutdown(): Promise<void>;
}

/** Starts the endpoint on `addr` over `points`; throws (AddrInUse, …) if it cannot listen. */
export function serveFailpointsHttp(
  addr: FailpointsHttpAddr,
  points: TermFaultPoints,
  changed?: (c: FailpointsHttpChange) => void,
): FailpointsHttpServer {
  const server = Deno.serve({
    hostname: addr.hostname,
    port: addr.port,
    onListen: () => {},
  }, failpointsHttpHandler(points, changed));
  return {
    addr: server.addr,
    shutdown: async () => {
      await server.shutdown();
      await server.finished;
    },
  };
}
