/**
 * etcd's client-certificate authentication (--client-cert-auth): a request that carries no
 * token acts as the user named by its verified client certificate's Common Name
 * (etcd 3.4 EtcdServer.AuthInfoFromCtx falling back to authStore.AuthInfoFromTLS).
 *
 * The certificate reaches handlers through the HTTP layer's PEER_CERTIFICATE context value,
 * set only on listeners that verify client certificates (lib/http/server.ts).
 */
import type { HandlerContext } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { PEER_CERTIFICATE } from "../http/server.ts";

/**
 * The Common Name of the request's verified client certificate ("" when it has none, as Go
 * reports it), or undefined when no certificate was verified. Always undefined for the JSON
 * gateway: etcd's gateway reaches the gRPC server as its own client, so etcd ignores the CN
 * there (the `grpcgateway-accept` check in AuthInfoFromTLS).
 */
export function peerCommonName(ctx: HandlerContext): string | undefined {
  if (ctx.protocolName === "grpc-gateway") return undefined;
  return ctx.values.get(PEER_CERTIFICATE)?.commonName;
}

/** etcd's answer to a gateway request refused by {@link gatewayRefusesCommonName}. */
export const GATEWAY_COMMON_NAME_REFUSAL =
  "CommonName of client sending a request against gateway will be ignored and not used as " +
  "expected";

/**
 * etcd 3.4 answers 400 with {@link GATEWAY_COMMON_NAME_REFUSAL} (plus a newline, Go's
 * http.Error) to a /v3/ gateway request whose client certificate has a Common Name, when
 * --client-cert-auth and auth are both on (embed/serve.go, authorizing the gateway): the CN
 * would silently not be used there, so etcd refuses rather than surprise the caller.
 */
export function gatewayRefusesCommonName(
  req: UniversalServerRequest,
  clientCertAuth: boolean,
  authEnabled: boolean,
): boolean {
  if (!clientCertAuth || !authEnabled) return false;
  if (!new URL(req.url).pathname.startsWith("/v3/")) return false;
  const cn = req.contextValues?.get(PEER_CERTIFICATE)?.commonName;
  return cn !== undefined && cn !== "";
}
