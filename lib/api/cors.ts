/**
 * CORS for browsers: gRPC-web and Connect calls (and the REST gateway) from allowed
 * origins, with preflight requests answered and the protocol headers exposed, so a web page
 * can read grpc-status, grpc-message and Connect's error headers.
 */
import { cors as connectCors } from "@connectrpc/connect";
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";

/** Which origins may call the API from a browser. */
export interface CorsOptions {
  /** "*" for any origin (the default), or the exact origins allowed, e.g. "https://a.b". */
  allowedOrigins: "*" | readonly string[];
  /** How long browsers may cache a preflight answer, in seconds (default 7200). */
  maxAgeSeconds?: number;
}

/**
 * Parses etcd's `--cors` value: empty or `*` allows any origin (etcd's default is `*`);
 * otherwise a comma-separated list of origins, each `http` or `https` with a host and no
 * path, as etcd requires of its entries. Entries are normalized as browsers send the Origin
 * header (lower-case scheme and host, no default port), so `https://Console.example:443`
 * matches a page at `https://console.example`; etcd compares the text as given and further
 * insists on an explicit port, which would make an origin on a default port impossible to
 * allow. Throws an Error whose message says which entry is wrong and why.
 */
export function parseCorsOrigins(value: string): "*" | string[] {
  const entries = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (entries.length === 0 || (entries.length === 1 && entries[0] === "*")) return "*";
  const origins = new Set<string>();
  for (const e of entries) {
    if (e === "*") throw new Error(`"*" allows any origin and cannot be listed with others`);
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(e);
    if (m === null) throw new Error(`not an origin (scheme://host[:port]): ${e}`);
    const scheme = m[1].toLowerCase();
    if (scheme !== "http" && scheme !== "https") {
      throw new Error(`URL scheme must be http or https: ${e}`);
    }
    if (m[3] !== "") throw new Error(`URL must not contain a path: ${e}`);
    let url: URL;
    try {
      url = new URL(e);
    } catch {
      throw new Error(`invalid URL: ${e}`);
    }
    if (url.hostname === "" || url.username !== "" || url.password !== "") {
      throw new Error(`not an origin (scheme://host[:port]): ${e}`);
    }
    origins.add(url.origin);
  }
  return [...origins];
}

/** Headers etcd clients send besides Connect's own: the auth token, in both spellings. */
const EXTRA_ALLOWED_HEADERS = ["Authorization", "Token"];

/** Headers browsers may read from responses. */
export const EXPOSED_HEADERS: readonly string[] = [...connectCors.exposedHeaders];

/** Applies CORS policy to requests: answers preflights, decorates responses. */
export class Cors {
  readonly #any: boolean;
  readonly #origins: ReadonlySet<string>;
  readonly #maxAge: string;

  constructor(options: CorsOptions) {
    this.#any = options.allowedOrigins === "*";
    this.#origins = new Set(options.allowedOrigins === "*" ? [] : options.allowedOrigins);
    this.#maxAge = String(options.maxAgeSeconds ?? 7200);
  }

  /** True when a request from `origin` may be served to a browser. */
  allows(origin: string): boolean {
    return this.#any || this.#origins.has(origin);
  }

  /**
   * The answer to a CORS preflight (OPTIONS with Access-Control-Request-Method), or
   * undefined when the request is not a preflight. Disallowed origins get 403.
   */
  preflight(req: UniversalServerRequest): UniversalServerResponse | undefined {
    const origin = req.header.get("Origin");
    const method = req.header.get("Access-Control-Request-Method");
    if (req.method !== "OPTIONS" || origin === null || method === null) return undefined;
    if (!this.allows(origin)) return { status: 403, header: new Headers({ Vary: "Origin" }) };
    const allowedHeaders = new Set([...connectCors.allowedHeaders, ...EXTRA_ALLOWED_HEADERS]);
    const requested = req.header.get("Access-Control-Request-Headers");
    if (requested) {
      for (const h of requested.split(",")) if (h.trim() !== "") allowedHeaders.add(h.trim());
    }
    const header = new Headers({
      "Access-Control-Allow-Origin": this.#any ? "*" : origin,
      "Access-Control-Allow-Methods": [...connectCors.allowedMethods, "OPTIONS"].join(", "),
      "Access-Control-Allow-Headers": [...allowedHeaders].join(", "),
      "Access-Control-Max-Age": this.#maxAge,
      Vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    });
    return { status: 204, header };
  }

  /** True when `decorate` would change the response to `req` (it has an allowed Origin). */
  decorates(req: UniversalServerRequest): boolean {
    const origin = req.header.get("Origin");
    return origin !== null && this.allows(origin);
  }

  /** Adds the CORS response headers when the request came from an allowed origin. */
  decorate(req: UniversalServerRequest, res: UniversalServerResponse): UniversalServerResponse {
    const origin = req.header.get("Origin");
    if (origin === null || !this.allows(origin)) return res;
    const header = new Headers(res.header);
    header.set("Access-Control-Allow-Origin", this.#any ? "*" : origin);
    header.set("Access-Control-Expose-Headers", EXPOSED_HEADERS.join(", "));
    if (!this.#any) header.append("Vary", "Origin");
    return { ...res, header };
  }
}
