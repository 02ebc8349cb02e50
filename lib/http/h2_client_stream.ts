/**
 * One request/response exchange of the HTTP/2 client (lib/http/h2_client.ts): the request body
 * waiting for flow-control credit, the response head, body chunks held until the consumer
 * reads them (that read is what returns credit to the server), and the trailers. The session
 * owns framing and windows; a stream only keeps its own state and settles its own promises.
 */
import { ErrorCode } from "./frame.ts";

/** Names of the HTTP/2 error codes, for messages. */
const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(ErrorCode).map(([k, v]) => [v, k]),
);

/** "CANCEL", or "0x1f" for a code HTTP/2 does not define. */
export function errorCodeName(code: number): string {
  return CODE_NAMES[code] ?? `0x${code.toString(16)}`;
}

/**
 * A stream or connection failure: an RST_STREAM code, a GOAWAY, socket loss, a timeout, or
 * a local reset/abort. `code` is the HTTP/2 error code. `retryable` is true only when the
 * server certainly did not process the request (REFUSED_STREAM, a stream above a GOAWAY's
 * last-stream-id, or one never sent because the connection went away first), so callers can
 * resend it on another connection without risking a double effect.
 */
export class H2StreamError extends Error {
  override name = "H2StreamError";
  /** The HTTP/2 error code (RFC 9113 7). */
  readonly code: number;
  /** The request was certainly not processed by the server; safe to send again. */
  readonly retryable: boolean;

  constructor(code: number, message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super(`${message} (${errorCodeName(code)})`, { cause: opts.cause });
    this.code = code;
    this.retryable = opts.retryable ?? code === ErrorCode.REFUSED_STREAM;
  }
}

/** What a stream needs from its session. */
export interface StreamHost {
  /** The stream has request body bytes or an END_STREAM to send. */
  wantSend(s: ClientStream): void;
  /** Reset by the client: send RST_STREAM (if the stream was sent) and forget it. */
  resetStream(s: ClientStream, code: number): void;
  /** The consumer took `n` body octets: return that credit to the server. */
  consumed(s: ClientStream, n: number): void;
}

/** A response as handed to the caller. */
export interface ClientResponse {
  status: number;
  headers: [string, string][];
  body: AsyncIterable<Uint8Array>;
  trailers: Promise<[string, string][]>;
}

/** A pending write(): `data[off..]` is still to be framed. */
interface PendingWrite {
  data: Uint8Array;
  off: number;
  resolve(): void;
  reject(e: Error): void;
}

const noop = () => {};

/** Stream state shared with the session (fields are the session's to read and update). */
export class ClientStream {
  /** 0 until the stream is opened (a stream queued for a free slot has no id yet). */
  id = 0;
  /** Queued (waiting for a slot), open, or closed (both sides done, or reset). */
  state: "queued" | "open" | "closed" = "queued";
  /** Octets we may still send (the server's window for this stream). */
  sendWindow = 0;
  /** Octets the server may still send before we return credit. */
  recvWindow = 0;
  /** Octets consumed by the reader and not yet returned by a WINDOW_UPDATE. */
  unreturned = 0;
  /** We sent END_STREAM (or will never send more: reset). */
  localEnded = false;
  /** The server sent END_STREAM. */
  remoteEnded = false;
  /** end() was called: END_STREAM goes out after the queued writes. */
  endRequested = false;
  /** The final (non-1xx) response head arrived. */
  headSeen = false;
  readonly sendQueue: PendingWrite[] = [];
  readonly response: Promise<ClientResponse>;
  readonly trailers: Promise<[string, string][]>;

  readonly #host: StreamHost;
  readonly #streamingBody: boolean;
  #resolveResponse!: (r: ClientResponse) => void;
  #rejectResponse!: (e: Error) => void;
  #resolveTrailers!: (t: [string, string][]) => void;
  #rejectTrailers!: (e: Error) => void;
  #chunks: Uint8Array[] = [];
  #bodyDone = false;
  #error: H2StreamError | undefined;
  #reader: { resolve(r: IteratorResult<Uint8Array>): void; reject(e: Error): void } | undefined;
  #bodyTaken = false;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  constructor(
    host: StreamHost,
    readonly method: string,
    readonly path: string,
    readonly authority: string,
    readonly headers: [string, string][],
    body: Uint8Array | "stream" | null | undefined,
    signal: AbortSignal | undefined,
  ) {
    this.#host = host;
    this.#streamingBody = body === "stream";
    this.response = new Promise<ClientResponse>((res, rej) => {
      this.#resolveResponse = res;
      this.#rejectResponse = rej;
    });
    this.trailers = new Promise<[string, string][]>((res, rej) => {
      this.#resolveTrailers = res;
      this.#rejectTrailers = rej;
    });
    // Callers may never look at these; a failure must not become an unhandled rejection.
    this.response.catch(noop);
    this.trailers.catch(noop);
    if (body instanceof Uint8Array) {
      if (body.length > 0) this.sendQueue.push({ data: body, off: 0, resolve: noop, reject: noop });
      this.endRequested = true;
    } else if (body !== "stream") {
      this.endRequested = true;
    }
    if (signal !== undefined) {
      this.#signal = signal;
      this.#onAbort = () =>
        this.reset(
          ErrorCode.CANCEL,
          new H2StreamError(ErrorCode.CANCEL, "request aborted", { cause: signal.reason }),
        );
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /**
   * The caller may reuse a whole-body Uint8Array as soon as request() returns (it has no
   * promise telling when the bytes were taken): what is not framed yet is copied.
   */
  ownInitialBody(): void {
    const head = this.sendQueue[0];
    if (head !== undefined && !this.#streamingBody && head.off < head.data.length) {
      head.data = head.data.slice(head.off);
      head.off = 0;
    }
  }

  /** HEADERS carries END_STREAM: nothing queued and end() already requested. */
  get endsWithHeaders(): boolean {
    return this.endRequested && this.sendQueue.length === 0;
  }

  /** The caller's write(): resolves once every octet is framed into the connection's output. */
  write(data: Uint8Array): Promise<void> {
    if (!this.#streamingBody) {
      return Promise.reject(new TypeError('write() needs a request started with body: "stream"'));
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.endRequested || this.localEnded) {
      return Promise.reject(new H2StreamError(ErrorCode.STREAM_CLOSED, "write() after end()"));
    }
    if (data.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.sendQueue.push({ data, off: 0, resolve, reject });
      this.#host.wantSend(this);
    });
  }

  /** The caller's end(): END_STREAM after what is queued. Idempotent. */
  end(): void {
    if (this.endRequested || this.#error !== undefined) return;
    this.endRequested = true;
    this.#host.wantSend(this);
  }

  /** The caller's reset(), also used for aborts and local failures. */
  reset(code: number = ErrorCode.CANCEL, err?: H2StreamError): void {
    if (this.state === "closed") return;
    this.#host.resetStream(this, code);
    this.fail(err ?? new H2StreamError(code, "stream reset by the client"));
  }

  /** Whether framing has anything left to do for this stream. */
  get hasSendWork(): boolean {
    return !this.localEnded && (this.sendQueue.length > 0 || this.endRequested);
  }

  /** The final response head arrived (called by the session). */
  onHead(status: number, headers: [string, string][], endStream: boolean): void {
    this.headSeen = true;
    const body: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => this.#iterator(),
    };
    this.#resolveResponse({ status, headers, body, trailers: this.trailers });
    if (endStream) this.onEnd([]);
  }

  /** A DATA payload (a private copy) arrived. */
  onData(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const r = this.#reader;
    if (r !== undefined) {
      this.#reader = undefined;
      this.#host.consumed(this, chunk.length);
      r.resolve({ value: chunk, done: false });
      return;
    }
    this.#chunks.push(chunk);
  }

  /** END_STREAM from the server, with the trailers ([] when none). */
  onEnd(trailers: [string, string][]): void {
    this.remoteEnded = true;
    this.#bodyDone = true;
    this.#resolveTrailers(trailers);
    const r = this.#reader;
    if (r !== undefined && this.#chunks.length === 0) {
      this.#reader = undefined;
      r.resolve({ value: undefined, done: true });
    }
  }

  /**
   * The stream is gone (reset either way, connection loss): every pending promise and the
   * body reader fail with `err`, except what already completed (a fully received response
   * stays readable).
   */
  fail(err: H2StreamError): void {
    if (this.state === "closed" && this.#error !== undefined) return;
    this.state = "closed";
    this.#error ??= err;
    this.localEnded = true;
    this.detachSignal();
    for (const w of this.sendQueue.splice(0)) w.reject(err);
    if (!this.headSeen) this.#rejectResponse(err);
    if (!this.#bodyDone) {
      this.#bodyDone = true;
      this.#chunks = [];
      this.#rejectTrailers(err);
      const r = this.#reader;
      if (r !== undefined) {
        this.#reader = undefined;
        r.reject(err);
      }
    }
  }

  /** The exchange completed normally (both sides ended). */
  closeClean(): void {
    this.state = "closed";
    this.detachSignal();
  }

  detachSignal(): void {
    if (this.#signal !== undefined && this.#onAbort !== undefined) {
      this.#signal.removeEventListener("abort", this.#onAbort);
    }
    this.#signal = undefined;
  }

  /** Whether a body failure is pending for the reader (stream reset before END_STREAM). */
  get #bodyFailed(): boolean {
    return this.#error !== undefined && !this.remoteEnded;
  }

  #iterator(): AsyncIterator<Uint8Array> {
    if (this.#bodyTaken) throw new TypeError("the response body can be read only once");
    this.#bodyTaken = true;
    return {
      next: () => {
        const c = this.#chunks.shift();
        if (c !== undefined) {
          this.#host.consumed(this, c.length);
          return Promise.resolve({ value: c, done: false });
        }
        if (this.#bodyFailed) return Promise.reject(this.#error);
        if (this.#bodyDone) return Promise.resolve({ value: undefined, done: true });
        if (this.#reader !== undefined) {
          return Promise.reject(new TypeError("concurrent reads of one response body"));
        }
        return new Promise((resolve, reject) => this.#reader = { resolve, reject });
      },
      return: () => {
        // The consumer stopped reading early: the rest of the response is not wanted.
        if (!this.remoteEnded) this.reset(ErrorCode.CANCEL);
        this.#chunks = [];
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
