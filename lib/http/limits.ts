/**
 * Resource limits of the HTTP server. Every one bounds what a single misbehaving or slow peer
 * can make the process hold, so bad input closes a stream or a connection instead of growing
 * memory or hanging.
 */
export interface HttpLimits {
  /**
   * Largest header list a request may carry, in RFC 9113 6.5.2 octets (name + value + 32 per
   * field). Advertised as SETTINGS_MAX_HEADER_LIST_SIZE; HTTP/1.1 heads are held to the same
   * number of raw octets. Over it: HTTP/2 answers 431 on that stream, HTTP/1.1 answers 431.
   */
  maxHeaderListSize: number;
  /**
   * Hard cap on the body of one request whose content type is not envelope-framed (JSON,
   * plain bodies): reading past it fails the body with {@link BodyTooLargeError} and the
   * stream is reset. Default 1.5 MiB (etcd's --max-request-bytes) plus 512 KiB of slack for
   * encodings; the API layer enforces etcd's exact limit and message itself.
   */
  maxBodyBytes: number;
  /**
   * Hard cap on one message of an envelope-framed body (gRPC, gRPC-web, Connect streaming),
   * read from each 5-octet envelope prefix; long-lived streams (watch, keepalive) may carry
   * any number of messages. Same default as {@link maxBodyBytes}.
   */
  maxMessageBytes: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS: streams beyond it are refused with REFUSED_STREAM. */
  maxConcurrentStreams: number;
  /** Initial receive window of each stream (SETTINGS_INITIAL_WINDOW_SIZE). */
  streamWindow: number;
  /** Receive window of the whole connection (raised with a WINDOW_UPDATE after the preface). */
  connectionWindow: number;
  /** A connection with no open stream and no traffic for this long is closed (GOAWAY). */
  idleTimeoutMs: number;
  /**
   * Time a peer has to deliver the HTTP/2 preface and SETTINGS, or a complete HTTP/1.1
   * request head, and afterwards each HTTP/2 header block (and any frame other than DATA)
   * once begun; slower peers (slowloris) are disconnected.
   */
  headerTimeoutMs: number;
  /** On close(), in-flight streams get this long to finish before connections are cut. */
  drainTimeoutMs: number;
  /** Most frames of one header block (HEADERS + CONTINUATION) before ENHANCE_YOUR_CALM. */
  maxContinuationFrames: number;
  /** PING, SETTINGS and empty-frame floods beyond this per second end the connection. */
  maxControlFramesPerSecond: number;
  /** Open connections (both protocols, TLS handshakes included); more are closed at accept. */
  maxConnections: number;
  /**
   * Response octets one HTTP/2 connection may hold unsent: taken from handlers but waiting
   * for the peer's flow-control window, plus its output buffer. A response that would go
   * beyond it is reset (RST_STREAM ENHANCE_YOUR_CALM), unless nothing else of the connection
   * waits (one large response still goes out), so a peer that advertises a zero window
   * cannot make the server keep every answer in memory.
   */
  maxUnsentBytes: number;
  /** The same bound over every connection of the server together. */
  maxUnsentBytesTotal: number;
  /**
   * A response stream waiting for flow-control window this long without sending an octet is
   * reset (RST_STREAM CANCEL), which frees what it holds.
   */
  stallTimeoutMs: number;
}

/** The defaults; every field can be overridden through `serveHttp({ limits })`. */
export const DEFAULT_LIMITS: Readonly<HttpLimits> = {
  maxHeaderListSize: 64 * 1024,
  maxBodyBytes: 2 * 1024 * 1024,
  maxMessageBytes: 2 * 1024 * 1024,
  maxConcurrentStreams: 1000,
  streamWindow: 256 * 1024,
  connectionWindow: 16 * 1024 * 1024,
  idleTimeoutMs: 5 * 60 * 1000,
  headerTimeoutMs: 10 * 1000,
  drainTimeoutMs: 10 * 1000,
  maxContinuationFrames: 64,
  maxControlFramesPerSecond: 10000,
  maxConnections: 10000,
  maxUnsentBytes: 64 * 1024 * 1024,
  maxUnsentBytesTotal: 256 * 1024 * 1024,
  stallTimeoutMs: 60 * 1000,
};

/**
 * Response octets held unsent by every connection of one server (see maxUnsentBytesTotal);
 * each connection adds what it holds and takes it back as the octets leave or it closes.
 */
export class UnsentBudget {
  /** Octets held now, over all connections. */
  total = 0;
}

/** Merge caller overrides over the defaults, rejecting nonsense early. */
export function resolveLimits(partial: Partial<HttpLimits> | undefined): HttpLimits {
  const l: HttpLimits = { ...DEFAULT_LIMITS, ...partial };
  for (const [k, v] of Object.entries(l)) {
    if (typeof v !== "number" || !(v > 0)) throw new RangeError(`http limit ${k} must be > 0`);
  }
  if (l.streamWindow > 0x7fffffff || l.connectionWindow > 0x7fffffff) {
    throw new RangeError("http flow-control windows must be <= 2^31-1");
  }
  return l;
}

/** Thrown from a request body iterator when the body passes a hard cap. */
export class BodyTooLargeError extends Error {
  override name = "BodyTooLargeError";
  constructor(readonly limit: number, what: "body" | "message") {
    super(`request ${what} larger than ${limit} bytes`);
  }
}
