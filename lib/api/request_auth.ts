/**
 * Who is calling, as the wire says: the auth token a request carries (gRPC metadata or the
 * gateway's Authorization header) and its verified client certificate's Common Name. The
 * server resolves them (lib/server/caller.ts); the API only reads them off the request.
 */
import type { HandlerContext } from "@connectrpc/connect";
import type { Caller } from "../server/caller.ts";
import { authToken } from "./auth_token.ts";
import { peerCommonName } from "./tls_auth.ts";

/** The request's credentials, unchecked. */
export function callerOf(ctx: HandlerContext): Caller {
  return { token: authToken(ctx.requestHeader), certCommonName: peerCommonName(ctx) };
}
