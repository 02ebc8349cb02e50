/**
 * Checks of an HTTP/2 client request before anything is sent: a bad method, path or header
 * would otherwise cost the whole connection (the server answers a malformed header block with
 * a stream or connection error), so the caller gets a TypeError at request() instead.
 */
import type { H2RequestInit } from "./h2_client_types.ts";

/** Connection-specific fields HTTP/2 forbids (RFC 9113 8.2.2), and Host (use :authority). */
const FORBIDDEN_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "host",
]);
/** An HTTP token in lower case (RFC 9110 5.6.2; HTTP/2 field names are lower case). */
const VALID_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const INVALID_VALUE = /[\0\r\n]/;

/** A request that passed the checks. */
export interface CheckedRequest {
  method: string;
  path: string;
  authority: string;
  headers: [string, string][];
  body: Uint8Array | "stream" | null | undefined;
}

/** Validates `init`; throws a TypeError naming what is wrong. */
export function checkRequest(init: H2RequestInit, defaultAuthority: string): CheckedRequest {
  const method = init.method;
  if (method === "" || !VALID_NAME.test(method.toLowerCase())) {
    throw new TypeError(`h2 client: invalid method ${JSON.stringify(method)}`);
  }
  if (method === "CONNECT") throw new TypeError("h2 client: CONNECT is not supported");
  const path = init.path;
  if (!path.startsWith("/") || INVALID_VALUE.test(path) || path.includes(" ")) {
    throw new TypeError(`h2 client: the path must start with "/": ${JSON.stringify(path)}`);
  }
  const authority = init.authority ?? defaultAuthority;
  if (INVALID_VALUE.test(authority)) throw new TypeError("h2 client: invalid authority");
  const headers: [string, string][] = [];
  for (const [n, v] of init.headers ?? []) {
    if (!VALID_NAME.test(n)) {
      throw new TypeError(
        `h2 client: header names must be lower-case tokens: ${JSON.stringify(n)}`,
      );
    }
    if (FORBIDDEN_HEADERS.has(n)) {
      throw new TypeError(
        `h2 client: "${n}" is a connection-specific header, not allowed in HTTP/2`,
      );
    }
    if (n === "te" && v !== "trailers") {
      throw new TypeError('h2 client: the only allowed "te" value is "trailers"');
    }
    if (INVALID_VALUE.test(v)) throw new TypeError(`h2 client: invalid value for header ${n}`);
    headers.push([n, v]);
  }
  const body = init.body;
  if (body !== undefined && body !== null && body !== "stream" && !(body instanceof Uint8Array)) {
    throw new TypeError('h2 client: body must be a Uint8Array, "stream", null or undefined');
  }
  return { method, path, authority, headers, body };
}
