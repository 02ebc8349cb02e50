/**
 * Concord's HTTP/2 client: one connection (h2c with prior knowledge, or TLS with ALPN "h2")
 * multiplexing requests, for raft peers and gRPC clients.
 *
 * Why our own: Deno's node:http2 client aborts the process when a server sends GOAWAY, and
 * Deno's fetch leaves Nagle on (its separate HEADERS and DATA writes wait for the peer's
 * delayed ACK) and cannot hold long-lived bidirectional streams with backpressure and
 * trailers. This client turns Nagle off, coalesces every frame queued in one turn into one
 * socket write, honours the server's SETTINGS (MAX_CONCURRENT_STREAMS: extra requests wait for
 * a slot; MAX_FRAME_SIZE; INITIAL_WINDOW_SIZE changes), runs flow control both ways (request
 * writes wait for credit; response credit is returned as the consumer reads), answers PINGs,
 * and turns GOAWAY, RST_STREAM and socket loss into rejected promises (H2StreamError), never
 * into a crash.
 *
 * Flow control on receive: each stream's window bounds what a slow reader makes us hold (the
 * server stops once the window is spent); the connection window is returned as DATA arrives,
 * so one stalled stream never blocks the others.
 *
 * Errors: every failure is an H2StreamError with the HTTP/2 code; `retryable` is true only
 * when the server certainly did not process the request (REFUSED_STREAM, above a GOAWAY's
 * last-stream-id, never sent). `closed` never rejects.
 *
 * The framing follows bench/loadgen/h2_grpc.ts and the server (h2_connection.ts). Beside this
 * file: the public shapes (h2_client_types.ts), one stream's state (h2_client_stream.ts),
 * request checks (h2_client_request.ts), the input side: reading, checking and acting on the
 * server's frames (h2_client_input.ts, with the checks in h2_client_frames.ts), and socket
 * setup (h2_client_dial.ts).
 */
import { ByteBuffer } from "./byte_buffer.ts";
import type { ByteConn } from "./conn.ts";
import {
  DEFAULT_WINDOW,
  ErrorCode,
  Flag,
  FrameType,
  MAX_WINDOW,
  MIN_MAX_FRAME_SIZE,
  PREFACE,
  Setting,
  writeFrameHeader,
  writeGoaway,
  writeRstStream,
  writeSettings,
  writeU32,
  writeWindowUpdate,
} from "./frame.ts";
import { HpackEncoder } from "./hpack.ts";
import { type DialedConn, dialH2 } from "./h2_client_dial.ts";
import {
  type ClientResponse,
  ClientStream,
  errorCodeName,
  H2StreamError,
  type StreamHost,
} from "./h2_client_stream.ts";
import { ConnectionError } from "./h2_client_frames.ts";
import { CONN_WINDOW, H2ClientInput, type InputHost, MAX_HEADER_LIST } from "./h2_client_input.ts";
import { checkRequest } from "./h2_client_request.ts";
import { KeepAlive } from "./h2_keepalive.ts";
import type {
  H2ClientStream,
  H2ConnectOptions,
  H2RequestInit,
  H2Response,
} from "./h2_client_types.ts";

export type { H2ClientTls } from "./h2_client_dial.ts";
export { H2StreamError } from "./h2_client_stream.ts";
export type {
  H2ClientStream,
  H2ConnectOptions,
  H2RequestInit,
  H2Response,
} from "./h2_client_types.ts";

const DEFAULT_STREAM_WINDOW = 1024 * 1024;
/** Request DATA is framed only while less than this waits for the socket (bounded memory). */
const OUT_HIGH_WATER = 256 * 1024;
const MAX_STREAM_ID = 0x7fffffff;
/** The public face of a ClientStream (so callers see only the agreed shape). */
class StreamHandle implements H2ClientStream {
  readonly #s: ClientStream;
  constructor(s: ClientStream) {
    this.#s = s;
  }
  get id(): number {
    return this.#s.id;
  }
  get response(): Promise<H2Response> {
    return this.#s.response as Promise<ClientResponse>;
  }
  write(data: Uint8Array): Promise<void> {
    return this.#s.write(data);
  }
  end(): void {
    this.#s.end();
  }
  reset(code: number = ErrorCode.CANCEL): void {
    this.#s.reset(code);
  }
}

/** One client connection. Multiplexes any number of streams (up to the peer's limit). */
export class H2ClientSession {
  readonly #conn: ByteConn;
  readonly #dialed: DialedConn;
  readonly #scheme: string;
  readonly #authority: string;
  readonly #streamWindow: number;
  readonly #keepAlive: KeepAlive;

  #out = new ByteBuffer(1 << 16);
  #spare = new ByteBuffer(1 << 16);
  #flushQueued = false;
  #writing = false;
  #writerIdle: (() => void)[] = [];
  readonly #enc = new HpackEncoder();
  readonly #block = new ByteBuffer(1024);

  /** Open streams by id. */
  readonly #streams = new Map<number, ClientStream>();
  /** Requests waiting for a stream slot, in order. */
  #queued: ClientStream[] = [];
  /** Open streams with body bytes or END_STREAM to send (round robin in insertion order). */
  readonly #sendable = new Set<ClientStream>();
  #nextId = 1;

  #connSendWindow = DEFAULT_WINDOW;
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxFrame = MIN_MAX_FRAME_SIZE;
  #peerMaxStreams = Infinity;

  #onReady: ((e?: Error) => void) | undefined;
  /** GOAWAY received from the server. */
  #goaway: H2StreamError | undefined;
  /** close() was called. */
  #closing = false;
  /** Set once the connection is torn down: null (closed by us) or why it failed. */
  #dead: Error | null | undefined = undefined;
  readonly #reader: Promise<void>;
  readonly closed: Promise<Error | null>;

  /** Reads and handles the server's frames (h2_client_input.ts). */
  readonly #input: H2ClientInput;

  #pingSeq = 0;
  readonly #pings = new Map<
    number,
    { start: number; resolve(ms: number): void; reject(e: Error): void }
  >();
  #signal: AbortSignal | undefined;
  #onSignal: (() => void) | undefined;

  private constructor(dialed: DialedConn, url: URL, opts: H2ConnectOptions) {
    this.#dialed = dialed;
    this.#conn = dialed.conn;
    this.#scheme = url.protocol === "https:" ? "https" : "http";
    this.#authority = url.host;
    this.#streamWindow = opts.streamWindow ?? DEFAULT_STREAM_WINDOW;
    this.#keepAlive = new KeepAlive(
      {
        lastRead: () => this.#input.lastRead,
        ping: () => this.ping(),
        dead: (limit) =>
          this.destroy(
            new H2StreamError(ErrorCode.CANCEL, `keep-alive PING not answered within ${limit} ms`, {
              retryable: false,
            }),
          ),
      },
      opts.keepAliveIntervalMs ?? 0,
      opts.keepAliveTimeoutMs ?? 20000,
    );
    this.#out.bytes(PREFACE);
    writeSettings(this.#out, [
      [Setting.ENABLE_PUSH, 0],
      [Setting.INITIAL_WINDOW_SIZE, this.#streamWindow],
      [Setting.MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST],
    ]);
    writeWindowUpdate(this.#out, 0, CONN_WINDOW - DEFAULT_WINDOW);
    this.#flush();
    this.#input = new H2ClientInput(this.#inputHost);
    this.#reader = this.#input.run();
    this.closed = this.#reader.then(() => this.#idleWriter()).then(() => this.#dead ?? null);
  }

  /**
   * Connects and exchanges SETTINGS (resolves once the server's SETTINGS arrived and ours
   * were acknowledged, so its limits are known before the first request).
   */
  static async connect(opts: H2ConnectOptions): Promise<H2ClientSession> {
    const url = new URL(opts.url);
    const sw = opts.streamWindow;
    if (sw !== undefined && !(Number.isInteger(sw) && sw > 0 && sw <= MAX_WINDOW)) {
      throw new RangeError(`h2 client: streamWindow must be an integer in 1..${MAX_WINDOW}`);
    }
    const timeoutMs = opts.connectTimeoutMs ?? 5000;
    const ac = new AbortController();
    const timer = setTimeout(
      () =>
        ac.abort(
          new H2StreamError(
            ErrorCode.CANCEL,
            `h2 client: connecting to ${url.host} took longer than ${timeoutMs} ms`,
            { retryable: true },
          ),
        ),
      timeoutMs,
    );
    const outer = opts.signal;
    const onOuter = () => ac.abort(outer?.reason);
    outer?.addEventListener("abort", onOuter, { once: true });
    if (outer?.aborted) onOuter();
    let session: H2ClientSession | undefined;
    try {
      const dialed = await dialH2(url, opts.tls, ac.signal);
      session = new H2ClientSession(dialed, url, opts);
      const s = session;
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(ac.signal.reason);
        ac.signal.addEventListener("abort", onAbort, { once: true });
        s.#onReady = (e) => {
          ac.signal.removeEventListener("abort", onAbort);
          if (e) reject(e);
          else resolve();
        };
        if (ac.signal.aborted) onAbort();
      });
    } catch (e) {
      if (session !== undefined) {
        session.destroy(e instanceof Error ? e : new Error(String(e)));
        await session.closed;
      }
      throw e;
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener("abort", onOuter);
    }
    if (outer !== undefined) session.#watchSignal(outer);
    session.#keepAlive.arm();
    return session;
  }

  /** True until GOAWAY, close, or a connection error; then new requests are refused. */
  get available(): boolean {
    return this.#goaway === undefined && !this.#closing && this.#dead === undefined &&
      this.#nextId <= MAX_STREAM_ID;
  }

  /** Streams open on the connection plus requests waiting for a slot (for pools, tests). */
  get activeStreams(): number {
    return this.#streams.size + this.#queued.length;
  }

  /** Starts a request; throws H2StreamError at once if the session is closed/going away. */
  request(init: H2RequestInit): H2ClientStream {
    if (!this.available) throw this.#unavailableError();
    const { method, path, authority, headers, body } = checkRequest(init, this.#authority);
    const s = new ClientStream(
      this.#host,
      method,
      path,
      authority,
      headers,
      body,
      init.signal,
    );
    if (init.signal?.aborted) {
      s.fail(new H2StreamError(ErrorCode.CANCEL, "request aborted", { cause: init.signal.reason }));
      return new StreamHandle(s);
    }
    this.#queued.push(s);
    this.#openQueued();
    s.ownInitialBody();
    return new StreamHandle(s);
  }

  /** Round-trip time of one PING, in ms. */
  ping(): Promise<number> {
    if (this.#dead !== undefined) return Promise.reject(this.#deadError());
    const seq = ++this.#pingSeq;
    writeFrameHeader(this.#out, 8, FrameType.PING, 0, 0);
    writeU32(this.#out, 0);
    writeU32(this.#out, seq);
    this.#flush();
    return new Promise<number>((resolve, reject) => {
      this.#pings.set(seq, { start: performance.now(), resolve, reject });
    });
  }

  /** GOAWAY, let in-flight streams finish (up to graceMs, default 1000), then close. */
  async close(graceMs = 1000): Promise<void> {
    if (this.#dead === undefined) {
      if (!this.#closing) {
        this.#closing = true;
        writeGoaway(this.#out, 0, ErrorCode.NO_ERROR);
        this.#flush();
        this.#failQueued(
          new H2StreamError(
            ErrorCode.REFUSED_STREAM,
            "session closed before the request was sent",
            {
              retryable: true,
            },
          ),
        );
      }
      const deadline = performance.now() + graceMs;
      while (this.#streams.size > 0 && this.#dead === undefined) {
        const left = deadline - performance.now();
        if (left <= 0) break;
        await this.#waitStreamsChange(left);
      }
      if (this.#dead === undefined) {
        const left = Math.max(0, deadline - performance.now());
        await this.#idleWriter(left);
        this.#teardown(
          null,
          new H2StreamError(ErrorCode.CANCEL, `session closed after a ${graceMs} ms grace`),
          true,
        );
      }
    }
    await this.closed;
  }

  /** Close now: every open stream fails. */
  destroy(reason?: Error): void {
    if (this.#dead !== undefined) return;
    this.#teardown(
      reason ?? null,
      new H2StreamError(
        ErrorCode.CANCEL,
        `session destroyed${reason ? `: ${reason.message}` : ""}`,
        {
          cause: reason,
        },
      ),
    );
  }

  /** What the streams call back into (kept off the public surface). */
  readonly #host: StreamHost = {
    wantSend: (s) => {
      if (s.state !== "open") return;
      this.#sendable.add(s);
      this.#pumpSends();
    },
    resetStream: (s, code) => {
      if (s.state === "queued") {
        const i = this.#queued.indexOf(s);
        if (i >= 0) this.#queued.splice(i, 1);
        return;
      }
      if (s.state !== "open") return;
      if (this.#dead === undefined) {
        writeRstStream(this.#out, s.id, code);
        this.#flush();
      }
      this.#forget(s);
    },
    consumed: (s, n) => this.#consumed(s, n),
  };

  /** What the input side reads of the session and tells it (h2_client_input.ts). */
  readonly #inputHost: InputHost = {
    read: (buf) => this.#conn.read(buf),
    dead: () => this.#dead !== undefined,
    out: () => this.#out,
    flush: () => this.#flush(),
    idleWriter: (ms) => this.#idleWriter(ms),
    teardown: (reason, streamErr, graceful) => this.#teardown(reason, streamErr, graceful),
    stream: (id) => this.#streams.get(id),
    nextId: () => this.#nextId,
    consumed: (s, n) => this.#consumed(s, n),
    remoteEnd: (s, trailers) => {
      s.onEnd(trailers);
      if (s.localEnded) this.#completed(s);
    },
    forget: (s) => this.#forget(s),
    applySettings: (settings) => this.#applySettings(settings),
    settingsChanged: () => this.#checkReady(),
    limitsChanged: () => {
      this.#openQueued();
      if (this.#sendable.size > 0) this.#pumpSends();
    },
    pong: (seq) => {
      const p = this.#pings.get(seq);
      if (p === undefined) return;
      this.#pings.delete(seq);
      p.resolve(performance.now() - p.start);
    },
    goaway: (last, code, debug) => this.#onGoaway(last, code, debug),
    goneAway: () => this.#goaway,
    creditConnection: (inc) => {
      this.#connSendWindow += inc;
      if (this.#connSendWindow > MAX_WINDOW) {
        throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "connection window overflow");
      }
    },
    windowOpened: () => {
      if (this.#sendable.size > 0) this.#pumpSends();
    },
  };

  /** The server's SETTINGS, applied in order. */
  #applySettings(settings: [number, number][]): void {
    for (const [key, v] of settings) {
      switch (key) {
        case Setting.HEADER_TABLE_SIZE:
          this.#enc.setMaxTableSize(v);
          break;
        case Setting.MAX_CONCURRENT_STREAMS:
          this.#peerMaxStreams = v;
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          const delta = v - this.#peerInitialWindow;
          this.#peerInitialWindow = v;
          for (const s of this.#streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) {
              throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "stream window overflow");
            }
          }
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          this.#peerMaxFrame = v;
          break;
        default:
          break; // ENABLE_PUSH (checked), MAX_HEADER_LIST_SIZE (advisory), unknown ones
      }
    }
  }

  #checkReady(): void {
    const input = this.#input;
    if (input.settingsReceived && input.settingsAcked && this.#onReady !== undefined) {
      const r = this.#onReady;
      this.#onReady = undefined;
      r();
    }
  }

  /** The server is going away: streams above `last` were not processed and fail retryably. */
  #onGoaway(last: number, code: number, debug: string): void {
    const msg = `server sent GOAWAY (${errorCodeName(code)}, last stream ${last}${
      debug ? `: ${debug}` : ""
    })`;
    this.#goaway = new H2StreamError(code, msg, { retryable: false });
    const refused = new H2StreamError(ErrorCode.REFUSED_STREAM, `stream not processed: ${msg}`, {
      retryable: true,
    });
    this.#failQueued(refused);
    for (const [sid, s] of [...this.#streams]) {
      if (sid > last) {
        this.#streams.delete(sid);
        this.#sendable.delete(s);
        s.fail(refused);
      }
    }
    this.#notifyStreams();
    if (this.#streams.size === 0) this.#teardown(this.#goaway, this.#goaway, true);
  }

  /** The reader took `n` octets of `s`: return the credit once half the window is used. */
  #consumed(s: ClientStream, n: number): void {
    if (s.state !== "open" || s.remoteEnded || this.#dead !== undefined) return;
    s.unreturned += n;
    if (s.unreturned >= this.#streamWindow / 2) {
      writeWindowUpdate(this.#out, s.id, s.unreturned);
      s.recvWindow += s.unreturned;
      s.unreturned = 0;
      this.#flush();
    }
  }

  // --- streams ------------------------------------------------------------------------------

  /** Opens queued requests while the server's MAX_CONCURRENT_STREAMS allows. */
  #openQueued(): void {
    while (this.#queued.length > 0 && this.#dead === undefined) {
      if (this.#nextId > MAX_STREAM_ID) {
        this.#failQueued(
          new H2StreamError(ErrorCode.REFUSED_STREAM, "stream ids of this connection are used up", {
            retryable: true,
          }),
        );
        return;
      }
      if (this.#streams.size >= this.#peerMaxStreams) return;
      this.#open(this.#queued.shift()!);
    }
  }

  #open(s: ClientStream): void {
    const id = this.#nextId;
    this.#nextId += 2;
    s.id = id;
    s.state = "open";
    s.sendWindow = this.#peerInitialWindow;
    s.recvWindow = this.#streamWindow;
    this.#streams.set(id, s);
    const endNow = s.endsWithHeaders;
    const block = this.#block;
    block.reset();
    this.#enc.begin(block);
    this.#enc.field(block, ":method", s.method);
    this.#enc.field(block, ":scheme", this.#scheme);
    this.#enc.field(block, ":authority", s.authority);
    this.#enc.field(block, ":path", s.path);
    for (const [n, v] of s.headers) this.#enc.field(block, n, v);
    const b = block.view();
    let off = Math.min(b.length, this.#peerMaxFrame);
    const endHeaders = off === b.length ? Flag.END_HEADERS : 0;
    writeFrameHeader(
      this.#out,
      off,
      FrameType.HEADERS,
      endHeaders | (endNow ? Flag.END_STREAM : 0),
      id,
    );
    this.#out.bytes(b.subarray(0, off));
    while (off < b.length) {
      const n = Math.min(b.length - off, this.#peerMaxFrame);
      const last = off + n === b.length;
      writeFrameHeader(this.#out, n, FrameType.CONTINUATION, last ? Flag.END_HEADERS : 0, id);
      this.#out.bytes(b.subarray(off, off + n));
      off += n;
    }
    if (endNow) s.localEnded = true;
    else this.#sendable.add(s);
    this.#pumpSends();
    this.#flush();
  }

  /** Frames request DATA, one frame per stream per round, while windows and buffer allow. */
  #pumpSends(): void {
    if (this.#dead !== undefined) return;
    let progress = true;
    while (progress && this.#sendable.size > 0 && this.#out.len < OUT_HIGH_WATER) {
      progress = false;
      for (const s of [...this.#sendable]) {
        if (this.#out.len >= OUT_HIGH_WATER) break;
        const sent = this.#sendOne(s);
        if (sent) progress = true;
        if (!s.hasSendWork || s.state !== "open") this.#sendable.delete(s);
        else if (sent) {
          // Round robin: a stream with more to send goes to the back.
          this.#sendable.delete(s);
          this.#sendable.add(s);
        }
      }
    }
    this.#flush();
  }

  /** Frames one DATA frame (or the final empty END_STREAM) of `s`; false if blocked. */
  #sendOne(s: ClientStream): boolean {
    if (s.state !== "open" || s.localEnded) return false;
    const head = s.sendQueue[0];
    if (head === undefined) {
      if (!s.endRequested) return false;
      writeFrameHeader(this.#out, 0, FrameType.DATA, Flag.END_STREAM, s.id);
      this.#localEnd(s);
      return true;
    }
    const left = head.data.length - head.off;
    const n = Math.min(left, this.#connSendWindow, s.sendWindow, this.#peerMaxFrame);
    if (n <= 0) return false;
    const last = n === left && s.sendQueue.length === 1 && s.endRequested;
    writeFrameHeader(this.#out, n, FrameType.DATA, last ? Flag.END_STREAM : 0, s.id);
    this.#out.bytes(head.data.subarray(head.off, head.off + n));
    head.off += n;
    this.#connSendWindow -= n;
    s.sendWindow -= n;
    if (head.off === head.data.length) {
      s.sendQueue.shift();
      head.resolve();
    }
    if (last) this.#localEnd(s);
    return true;
  }

  #localEnd(s: ClientStream): void {
    s.localEnded = true;
    if (s.remoteEnded) this.#completed(s);
  }

  /** Both sides ended: the stream is done and its slot is free. */
  #completed(s: ClientStream): void {
    s.closeClean();
    this.#forget(s);
  }

  /** Drops an open stream from the connection's books and lets a queued request in. */
  #forget(s: ClientStream): void {
    if (this.#streams.get(s.id) !== s) return;
    this.#streams.delete(s.id);
    this.#sendable.delete(s);
    this.#notifyStreams();
    this.#openQueued();
    if (this.#streams.size === 0 && this.#goaway !== undefined && this.#queued.length === 0) {
      // The server is going away and nothing is left to finish here.
      this.#teardown(this.#goaway, this.#goaway, true);
    }
  }

  #failQueued(err: H2StreamError): void {
    for (const s of this.#queued.splice(0)) s.fail(err);
  }

  #streamWaiters: (() => void)[] = [];

  #notifyStreams(): void {
    for (const w of this.#streamWaiters.splice(0)) w();
  }

  #waitStreamsChange(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        const i = this.#streamWaiters.indexOf(done);
        if (i >= 0) this.#streamWaiters.splice(i, 1);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#streamWaiters.push(done);
    });
  }

  /** Why request() refuses: never sent, so always retryable (on another connection). */
  #unavailableError(): H2StreamError {
    let why: string;
    let cause: unknown;
    if (this.#dead !== undefined) {
      why = this.#dead === null ? "session closed" : `session failed: ${this.#dead.message}`;
      cause = this.#dead ?? undefined;
    } else if (this.#goaway !== undefined) {
      why = this.#goaway.message;
      cause = this.#goaway;
    } else if (this.#closing) why = "session is closing";
    else why = "stream ids of this connection are used up";
    return new H2StreamError(ErrorCode.REFUSED_STREAM, `request not sent: ${why}`, {
      retryable: true,
      cause,
    });
  }

  #deadError(): H2StreamError {
    const why = this.#dead;
    if (why instanceof H2StreamError) return why;
    return new H2StreamError(ErrorCode.CANCEL, `session closed${why ? `: ${why.message}` : ""}`, {
      cause: why ?? undefined,
      retryable: true,
    });
  }

  // --- output -------------------------------------------------------------------------------

  /** Writes what was queued in this turn as one socket write (after the current one). */
  #flush(): void {
    if (this.#flushQueued || this.#writing || this.#dead !== undefined) return;
    this.#flushQueued = true;
    queueMicrotask(() => {
      this.#flushQueued = false;
      if (!this.#writing) this.#writeLoop();
    });
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#out.len > 0 && this.#dead === undefined) {
        const b = this.#out;
        this.#out = this.#spare;
        this.#spare = b;
        const v = b.view();
        let p = 0;
        while (p < v.length) p += await this.#conn.write(v.subarray(p));
        b.reset();
        if (this.#sendable.size > 0) this.#pumpSends();
      }
    } catch (e) {
      this.#teardown(
        new H2StreamError(ErrorCode.INTERNAL_ERROR, `connection lost: ${(e as Error).message}`, {
          cause: e,
        }),
      );
    } finally {
      this.#writing = false;
      for (const w of this.#writerIdle.splice(0)) w();
    }
  }

  /** Resolves once no socket write is in progress or queued (or after `ms`). */
  #idleWriter(ms = Infinity): Promise<void> {
    if (!this.#writing && !this.#flushQueued) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let t: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(t);
        const i = this.#writerIdle.indexOf(done);
        if (i >= 0) this.#writerIdle.splice(i, 1);
        resolve();
      };
      if (ms !== Infinity) t = setTimeout(done, ms);
      this.#writerIdle.push(done);
    });
  }

  // --- teardown -----------------------------------------------------------------------------

  /**
   * Ends the connection: open streams fail with `streamErr` (queued ones retryably), pings
   * fail, the socket closes, `closed` resolves with `reason`.
   */
  #teardown(reason: Error | null, streamErr?: H2StreamError, graceful = false): void {
    if (this.#dead !== undefined) return;
    this.#dead = reason;
    const err = streamErr ??
      (reason instanceof H2StreamError
        ? reason
        : new H2StreamError(ErrorCode.CANCEL, "session closed", {
          cause: reason,
        }));
    this.#keepAlive.stop();
    if (this.#signal !== undefined && this.#onSignal !== undefined) {
      this.#signal.removeEventListener("abort", this.#onSignal);
    }
    this.#failQueued(
      new H2StreamError(
        ErrorCode.REFUSED_STREAM,
        `connection ended before the request was sent: ${err.message}`,
        {
          retryable: true,
          cause: err,
        },
      ),
    );
    const open = [...this.#streams.values()];
    this.#streams.clear();
    this.#sendable.clear();
    for (const s of open) s.fail(err);
    for (const p of this.#pings.values()) p.reject(err);
    this.#pings.clear();
    this.#notifyStreams();
    this.#onReady?.(err);
    this.#onReady = undefined;
    // Graceful: what was written still reaches the server (a lingering TLS close).
    if (graceful) {
      try {
        this.#conn.close();
      } catch {
        // Already closed by the peer.
      }
    } else this.#dialed.destroy();
    for (const w of this.#writerIdle.splice(0)) w();
  }

  #watchSignal(signal: AbortSignal): void {
    if (this.#dead !== undefined) return;
    this.#signal = signal;
    this.#onSignal = () =>
      this.destroy(
        signal.reason instanceof Error
          ? signal.reason
          : new Error(`session aborted: ${String(signal.reason)}`),
      );
    signal.addEventListener("abort", this.#onSignal, { once: true });
  }
}
