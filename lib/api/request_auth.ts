/**
 * Who is calling, as the wire says: the auth token a request carries (gRPC metadata or the
 * gateway's Authorization header) and its verified client certificate's Common Name. The
 * server resolves them (lib/server/caller.ts); the API only reads them off the request.
 */
import type { HandlerContext } from "@connectrpc/connect";
import type { AuthInfo } from "../auth/store.ts";
import type { Member } from "../server/member.ts";
import { type Caller, resolveCaller } from "../server/caller.ts";
import { authToken } from "./auth_token.ts";
import { peerCommonName } from "./tls_auth.ts";

/** The request's credentials, unchecked. */
export function callerOf(ctx: HandlerContext): Caller {
  return { token: authToken(ctx.requestHeader), certCommonName: peerCommonName(ctx) };
}

/**
 * The request's auth info (see `resolveCaller`), for the services not yet behind the server
 * façade (watch, lock, election).
 */
export function authInfo(m: Member, ctx: HandlerContext): Promise<AuthInfo | undefined> {
  return resolveCaller(m, callerOf(ctx));
}
