/**
 * What the client needs from a transport to one member, and the transport browsers use:
 * gRPC-web over `fetch`. The Deno transport (gRPC over Concord's own HTTP/2 client) is in
 * grpc_transport.ts; both give the same `Transport`, so every layer above is shared.
 */
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { bodyFollowsSignal } from "./fetch_abort.ts";

/**
 * One member's transport. Every streaming call the client makes sends one request message
 * first (a watch per stream, one keep-alive per stream), which both gRPC and gRPC-web over
 * fetch can carry; etcd keeps such a stream open until it ends it. Only a watch's progress
 * requests need more, on a transport that `streamsRequests`.
 */
export interface EndpointTransport {
  /** The member's client URL, e.g. `http://127.0.0.1:2379`. */
  readonly url: string;
  /** The Connect transport the service clients call through. */
  readonly transport: Transport;
  /**
   * True when a streaming call can send requests after its first (gRPC over HTTP/2): a watch
   * then sends progress requests on its stream. gRPC-web over fetch cannot.
   */
  readonly streamsRequests?: boolean;
  /** Releases connections; calls in flight fail. */
  close(): Promise<void>;
}

/** Makes the transport for one endpoint URL. */
export type TransportFactory = (url: string) => EndpointTransport;

/**
 * The transport for browsers (and any runtime with only `fetch`): gRPC-web, binary. A
 * network failure (`fetch` rejecting with a TypeError) becomes Unavailable, so the client
 * fails over as it does on gRPC; but fetch cannot tell a refused connection from one lost
 * after the request went out, so a write that meets a dead member fails (once: the member is
 * then passed over) where the gRPC transport would resend it. gRPC-web needs a server that
 * speaks it: Concord does, etcd needs a grpc-web proxy in front.
 */
export function webTransport(url: string): EndpointTransport {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  // in Deno, a private HTTP client so close() releases its pooled connections
  const httpClient = deno?.createHttpClient?.({});
  const fetchFn = async (
    input: RequestInfo | URL,
    init: RequestInit | undefined,
  ): Promise<Response> => {
    try {
      return await fetch(input, httpClient ? { ...init, client: httpClient } : init);
    } catch (err) {
      if (err instanceof TypeError) {
        throw new ConnectError(`connection to ${url} failed: ${err.message}`, Code.Unavailable);
      }
      throw err;
    }
  };
  const unary = createGrpcWebTransport({ baseUrl: url, fetch: fetchFn, useBinaryFormat: true });
  // a stream's body is read for as long as it lasts: it must end when the call is aborted
  // (a cancelled watch), which Deno's fetch alone does not always do (see fetch_abort.ts)
  const streaming = createGrpcWebTransport({
    baseUrl: url,
    fetch: async (input, init) => bodyFollowsSignal(await fetchFn(input, init), init?.signal),
    useBinaryFormat: true,
  });
  // fetch cannot stream a request body: a bidi method is called as server streaming, which
  // sends its one request message, the only shape the client uses
  const transport: Transport = {
    unary: unary.unary.bind(unary),
    stream(method, signal, timeoutMs, header, input, contextValues) {
      const m = method.methodKind === "bidi_streaming"
        ? { ...method, methodKind: "server_streaming" as const }
        : method;
      return streaming.stream(
        m as unknown as typeof method,
        signal,
        timeoutMs,
        header,
        input,
        contextValues,
      );
    },
  };
  return {
    url,
    transport,
    close() {
      httpClient?.close();
      return Promise.resolve();
    },
  };
}
