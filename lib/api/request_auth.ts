/**
 * Who is calling: the auth token a request carries (gRPC metadata or the gateway's
 * Authorization header), resolved against the member's token provider and auth store.
 */
import type { HandlerContext } from "@connectrpc/connect";
import { Errors } from "../base/errors.ts";
import { authToken } from "./auth_token.ts";
import type { AuthInfo } from "../auth/store.ts";
import type { Member } from "../server/member.ts";
import { tlsAuthInfo } from "./tls_auth.ts";

/**
 * The request's auth info, or undefined when it carries no token (and no client certificate
 * stands in for one, see tls_auth.ts). A token is resolved
 * whether or not auth is enabled, as etcd's AuthInfoFromCtx does: one the member cannot
 * resolve (unknown, expired, forged, or a simple token forgotten when auth was disabled) is
 * etcd's invalid auth token, so a client with a stale token learns it even with auth off.
 */
export async function authInfo(m: Member, ctx: HandlerContext): Promise<AuthInfo | undefined> {
  const token = authToken(ctx.requestHeader);
  // no token: with --client-cert-auth, the verified client certificate's CN (etcd's
  // AuthInfoFromTLS); otherwise nobody
  if (token === undefined) return tlsAuthInfo(m, ctx);
  const info = await m.tokens.info(token, m.auth.revision);
  if (info === undefined) throw Errors.invalidAuthToken();
  return { username: info.username, revision: info.revision };
}

/**
 * Throws unless the request may administer (root role) when auth is enabled; a token it
 * cannot resolve is refused either way (see `authInfo`).
 */
export async function checkAdmin(m: Member, ctx: HandlerContext): Promise<void> {
  m.auth.checkAdmin(await authInfo(m, ctx));
}

/**
 * etcd 3.4.26's check before a LeaseTimeToLive that lists keys (its fix of CVE-2023-32082,
 * which showed a user the key names attached to another user's lease): with auth enabled,
 * the caller must be a user who may read every key attached to the lease. Returns the auth
 * revision the check saw; the caller refuses its answer if auth changed meanwhile.
 */
export async function checkLeaseKeys(m: Member, ctx: HandlerContext, id: bigint): Promise<number> {
  const revision = m.auth.revision;
  if (!m.auth.enabled) return revision;
  const info = await authInfo(m, ctx);
  if (info === undefined) throw Errors.userEmpty();
  if (m.lessor.exists(id)) {
    const none = new Uint8Array(0);
    for (const key of m.lessor.timeToLive(id, true).keys) m.auth.checkRange(info, key, none);
  }
  return revision;
}
