/**
 * Builds the absolute request URL handed to handlers from scheme, authority and path.
 *
 * Any `:authority` is accepted, as etcd does: etcdctl 3.4 sends `http://127.0.0.1:2379` (scheme
 * included) for some calls, which Node's and Deno's HTTP/2 servers reject. A scheme prefix or
 * path suffix is stripped, and an authority that is still not a valid host falls back to the
 * listener's address, so `new URL(request.url)` always parses and keeps the request path.
 */
const HOST_CHARS = /^[A-Za-z0-9._~%!$&'()*+,;=:@\[\]-]+$/;

/** Normalise a client-supplied authority to something a URL can hold. */
export function normalizeAuthority(authority: string, fallback: string): string {
  let a = authority;
  const scheme = a.indexOf("://");
  if (scheme >= 0) a = a.slice(scheme + 3);
  const slash = a.indexOf("/");
  if (slash >= 0) a = a.slice(0, slash);
  const at = a.lastIndexOf("@");
  if (at >= 0) a = a.slice(at + 1); // userinfo is deprecated in authority; drop it
  if (a.length === 0 || !HOST_CHARS.test(a)) return fallback;
  return a;
}

/** Cache of recently normalised authorities: clients repeat the same one on every request. */
const cache = new Map<string, string>();

/** `scheme://authority/path`, with the authority normalised (see {@link normalizeAuthority}). */
export function requestUrl(
  scheme: string,
  authority: string,
  path: string,
  fallback: string,
): string {
  let a = cache.get(authority);
  if (a === undefined) {
    a = normalizeAuthority(authority, "");
    if (a === "") {
      a = fallback; // not cached: the fallback belongs to one listener
    } else {
      if (cache.size > 256) cache.clear();
      cache.set(authority, a);
    }
  }
  return scheme + "://" + a + path;
}

/**
 * Connection-specific header fields (RFC 9113 8.2.2): forbidden in HTTP/2 and never copied
 * from a handler's response into either protocol's framing.
 */
export const CONNECTION_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);
