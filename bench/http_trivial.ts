/**
 * The trivial unary gRPC handler used to measure the HTTP layer itself: it reads the request
 * (one enveloped message) and answers it back with `grpc-status: 0`, so the figures show what
 * the server costs per request, not what Connect's pipeline costs. The same logic is served by
 * node:http2 in bench/http_node_peer.ts.
 */
import type { UniversalHandlerFn } from "@connectrpc/connect/protocol";

const GRPC_HEADERS = new Headers({ "content-type": "application/grpc" });
const OK_TRAILER = new Headers({ "grpc-status": "0" });

async function* once(b: Uint8Array): AsyncIterable<Uint8Array> {
  yield b;
}

/** Echo one gRPC message back as a unary response. */
export const trivialGrpcHandler: UniversalHandlerFn = async (req) => {
  let body: Uint8Array | null = null;
  for await (const chunk of req.body as AsyncIterable<Uint8Array>) {
    if (body === null) body = chunk;
    else {
      const next: Uint8Array = new Uint8Array(body.length + chunk.length);
      next.set(body);
      next.set(chunk, body.length);
      body = next;
    }
  }
  return {
    status: 200,
    header: GRPC_HEADERS,
    body: once(body ?? new Uint8Array(5)),
    trailer: OK_TRAILER,
  };
};
