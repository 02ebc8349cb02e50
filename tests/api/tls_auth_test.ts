/**
 * The client-certificate intake without a network: which requests yield the certificate's
 * Common Name as etcd's AuthInfoFromTLS does (only with --client-cert-auth, never for the JSON
 * gateway, "" for a certificate without a CN), and etcd's gateway refusal rule.
 */
import assert from "node:assert/strict";
import {
  createContextValues,
  createHandlerContext,
  type HandlerContext,
} from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { KV } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { PEER_CERTIFICATE } from "../../lib/http/server.ts";
import { gatewayRefusesCommonName, peerCommonName } from "../../lib/api/tls_auth.ts";
import { callerOf } from "../../lib/api/request_auth.ts";
import { type CallerSource, resolveCaller } from "../../lib/server/caller.ts";

/** A handler context for KV.Range over `protocolName`, with the peer's certificate CN. */
function ctx(protocolName: string, cn?: string): HandlerContext {
  const contextValues = createContextValues();
  if (cn !== undefined) contextValues.set(PEER_CERTIFICATE, { commonName: cn });
  return createHandlerContext({
    service: KV,
    method: KV.method.range,
    protocolName,
    requestMethod: "POST",
    url: "https://127.0.0.1/etcdserverpb.KV/Range",
    contextValues,
  });
}

function member(clientCertAuth: boolean, revision = 7): CallerSource {
  return {
    config: { tls: { clientCertAuth } },
    auth: { revision, checkAdmin: () => {} },
    tokens: { info: () => Promise.reject(new Error("no token was sent")) },
  };
}

/** etcd's AuthInfoFromTLS for a request without a token, as the server resolves it. */
const tlsAuthInfo = (m: CallerSource, c: HandlerContext) => resolveCaller(m, callerOf(c));

Deno.test("tls auth: the CN names the user only with --client-cert-auth", async () => {
  for (const proto of ["grpc", "connect", "grpc-web"]) {
    assert.equal(peerCommonName(ctx(proto, "alice")), "alice");
    assert.deepEqual(await tlsAuthInfo(member(true), ctx(proto, "alice")), {
      username: "alice",
      revision: 7,
    });
    // --trusted-ca-file alone verifies certificates but does not authenticate by them.
    assert.equal(await tlsAuthInfo(member(false), ctx(proto, "alice")), undefined);
  }
  // The auth revision is read per call (a later permission change is seen).
  assert.equal((await tlsAuthInfo(member(true, 12), ctx("grpc", "alice")))?.revision, 12);
});

Deno.test("tls auth: no certificate, a certificate without CN, and the gateway", async () => {
  assert.equal(peerCommonName(ctx("grpc")), undefined);
  assert.equal(await tlsAuthInfo(member(true), ctx("grpc")), undefined);
  // Go reports a missing CN as "": etcd then checks an empty user name.
  assert.equal(peerCommonName(ctx("grpc", "")), "");
  assert.deepEqual(await tlsAuthInfo(member(true), ctx("grpc", "")), { username: "", revision: 7 });
  // etcd ignores the CN of gateway requests (grpcgateway-accept).
  assert.equal(peerCommonName(ctx("grpc-gateway", "alice")), undefined);
  assert.equal(await tlsAuthInfo(member(true), ctx("grpc-gateway", "alice")), undefined);
});

Deno.test("tls auth: etcd's gateway refusal needs cert auth, auth on, /v3/ and a CN", () => {
  const req = (path: string, cn?: string): UniversalServerRequest => {
    const contextValues = createContextValues();
    if (cn !== undefined) contextValues.set(PEER_CERTIFICATE, { commonName: cn });
    return {
      httpVersion: "1.1",
      url: `https://127.0.0.1:2379${path}`,
      method: "POST",
      header: new Headers(),
      body: null,
      signal: new AbortController().signal,
      contextValues,
    };
  };
  assert.equal(gatewayRefusesCommonName(req("/v3/kv/range", "alice"), true, true), true);
  assert.equal(gatewayRefusesCommonName(req("/v3/kv/range", "alice"), false, true), false);
  assert.equal(gatewayRefusesCommonName(req("/v3/kv/range", "alice"), true, false), false);
  assert.equal(gatewayRefusesCommonName(req("/v3/kv/range", ""), true, true), false);
  assert.equal(gatewayRefusesCommonName(req("/v3/kv/range"), true, true), false);
  assert.equal(gatewayRefusesCommonName(req("/health", "alice"), true, true), false);
});
