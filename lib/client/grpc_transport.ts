/**
 * The Deno transport: gRPC over Concord's own HTTP/2 client (lib/http/h2_client.ts), one
 * multiplexed connection per member, reconnected on demand. Deno's node:http2 client is not
 * an option: it aborts the process when a server sends GOAWAY. Connect's gRPC protocol code
 * does the framing; this file only carries its requests over an H2ClientSession and turns
 * connection failures into Unavailable (marked "not sent" when the HTTP/2 client knows the
 * server never saw the request, so the client may resend even a write).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type {
  UniversalClientFn,
  UniversalClientRequest,
  UniversalClientResponse,
} from "@connectrpc/connect/protocol";
import { createTransport } from "@connectrpc/connect/protocol-grpc";
import { H2ClientSession, type H2ClientTls, H2StreamError } from "../http/h2_client.ts";
import { NotSentError } from "./errors.ts";
import type { EndpointTransport, TransportFactory } from "./transport.ts";

/** Connection settings of the gRPC transport. */
export interface GrpcTransportOptions {
  /** For https endpoints: CA certificates to trust, and a client certificate for mutual TLS. */
  tls?: H2ClientTls;
  /** Fail a connection attempt after this long (default 5000 ms). */
  connectTimeoutMs?: number;
  /**
   * PING an idle connection this often, and drop it when the answer takes longer than
   * `keepAliveTimeoutMs`: how a member that stopped answering (SIGSTOP, a dead host) is
   * noticed. Defaults 10000 and 5000 ms; 0 disables.
   */
  keepAliveIntervalMs?: number;
  keepAliveTimeoutMs?: number;
}

/**
 * The gRPC transport factory for `Client`'s `transport` option.
 *
 * @example
 * ```ts ignore
 * const client = new Client({
 *   endpoints: ["http://10.0.0.1:2379", "http://10.0.0.2:2379"],
 *   transport: grpcTransport({ keepAliveIntervalMs: 2000 }),
 * });
 * ```
 */
export function grpcTransport(opts: GrpcTransportOptions = {}): TransportFactory {
  return (url) => grpcEndpoint(url, opts);
}

function unavailable(url: string, err: unknown, notSent: boolean): ConnectError {
  const msg = err instanceof Error ? err.message : String(err);
  const cause = notSent ? new NotSentError(msg, { cause: err }) : err;
  return new ConnectError(`${url}: ${msg}`, Code.Unavailable, undefined, undefined, cause);
}

/** An H2StreamError as Connect sees it: Unavailable, "not sent" when the client knows. */
function fromH2(url: string, err: unknown): unknown {
  if (err instanceof H2StreamError) return unavailable(url, err, err.retryable);
  return err;
}

function grpcEndpoint(url: string, opts: GrpcTransportOptions): EndpointTransport {
  let session: Promise<H2ClientSession> | undefined;
  let closed = false;

  async function connect(): Promise<H2ClientSession> {
    if (closed) throw unavailable(url, new Error("client closed"), true);
    if (session) {
      const s = await session.catch(() => undefined);
      if (s?.available) return s;
    }
    const p = H2ClientSession.connect({
      url,
      tls: opts.tls,
      connectTimeoutMs: opts.connectTimeoutMs ?? 5000,
      keepAliveIntervalMs: opts.keepAliveIntervalMs ?? 10_000,
      keepAliveTimeoutMs: opts.keepAliveTimeoutMs ?? 5_000,
    });
    session = p;
    try {
      return await p;
    } catch (err) {
      if (session === p) session = undefined;
      throw unavailable(url, err, true);
    }
  }

  const httpClient: UniversalClientFn = async (
    req: UniversalClientRequest,
  ): Promise<UniversalClientResponse> => {
    const s = await connect();
    const u = new URL(req.url);
    const headers: [string, string][] = [];
    req.header.forEach((v, k) => headers.push([k, v]));
    let stream;
    try {
      stream = s.request({
        method: req.method,
        path: u.pathname + u.search,
        headers,
        body: req.body ? "stream" : null,
        signal: req.signal,
      });
    } catch (err) {
      throw fromH2(url, err);
    }
    if (req.body) {
      const body = req.body;
      const st = stream;
      // the request body is written as Connect produces it; a failure shows on the response
      (async () => {
        for await (const chunk of body) await st.write(chunk);
        st.end();
      })().catch(() => st.reset());
    }
    let res;
    try {
      res = await stream.response;
    } catch (err) {
      throw fromH2(url, err);
    }
    const trailer = new Headers();
    const h2 = res;
    async function* body(): AsyncGenerator<Uint8Array> {
      try {
        for await (const chunk of h2.body) yield chunk;
        for (const [k, v] of await h2.trailers) trailer.append(k, v);
      } catch (err) {
        throw fromH2(url, err);
      }
    }
    return { status: res.status, header: new Headers(res.headers), body: body(), trailer };
  };

  const transport = createTransport({
    httpClient,
    baseUrl: url,
    useBinaryFormat: true,
    interceptors: [],
    acceptCompression: [],
    sendCompression: null,
    compressMinBytes: 1024,
    readMaxBytes: 0xffffffff,
    writeMaxBytes: 0xffffffff,
  });

  return {
    url,
    transport,
    async close() {
      closed = true;
      const s = await session?.catch(() => undefined);
      s?.destroy();
      if (s) await s.closed;
    },
  };
}
