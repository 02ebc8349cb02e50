/**
 * Who is calling: what the API front read off a request (its auth token and the verified
 * client certificate's Common Name), resolved here against the member's token provider and
 * auth store. The API never resolves callers itself; the server decides who a caller is.
 */
import { Errors } from "../base/errors.ts";
import type { AuthInfo, AuthStore } from "../auth/store.ts";
import type { TokenProvider } from "./token.ts";

/** A request's credentials as they arrived: nothing here is checked yet. */
export interface Caller {
  /** The auth token (gRPC metadata `token`/`authorization`, or the gateway's header). */
  readonly token?: string;
  /**
   * The Common Name of the verified client certificate ("" when it has none, as Go reports
   * it); undefined when no certificate was verified, and always for the JSON gateway (etcd's
   * gateway reaches its gRPC server as its own client, so etcd ignores the CN there).
   */
  readonly certCommonName?: string;
}

/** A caller with no credentials: requests the member or a test makes on nobody's behalf. */
export const NOBODY: Caller = Object.freeze({});

/** What resolving a caller reads from the member (a `Member` satisfies it). */
export interface CallerSource {
  readonly tokens: Pick<TokenProvider, "info">;
  readonly auth: Pick<AuthStore, "revision" | "checkAdmin">;
  readonly config: { readonly tls: { readonly clientCertAuth: boolean } };
}

/**
 * The caller's auth info, or undefined when it carries no token and no client certificate
 * stands in for one. A token is resolved whether or not auth is enabled, as etcd's
 * AuthInfoFromCtx does: one the member cannot resolve (unknown, expired, forged, or a simple
 * token forgotten when auth was disabled) is etcd's invalid auth token, so a client with a
 * stale token learns it even with auth off. Without a token and with --client-cert-auth, the
 * certificate's CN at the auth store's current revision (etcd's AuthInfoFromTLS); the auth
 * store then checks that user's permissions as for a token (an unknown CN is refused).
 */
export async function resolveCaller(
  m: CallerSource,
  c: Caller,
): Promise<AuthInfo | undefined> {
  if (c.token === undefined) {
    if (!m.config.tls.clientCertAuth || c.certCommonName === undefined) return undefined;
    return { username: c.certCommonName, revision: m.auth.revision };
  }
  const info = await m.tokens.info(c.token, m.auth.revision);
  if (info === undefined) throw Errors.invalidAuthToken();
  return { username: info.username, revision: info.revision };
}

/**
 * Throws unless the caller may administer (root role) when auth is enabled; a token that
 * cannot be resolved is refused either way (see `resolveCaller`).
 */
export async function checkAdmin(m: CallerSource, c: Caller): Promise<AuthInfo | undefined> {
  const info = await resolveCaller(m, c);
  m.auth.checkAdmin(info);
  return info;
}
