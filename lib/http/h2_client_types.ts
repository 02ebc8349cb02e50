/**
 * The HTTP/2 client's public shapes (agreed in notes/h2_client_api.md), re-exported by
 * lib/http/h2_client.ts, which callers import.
 */
import type { H2ClientTls } from "./h2_client_dial.ts";

export interface H2ConnectOptions {
  /** http://host:port (h2c with prior knowledge) or https://host:port (TLS, ALPN "h2"). */
  url: URL | string;
  tls?: H2ClientTls;
  /** Fail the connect after this long (default 5000). */
  connectTimeoutMs?: number;
  /** Send a PING when the connection was idle this long; 0 disables (default 0). */
  keepAliveIntervalMs?: number;
  /** Close the connection when a keep-alive PING is not answered in this long (default 20000). */
  keepAliveTimeoutMs?: number;
  /** Aborting fails the connect, or destroys the session once connected. */
  signal?: AbortSignal;
  /**
   * Receive window of each stream (our SETTINGS_INITIAL_WINDOW_SIZE): what a response may
   * have in flight before its reader consumes some. Default 1 MiB.
   */
  streamWindow?: number;
}

export interface H2RequestInit {
  method: string;
  /** Path and query, e.g. "/raft/stream". */
  path: string;
  /** Default: the URL's host:port. */
  authority?: string;
  /** Regular headers, lower-case names. */
  headers?: Iterable<readonly [string, string]>;
  /**
   * The whole request body (END_STREAM after it), or "stream" to write the body through
   * the returned stream's write()/end(); undefined/null: no body (END_STREAM on HEADERS).
   * A Uint8Array may be reused once request() returns (what is not sent yet is copied).
   */
  body?: Uint8Array | "stream" | null;
  /** Aborting resets the stream (RST_STREAM CANCEL) and fails its promises/iterators. */
  signal?: AbortSignal;
}

/**
 * A response head. A trailers-only response (HEADERS with END_STREAM, as gRPC sends for an
 * early error) has its fields here, an empty body, and trailers [].
 */
export interface H2Response {
  status: number;
  /** Response headers (lower-case names, pseudo-headers excluded), in order. */
  headers: [string, string][];
  /**
   * The response body as it arrives. Flow-control credit is returned as the consumer reads,
   * so a slow reader holds the sender back (bounded memory). Ends at END_STREAM; throws
   * H2StreamError on RST_STREAM / connection loss. Breaking out of the loop early resets
   * the stream (CANCEL). Readable once.
   */
  body: AsyncIterable<Uint8Array>;
  /** Trailers (e.g. grpc-status), resolved at END_STREAM ([] when none). */
  trailers: Promise<[string, string][]>;
}

export interface H2ClientStream {
  /** The HTTP/2 stream id; 0 while the request waits for a free stream slot. */
  readonly id: number;
  /**
   * Writes request body bytes (only for body: "stream"). Resolves once the bytes are
   * handed to the connection within the stream's and connection's flow-control windows
   * (that is the backpressure). Rejects with H2StreamError if the stream is gone. The bytes
   * must not change until it resolves.
   */
  write(data: Uint8Array): Promise<void>;
  /** Ends the request body (END_STREAM). */
  end(): void;
  /** Resets the stream (RST_STREAM with CANCEL unless a code is given). */
  reset(code?: number): void;
  /** The response head; rejects with H2StreamError if reset/closed before it. */
  readonly response: Promise<H2Response>;
}
