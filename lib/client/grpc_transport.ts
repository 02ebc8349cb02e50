/**
 * The Deno transport: gRPC over Concord's own HTTP/2 client (lib/http/h2_client.ts), one
 * multiplexed connection per member, reconnected on demand. Deno's node:http2 client is not
 * an option: it aborts the process when a server sends GOAWAY. Unary calls go straight
 * over the session (grpc_unary.ts); streams through Connect's gRPC protocol code, carried
 * here. Connection failures become Unavailable (marked "not sent" when the HTTP/2 client
 * knows the server never saw the request, so the client may resend even a write).
 */
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import type {
  UniversalClientFn,
  UniversalClientRequest,
  UniversalClientResponse,
} from "@connectrpc/connect/protocol";
import { createTransport } from "@connectrpc/connect/protocol-grpc";
import { H2ClientSession, type H2ClientTls, H2StreamError } from "../http/h2_client.ts";
import { NotSentError } from "./errors.ts";
import { grpcUnary } from "./grpc_unary.ts";
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
  /** How long a keep-alive PING may go unanswered before the connection is dropped. */
  keepAliveTimeoutMs?: number;
}

/**
 * The gRPC transport factory for `Client`'s `transport` option.
 *
 * @example
 * ```ts
 * import { Client, grpcTransport } from "./mod.ts";
 * // notice a member that stopped answering within 3 s
 * const client = new Client({
 *   endpoints: Deno.env.get("ETCDCTL_ENDPOINTS")?.split(",") ?? "127.0.0.1:2379",
 *   transport: grpcTransport({ keepAliveIntervalMs: 2000, keepAliveTimeoutMs: 1000 }),
 * });
 * console.log((await client.maintenance.status()).version);
 * await client.close();
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

function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function grpcEndpoint(url: string, opts: GrpcTransportOptions): EndpointTransport {
  let session: Promise<H2ClientSession> | undefined;
  let closed = false;
  // aborted by close(): ends a connect in flight (a member that accepted TCP and froze holds
  // it for the whole connect timeout) and destroys every session made here
  const closing = new AbortController();
  // every session made here and not yet closed, the replaced ones too (one that got GOAWAY
  // still carries its streams): close() ends them all
  const sessions = new Set<H2ClientSession>();
  const closedError = () => unavailable(url, new Error("client closed"), true);

  /**
   * The endpoint's session, connecting when there is none or it became unavailable. Callers
   * that arrive during a connect share it, and its failure: each starting its own (what a
   * burst of calls did when a member froze) left connects that close() never saw.
   */
  async function connect(): Promise<H2ClientSession> {
    for (;;) {
      if (closed) throw closedError();
      const cur = session;
      if (cur === undefined) break;
      let s: H2ClientSession;
      try {
        s = await cur;
      } catch (err) {
        throw unavailable(url, err, true);
      }
      if (s.available) return s;
      // another caller may have started the next connect meanwhile: share it
      if (session === cur) break;
    }
    if (closed) throw closedError();
    const p = H2ClientSession.connect({
      url,
      tls: opts.tls,
      connectTimeoutMs: opts.connectTimeoutMs ?? 5000,
      keepAliveIntervalMs: opts.keepAliveIntervalMs ?? 10_000,
      keepAliveTimeoutMs: opts.keepAliveTimeoutMs ?? 5_000,
      signal: closing.signal,
    });
    session = p;
    try {
      const s = await p;
      sessions.add(s);
      s.closed.then(() => sessions.delete(s));
      return s;
    } catch (err) {
      if (session === p) session = undefined;
      throw unavailable(url, err, true);
    }
  }

  /** Carries one streaming call for Connect: the body is written as Connect produces it. */
  const httpClient: UniversalClientFn = async (
    req: UniversalClientRequest,
  ): Promise<UniversalClientResponse> => {
    // a member that accepts TCP but never answers (SIGSTOP) holds a connect for its whole
    // timeout: the call's own deadline or cancel must still end the wait
    const s = await untilAborted(connect(), req.signal);
    const u = new URL(req.url);
    const headers: [string, string][] = [];
    req.header.forEach((v, k) => headers.push([k, v]));
    const body = req.body ? "stream" : null;
    let stream;
    try {
      stream = s.request({
        method: req.method,
        path: u.pathname + u.search,
        headers,
        body,
        signal: req.signal,
      });
    } catch (err) {
      throw fromH2(url, err);
    }
    if (body === "stream") {
      const input = req.body!;
      const st = stream;
      // a failure writing shows on the response
      (async () => {
        for await (const chunk of input) await st.write(chunk);
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
    async function* responseBody(): AsyncGenerator<Uint8Array> {
      try {
        for await (const chunk of h2.body) yield chunk;
        for (const [k, v] of await h2.trailers) trailer.append(k, v);
      } catch (err) {
        throw fromH2(url, err);
      }
    }
    return { status: res.status, header: new Headers(res.headers), body: responseBody(), trailer };
  };

  const streaming = createTransport({
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
  const host = {
    session: (signal: AbortSignal | undefined) => untilAborted(connect(), signal),
    fromH2: (err: unknown) => fromH2(url, err),
  };
  const transport: Transport = {
    unary: (method, signal, timeoutMs, header, input) =>
      grpcUnary(host, method, signal, timeoutMs, header, input),
    stream: streaming.stream,
  };

  return {
    url,
    transport,
    streamsRequests: true,
    async close() {
      closed = true;
      closing.abort(new Error("client closed"));
      // the connect in flight ends on the abort, within its own cleanup
      await session?.catch(() => undefined);
      const open = [...sessions];
      for (const s of open) s.destroy();
      await Promise.all(open.map((s) => s.closed));
    },
  };
}
