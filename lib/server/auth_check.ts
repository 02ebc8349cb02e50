/**
 * Who is asking: the auth info of a request from its token, as etcd derives it. With auth
 * disabled nothing is looked up; an unknown or expired token is etcd's invalid auth token.
 */
import type { HandlerContext } from "@connectrpc/connect";
import { Errors } from "../base/errors.ts";
import { authToken } from "../api/auth_token.ts";
import type { AuthInfo } from "../auth/store.ts";
import type { Member } from "./member.ts";

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
