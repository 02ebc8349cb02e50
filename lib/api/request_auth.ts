/**
 * Who is calling: the auth token a request carries (gRPC metadata or the gateway's
 * Authorization header), resolved against the member's token provider and auth store.
 */
import type { HandlerContext } from "@connectrpc/connect";
import { Errors } from "../base/errors.ts";
import { authToken } from "./auth_token.ts";
import type { AuthInfo } from "../auth/store.ts";
import type { Member } from "../server/member.ts";

/** The request's auth info, or undefined (no token, or auth disabled). */
export async function authInfo(m: Member, ctx: HandlerContext): Promise<AuthInfo | undefined> {
  if (!m.auth.enabled) return undefined;
  const token = authToken(ctx.requestHeader);
  if (token === undefined) return undefined;
  const info = await m.tokens.info(token, m.auth.revision);
  if (info === undefined) throw Errors.invalidAuthToken();
  return { username: info.username, revision: info.revision };
}

/** Throws unless the request may administer (root role), when auth is enabled. */
export async function checkAdmin(m: Member, ctx: HandlerContext): Promise<void> {
  if (!m.auth.enabled) return;
  m.auth.checkAdmin(await authInfo(m, ctx));
}
