/**
 * One HTTP/2 server connection (RFC 9113): frame parsing from a growing read buffer without
 * copying, stream states, flow control both ways, SETTINGS, PING, RST_STREAM, GOAWAY with
 * graceful drain, trailers and CONTINUATION, and the limits that keep a hostile peer from
 * crashing or exhausting the process. Frames of all streams are gathered into one buffer and
 * leave in one socket write.
 */
import { FieldHeaders } from "./field_headers.ts";
import { PushBody } from "./push_body.ts";
import { ChunkBody } from "./chunk_body.ts";
import type {
  UniversalHandlerFn,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { ByteBuffer } from "./byte_buffer.ts";
import { BodyMeter, isEnveloped } from "./body_meter.ts";
import {
  DEFAULT_WINDOW,
  ErrorCode,
  Flag,
  FRAME_HEADER_LEN,
  FrameType,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW,
  MIN_MAX_FRAME_SIZE,
  PREFACE,
  readU32,
  Setting,
  writeFrameHeader,
  writeGoaway,
  writeRstStream,
  writeSettings,
  writeWindowUpdate,
} from "./frame.ts";
import { HpackDecoder, HpackEncoder, HpackError } from "./hpack.ts";
import { type HttpLimits, UnsentBudget } from "./limits.ts";
import { CONNECTION_HEADERS, requestUrl } from "./request_url.ts";
import { ResponseAbandonedError } from "./response_abandoned.ts";
import type { ByteConn, H2cUpgrade, ServerConnection } from "./conn.ts";

/** Our SETTINGS_MAX_FRAME_SIZE: the protocol default, which every client already uses. */
const OUR_MAX_FRAME = MIN_MAX_FRAME_SIZE;
/** Holds two maximum-size frames: small enough for many idle connections. */
const READ_BUFFER = 40 * 1024;
/** DATA payloads smaller than this are copied out of the read buffer; larger ones are views. */
const COPY_BELOW = 8 * 1024;
/** Pending output above which response pumps wait for the socket. */
const HIGH_WATER = 1024 * 1024;
/** Pending output above which the connection stops reading from the peer. */
const OUTPUT_PAUSE = 4 * 1024 * 1024;
/** Microtask rounds a flush waits for producing responses (see flushNow). */
const DEFER_ROUNDS = 8;
/** How long a request still sending after its answer is read and dropped before a reset. */
const REQUEST_LINGER_MS = 100;
/** Streams we reset recently: late frames for them are ignored, not errors. */
const RECENT_RESETS = 1024;

/** A fatal connection error: GOAWAY with `code`, then close. */
class ConnectionError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** A stream error: RST_STREAM with `code`; the connection goes on. */
class StreamError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

const DONE: IteratorResult<Uint8Array> = { done: true, value: undefined };

/** One request/response exchange; also the request body's async iterator. */
class H2Stream implements AsyncIterableIterator<Uint8Array> {
  remoteClosed = false;
  localClosed = false;
  headersSent = false;
  reset = false;
  /** Octets we may still send (peer's window for this stream). */
  sendWindow: number;
  /** Octets the peer may still send us before our next WINDOW_UPDATE. */
  recvWindow: number;
  /** Octets consumed by the handler and not yet returned to the peer. */
  recvCredit = 0;
  private chunks: Uint8Array[] = [];
  private chunkHead = 0;
  private bodyError: Error | null = null;
  private waiter: ((r: IteratorResult<Uint8Array>) => void) | null = null;
  private waiterReject: ((e: Error) => void) | null = null;
  windowWaiter: (() => void) | null = null;
  /** The request's signal, built on first read: see `signal`. */
  private ac: AbortController | null = null;
  private aborted = false;
  private abortReason: Error | null = null;
  meter: BodyMeter | null = null;
  /** HEAD request: the response carries no body. */
  noBody = false;
  /** A body cap tripped: further DATA is dropped (the handler already has the error). */
  discarding = false;
  /**
   * Answered before the request ended: the rest of the request is dropped (discarding), not
   * refused as DATA after END_STREAM, whose reset reached a gRPC client while it still sent
   * and failed its call ("write ECANCELED") before it read the answer's status.
   */
  answeredEarly = false;
  /** Bounds how long a stream answered before its request ended may linger (see below). */
  lingerTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  contentLength = -1;
  received = 0;
  /** Since when the response has waited for window without sending an octet (0: not). */
  stalledSince = 0;

  constructor(readonly id: number, readonly conn: H2Connection, sendWindow: number, recv: number) {
    this.sendWindow = sendWindow;
    this.recvWindow = recv;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.chunkHead < this.chunks.length) {
      const c = this.chunks[this.chunkHead];
      this.chunks[this.chunkHead++] = EMPTY;
      if (this.chunkHead === this.chunks.length) {
        this.chunks.length = 0;
        this.chunkHead = 0;
      }
      this.conn.consumed(this, c.length);
      return Promise.resolve({ done: false, value: c });
    }
    if (this.bodyError !== null) return Promise.reject(this.bodyError);
    if (this.remoteClosed) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.waiterReject = reject;
    });
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    return Promise.resolve(DONE);
  }

  /** Queue received body octets for the handler. */
  push(chunk: Uint8Array): void {
    const w = this.waiter;
    if (w !== null) {
      this.waiter = this.waiterReject = null;
      this.conn.consumed(this, chunk.length);
      w({ done: false, value: chunk });
    } else {
      this.chunks.push(chunk);
    }
  }

  /** The peer ended its side (END_STREAM). */
  endBody(): void {
    this.remoteClosed = true;
    // no more DATA to count: not held while the request waits for its answer
    this.meter = null;
    const w = this.waiter;
    if (w !== null) {
      this.waiter = this.waiterReject = null;
      w(DONE);
    }
  }

  /** The body will not complete: reset, lost connection, or a cap. */
  failBody(e: Error, closeRemote = true): void {
    if (this.bodyError === null && !this.remoteClosed) this.bodyError = e;
    if (closeRemote) this.remoteClosed = true;
    const r = this.waiterReject;
    if (r !== null) {
      this.waiter = this.waiterReject = null;
      r(this.bodyError ?? e);
    }
  }

  /**
   * Aborted when the client resets the stream or the connection goes. Built on first read:
   * a unary gRPC call never reads it (its CallContext links to it only when a handler asks
   * for the call's signal), and an AbortController per request held while the request waits
   * for its commit was a tenth of what it holds (docs/perf.md "Memory per request, fifth
   * session"). A signal first read after the abort is aborted with the same reason.
   */
  get signal(): AbortSignal {
    if (this.ac === null) {
      this.ac = new AbortController();
      if (this.aborted) this.ac.abort(this.abortReason);
    }
    return this.ac.signal;
  }

  /** Aborts the signal (now, or as it is built) with `reason`; later calls change nothing. */
  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    this.ac?.abort(reason);
  }

  wakeWindow(): void {
    const w = this.windowWaiter;
    if (w !== null) {
      this.windowWaiter = null;
      w();
    }
  }
}

const EMPTY = new Uint8Array(0);

/** Options of one HTTP/2 connection. */
export interface H2ConnectionOptions {
  handler: UniversalHandlerFn;
  limits: HttpLimits;
  scheme: "http" | "https";
  /** Host:port to use in request URLs when the client's authority is unusable. */
  localAuthority: string;
  /** Octets already read from the socket (the sniffed preface). */
  initial?: Uint8Array;
  /** Called once when the connection is fully closed. */
  onClose: (c: ServerConnection) => void;
  /** The HTTP/1.1 request this connection was upgraded from (h2c); answered on stream 1. */
  upgrade?: H2cUpgrade;
  /** Unsent response octets of the whole server (default: this connection's alone). */
  unsent?: UnsentBudget;
}

/** A server-side HTTP/2 connection; `run()` serves it until it closes. */
export class H2Connection implements ServerConnection {
  private readonly handler: UniversalHandlerFn;
  private readonly limits: HttpLimits;
  private readonly scheme: string;
  private readonly localAuthority: string;
  private readonly onClose: (c: ServerConnection) => void;

  private readonly streams = new Map<number, H2Stream>();
  private readonly recentResets = new Set<number>();
  private lastStreamId = 0;
  private readonly decoder: HpackDecoder;
  private readonly encoder = new HpackEncoder();
  private readonly fields: string[] = [];

  private out = new ByteBuffer(16 * 1024);
  private spare = new ByteBuffer(16 * 1024);
  private readonly hpackBuf = new ByteBuffer(4096);
  private flushQueued = false;
  private writing = false;
  private drainWaiters: (() => void)[] = [];

  // Peer settings.
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = MIN_MAX_FRAME_SIZE;
  private sendWindow = DEFAULT_WINDOW;
  private readonly windowBlocked = new Set<H2Stream>();

  // Our receive side.
  private recvWindow = DEFAULT_WINDOW;
  private recvUnacked = 0;
  private settingsAcked = false;

  // Header block being assembled across CONTINUATION frames.
  private contStream = 0;
  /** When the header block of contStream began. */
  private contSince = 0;
  /** When the incomplete non-DATA frame at the head of the read buffer began (0: none). */
  private partialSince = 0;
  private contFlags = 0;
  private contFrames = 0;
  private readonly contBuf = new ByteBuffer(4096);

  private prefaceDone = false;
  private gotSettings = false;
  private goawaySent = false;
  private peerGoaway = false;
  private closing = false;
  private dead = false;
  private closed: Promise<void>;
  private resolveClosed!: () => void;

  private controlCount = 0;
  private controlWindowStart = 0;
  lastActivity = Date.now();
  private readonly openedAt = Date.now();
  private writeSince = 0;
  private drainTimer: ReturnType<typeof setTimeout> | undefined = undefined;

  constructor(private readonly io: ByteConn, opts: H2ConnectionOptions) {
    this.handler = opts.handler;
    this.limits = opts.limits;
    this.scheme = opts.scheme;
    this.localAuthority = opts.localAuthority;
    this.onClose = opts.onClose;
    this.decoder = new HpackDecoder(4096);
    this.closed = new Promise((r) => this.resolveClosed = r);
    this.pending = opts.initial ?? EMPTY;
    this.upgrade = opts.upgrade;
    this.unsent = opts.unsent ?? new UnsentBudget();
  }

  /** Response octets taken from handlers and not yet in the output buffer. */
  private parked = 0;
  /** What this connection counts in `unsent` now. */
  private reported = 0;
  private readonly unsent: UnsentBudget;

  /** Response octets this connection holds for its peer: parked and in the output buffers. */
  private held(): number {
    return this.parked + this.out.len + this.spare.len;
  }

  /** Brings the server-wide count up to date with what this connection holds. */
  private report(): void {
    const h = this.dead ? 0 : this.held();
    this.unsent.total += h - this.reported;
    this.reported = h;
  }

  /**
   * True when `n` more response octets stay within the connection's and the server's bound
   * (maxUnsentBytes, maxUnsentBytesTotal). A connection with nothing parked and its output
   * not backed up may take one response beyond its own bound (and beyond the server's when
   * no other connection holds anything), so a response larger than the bound still goes out.
   */
  private mayHold(n: number): boolean {
    this.report();
    const buffered = this.out.len + this.spare.len;
    const alone = this.parked === 0 && buffered < OUTPUT_PAUSE;
    const mine = alone || this.parked + buffered + n <= this.limits.maxUnsentBytes;
    const all = this.unsent.total + n <= this.limits.maxUnsentBytesTotal ||
      (alone && this.unsent.total === this.reported);
    return mine && all;
  }

  private upgrade: H2cUpgrade | undefined;

  private pending: Uint8Array;

  /** Serve the connection until it closes; never rejects. */
  async run(): Promise<void> {
    const l = this.limits;
    writeSettings(this.out, [
      [Setting.MAX_CONCURRENT_STREAMS, l.maxConcurrentStreams],
      [Setting.INITIAL_WINDOW_SIZE, l.streamWindow],
      [Setting.MAX_HEADER_LIST_SIZE, l.maxHeaderListSize],
    ]);
    if (l.connectionWindow > DEFAULT_WINDOW) {
      writeWindowUpdate(this.out, 0, l.connectionWindow - DEFAULT_WINDOW);
      this.recvWindow = l.connectionWindow;
    }
    this.scheduleFlush();
    if (this.upgrade !== undefined) this.startUpgraded(this.upgrade);
    let buf = new Uint8Array(READ_BUFFER);
    let start = 0;
    let end = 0;
    if (this.pending.length > 0) {
      buf.set(this.pending);
      end = this.pending.length;
      this.pending = EMPTY;
    }
    try {
      for (;;) {
        // Parse every complete frame in buf[start, end).
        let handedOut = false;
        if (!this.prefaceDone) {
          const n = Math.min(end - start, PREFACE.length);
          for (let i = 0; i < n; i++) {
            if (buf[start + i] !== PREFACE[i]) {
              throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "invalid connection preface");
            }
          }
          if (n === PREFACE.length) {
            this.prefaceDone = true;
            start += n;
          }
        }
        while (this.prefaceDone && end - start >= FRAME_HEADER_LEN && !this.closing) {
          const len = (buf[start] << 16) | (buf[start + 1] << 8) | buf[start + 2];
          if (len > OUR_MAX_FRAME) {
            throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "frame larger than max");
          }
          if (end - start < FRAME_HEADER_LEN + len) break;
          const type = buf[start + 3];
          const flags = buf[start + 4];
          const sid = readU32(buf, start + 5) & 0x7fffffff;
          const p = start + FRAME_HEADER_LEN;
          start = p + len;
          this.partialSince = 0;
          if (this.frame(type, flags, sid, buf, p, p + len)) handedOut = true;
        }
        if (this.closing || this.dead) break;
        // A frame other than DATA begun and not complete, or a header block awaiting its
        // CONTINUATION: both must be done within headerTimeoutMs (see tick).
        if (this.prefaceDone && end > start && this.partialSince === 0) {
          if (end - start < 4 || buf[start + 3] !== FrameType.DATA) this.partialSince = Date.now();
        }
        // Make room: compact, or move to a fresh buffer if views of this one were handed out.
        if (start === end) {
          start = end = 0;
          if (handedOut) buf = new Uint8Array(READ_BUFFER);
        } else if (handedOut || buf.length - end < 4096) {
          const rest = end - start;
          const next = handedOut || rest + 4096 > buf.length
            ? new Uint8Array(Math.max(READ_BUFFER, rest + FRAME_HEADER_LEN + OUR_MAX_FRAME))
            : buf;
          if (next === buf) buf.copyWithin(0, start, end);
          else next.set(buf.subarray(start, end));
          buf = next;
          start = 0;
          end = rest;
        }
        // A peer that sends but does not read (PING or RST floods, huge responses) stops being
        // read until its answers drain: our output stays bounded.
        while (this.out.len + this.spare.len > OUTPUT_PAUSE && !this.dead) {
          await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
        }
        if (this.dead) break;
        const n = await this.io.read(buf.subarray(end));
        if (n === null) break;
        end += n;
        this.lastActivity = Date.now();
      }
    } catch (e) {
      if (e instanceof ConnectionError) {
        this.fatal(e.code, e.message);
      } else if (!this.dead) {
        // Socket errors (reset by peer) and anything unexpected: close quietly.
        if (
          !(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.ConnectionReset ||
            e instanceof Deno.errors.Interrupted || e instanceof Deno.errors.BrokenPipe)
        ) {
          this.fatal(ErrorCode.INTERNAL_ERROR, "internal error");
        }
      }
    }
    if (!this.closing) this.destroy();
    await this.closed;
  }

  /** Graceful shutdown: GOAWAY, let in-flight streams finish, then close. */
  shutdown(): void {
    if (this.dead) return;
    if (!this.goawaySent) {
      this.goawaySent = true;
      writeGoaway(this.out, this.lastStreamId, ErrorCode.NO_ERROR);
      this.scheduleFlush();
    }
    if (this.drainTimer === undefined) {
      this.drainTimer = setTimeout(() => {
        this.drainTimer = undefined;
        this.destroy();
      }, this.limits.drainTimeoutMs);
    }
    this.maybeFinish();
  }

  /** Periodic check from the server: idle and slow-preface timeouts. */
  tick(now: number): void {
    if (this.dead) return;
    if (this.writing && now - this.writeSince > this.limits.idleTimeoutMs) {
      this.destroy(); // the peer stopped reading
      return;
    }
    if (this.closing) return;
    for (const s of this.streams.values()) {
      if (s.stalledSince !== 0 && now - s.stalledSince > this.limits.stallTimeoutMs) {
        // no window for too long: free what it holds
        this.resetStream(
          s,
          ErrorCode.CANCEL,
          new ResponseAbandonedError(ErrorCode.CANCEL, "no flow-control window in time"),
        );
      }
    }
    if (!this.gotSettings && now - this.openedAt > this.limits.headerTimeoutMs) {
      this.fatal(ErrorCode.SETTINGS_TIMEOUT, "no preface in time");
    } else if (
      (this.partialSince !== 0 && now - this.partialSince > this.limits.headerTimeoutMs) ||
      (this.contStream !== 0 && now - this.contSince > this.limits.headerTimeoutMs)
    ) {
      // a HEADERS frame (or any non-DATA frame, or a header block) trickled in (slowloris)
      this.fatal(ErrorCode.ENHANCE_YOUR_CALM, "header not complete in time");
    } else if (this.streams.size === 0 && now - this.lastActivity > this.limits.idleTimeoutMs) {
      this.shutdown();
    }
  }

  /** Resolves when the connection is closed. */
  done(): Promise<void> {
    return this.closed;
  }

  // ---- frames in ----

  /** Handle one frame; returns true if a view into `b` was retained. */
  private frame(type: number, flags: number, sid: number, b: Uint8Array, p: number, e: number) {
    if (this.contStream !== 0 && type !== FrameType.CONTINUATION) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "expected CONTINUATION");
    }
    if (!this.gotSettings && type !== FrameType.SETTINGS) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "first frame must be SETTINGS");
    }
    try {
      switch (type) {
        case FrameType.DATA:
          return this.onData(flags, sid, b, p, e);
        case FrameType.HEADERS:
          this.onHeaders(flags, sid, b, p, e);
          return false;
        case FrameType.PRIORITY:
          if (sid === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PRIORITY on 0");
          if (e - p !== 5) throw new StreamError(ErrorCode.FRAME_SIZE_ERROR, "PRIORITY size");
          if ((readU32(b, p) & 0x7fffffff) === sid) {
            throw new StreamError(ErrorCode.PROTOCOL_ERROR, "stream depends on itself");
          }
          return false;
        case FrameType.RST_STREAM:
          this.onRstStream(sid, b, p, e);
          return false;
        case FrameType.SETTINGS:
          this.onSettings(flags, sid, b, p, e);
          return false;
        case FrameType.PUSH_PROMISE:
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE from client");
        case FrameType.PING:
          if (sid !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PING on stream");
          if (e - p !== 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "PING size");
          if ((flags & Flag.ACK) === 0) {
            this.control();
            writeFrameHeader(this.out, 8, FrameType.PING, Flag.ACK, 0);
            this.out.bytes(b.subarray(p, e));
            this.scheduleFlush();
          }
          return false;
        case FrameType.GOAWAY:
          if (sid !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "GOAWAY on stream");
          if (e - p < 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "GOAWAY size");
          this.peerGoaway = true;
          this.maybeFinish();
          return false;
        case FrameType.WINDOW_UPDATE:
          this.onWindowUpdate(sid, b, p, e);
          return false;
        case FrameType.CONTINUATION:
          this.onContinuation(flags, sid, b, p, e);
          return false;
        default:
          return false; // unknown frame types are ignored (RFC 9113 4.1)
      }
    } catch (err) {
      if (err instanceof StreamError) {
        this.streamError(sid, err.code);
        return false;
      }
      throw err;
    }
  }

  /** Count a control frame; a flood ends the connection. */
  private control(): void {
    const now = Date.now();
    if (now - this.controlWindowStart >= 1000) {
      this.controlWindowStart = now;
      this.controlCount = 0;
    }
    if (++this.controlCount > this.limits.maxControlFramesPerSecond) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "control frame flood");
    }
  }

  private onData(flags: number, sid: number, b: Uint8Array, p: number, e: number): boolean {
    if (sid === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0");
    const frameLen = e - p;
    // Connection flow control counts the whole payload, padding included.
    if (frameLen > this.recvWindow) {
      throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "connection window exceeded");
    }
    this.recvWindow -= frameLen;
    this.creditConnection(frameLen);
    if (flags & Flag.PADDED) {
      if (frameLen < 1) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "DATA padding");
      const pad = b[p];
      p++;
      if (pad > e - p) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "DATA padding");
      e -= pad;
    }
    const s = this.streams.get(sid);
    if (s === undefined) {
      if (sid > this.lastStreamId) {
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "DATA on idle stream");
      }
      if (!this.recentResets.has(sid)) {
        throw new StreamError(ErrorCode.STREAM_CLOSED, "DATA on closed stream");
      }
      return false;
    }
    if (s.remoteClosed && !s.answeredEarly) {
      throw new StreamError(ErrorCode.STREAM_CLOSED, "DATA after END_STREAM");
    }
    if (frameLen > s.recvWindow) {
      throw new StreamError(ErrorCode.FLOW_CONTROL_ERROR, "stream window exceeded");
    }
    s.recvWindow -= frameLen;
    const n = e - p;
    // Padding is never consumed by the handler: return it to the peer at once.
    if (frameLen > n) this.consumed(s, frameLen - n);
    if (n === 0 && (flags & Flag.END_STREAM) === 0) this.control();
    s.received += n;
    if (s.contentLength >= 0 && s.received > s.contentLength) {
      throw new StreamError(ErrorCode.PROTOCOL_ERROR, "body longer than content-length");
    }
    let retained = false;
    if (s.discarding) {
      // Past a body cap: the handler has its error and answers; drop the rest, keep the
      // peer's window open so it can finish sending and read the answer.
      this.consumed(s, n);
      if (flags & Flag.END_STREAM) {
        if (s.answeredEarly && s.contentLength >= 0 && s.received !== s.contentLength) {
          // curl, answered before it sent its body, ends the request short of its
          // content-length and waits for the reset such a request gets
          throw new StreamError(ErrorCode.PROTOCOL_ERROR, "body shorter than content-length");
        }
        s.remoteClosed = true;
        this.maybeCloseStream(s);
      }
      return false;
    }
    if (n > 0) {
      if (s.meter !== null) {
        const tooLarge = s.meter.add(b, p, e);
        if (tooLarge !== null) {
          s.discarding = true;
          s.failBody(tooLarge, false);
          this.consumed(s, n);
          if (flags & Flag.END_STREAM) {
            s.remoteClosed = true;
            this.maybeCloseStream(s);
          }
          return false;
        }
      }
      let chunk: Uint8Array;
      if (n < COPY_BELOW) chunk = b.slice(p, e);
      else {
        chunk = b.subarray(p, e);
        retained = true;
      }
      s.push(chunk);
    }
    if (flags & Flag.END_STREAM) {
      if (s.contentLength >= 0 && s.received !== s.contentLength) {
        throw new StreamError(ErrorCode.PROTOCOL_ERROR, "body shorter than content-length");
      }
      s.endBody();
      this.maybeCloseStream(s);
    }
    return retained;
  }

  private onHeaders(flags: number, sid: number, b: Uint8Array, p: number, e: number): void {
    if (sid === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "HEADERS on stream 0");
    if (flags & Flag.PADDED) {
      if (e - p < 1) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "HEADERS padding");
      const pad = b[p];
      p++;
      if (pad > e - p) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "HEADERS padding");
      e -= pad;
    }
    let selfDependent = false;
    if (flags & Flag.PRIORITY) {
      if (e - p < 5) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "HEADERS priority");
      selfDependent = (readU32(b, p) & 0x7fffffff) === sid;
      p += 5;
    }
    if (flags & Flag.END_HEADERS) {
      this.headerBlock(flags, sid, b, p, e, selfDependent);
    } else {
      this.contStream = sid;
      this.contSince = Date.now();
      this.contFlags = flags | (selfDependent ? 0x100 : 0);
      this.contFrames = 1;
      this.contBuf.reset();
      this.contBuf.bytes(b.subarray(p, e));
    }
  }

  private onContinuation(flags: number, sid: number, b: Uint8Array, p: number, e: number): void {
    if (this.contStream === 0 || sid !== this.contStream) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "unexpected CONTINUATION");
    }
    if (++this.contFrames > this.limits.maxContinuationFrames) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many CONTINUATION frames");
    }
    if (this.contBuf.len + (e - p) > this.limits.maxHeaderListSize * 2 + 16384) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "header block too large");
    }
    if (e - p === 0 && (flags & Flag.END_HEADERS) === 0) this.control();
    this.contBuf.bytes(b.subarray(p, e));
    if (flags & Flag.END_HEADERS) {
      const f = this.contFlags;
      this.contStream = 0;
      const buf = this.contBuf;
      this.headerBlock(f & 0xff, sid, buf.buf, 0, buf.len, (f & 0x100) !== 0);
    }
  }

  /** A complete header block for `sid`: new request, trailers, or something to refuse. */
  private headerBlock(
    flags: number,
    sid: number,
    b: Uint8Array,
    p: number,
    e: number,
    selfDependent: boolean,
  ): void {
    const fields = this.fields;
    fields.length = 0;
    let listSize: number;
    try {
      listSize = this.decoder.decode(b, p, e, fields, this.limits.maxHeaderListSize);
    } catch (err) {
      if (err instanceof HpackError) {
        throw new ConnectionError(ErrorCode.COMPRESSION_ERROR, err.message);
      }
      throw err;
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    const existing = this.streams.get(sid);
    if (existing !== undefined) {
      // Trailers.
      if (existing.remoteClosed && !existing.answeredEarly) {
        throw new StreamError(ErrorCode.STREAM_CLOSED, "HEADERS after END_STREAM");
      }
      if (!endStream) throw new StreamError(ErrorCode.PROTOCOL_ERROR, "trailers without END");
      for (let i = 0; i < fields.length; i += 2) {
        if (fields[i].charCodeAt(0) === 58) {
          throw new StreamError(ErrorCode.PROTOCOL_ERROR, "pseudo-header in trailers");
        }
      }
      if (existing.contentLength >= 0 && existing.received !== existing.contentLength) {
        throw new StreamError(ErrorCode.PROTOCOL_ERROR, "body shorter than content-length");
      }
      existing.endBody();
      this.maybeCloseStream(existing);
      return;
    }
    if ((sid & 1) === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "even stream id");
    if (sid <= this.lastStreamId) {
      if (this.recentResets.has(sid)) return;
      throw new ConnectionError(ErrorCode.STREAM_CLOSED, "HEADERS on closed stream");
    }
    this.lastStreamId = sid;
    if (selfDependent) throw new StreamError(ErrorCode.PROTOCOL_ERROR, "stream depends on itself");
    if (this.goawaySent || this.closing) {
      throw new StreamError(ErrorCode.REFUSED_STREAM, "shutting down");
    }
    if (this.streams.size >= this.limits.maxConcurrentStreams) {
      throw new StreamError(ErrorCode.REFUSED_STREAM, "too many concurrent streams");
    }
    const s = new H2Stream(
      sid,
      this,
      this.peerInitialWindow,
      this.settingsAcked
        ? this.limits.streamWindow
        : Math.max(this.limits.streamWindow, DEFAULT_WINDOW),
    );
    if (listSize > this.limits.maxHeaderListSize) {
      // Answer 431 and refuse the rest of the request.
      this.streams.set(sid, s);
      if (endStream) s.endBody();
      this.respondStatus(s, 431);
      return;
    }
    this.startRequest(s, fields, endStream);
  }

  private startRequest(s: H2Stream, fields: string[], endStream: boolean): void {
    let method = "";
    let scheme = "";
    let path = "";
    let authority = "";
    let regular = false;
    const header = new FieldHeaders();
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i];
      const value = fields[i + 1];
      if (name.charCodeAt(0) === 58) {
        if (regular) throw new StreamError(ErrorCode.PROTOCOL_ERROR, "pseudo-header after field");
        switch (name) {
          case ":method":
            if (method !== "") throw new StreamError(ErrorCode.PROTOCOL_ERROR, "dup :method");
            method = value;
            break;
          case ":scheme":
            if (scheme !== "") throw new StreamError(ErrorCode.PROTOCOL_ERROR, "dup :scheme");
            scheme = value;
            break;
          case ":path":
            if (path !== "") throw new StreamError(ErrorCode.PROTOCOL_ERROR, "dup :path");
            path = value;
            break;
          case ":authority":
            if (authority !== "") throw new StreamError(ErrorCode.PROTOCOL_ERROR, "dup :authority");
            authority = value;
            break;
          default:
            throw new StreamError(ErrorCode.PROTOCOL_ERROR, `unknown pseudo-header ${name}`);
        }
        continue;
      }
      regular = true;
      for (let j = 0; j < name.length; j++) {
        const c = name.charCodeAt(j);
        if (c >= 65 && c <= 90) {
          throw new StreamError(ErrorCode.PROTOCOL_ERROR, "upper-case header name");
        }
      }
      if (CONNECTION_HEADERS.has(name)) {
        throw new StreamError(ErrorCode.PROTOCOL_ERROR, `connection-specific field ${name}`);
      }
      if (name === "te" && value !== "trailers") {
        throw new StreamError(ErrorCode.PROTOCOL_ERROR, "te other than trailers");
      }
      if (name === "content-length") {
        if (!/^[0-9]{1,15}$/.test(value) || (s.contentLength >= 0 && +value !== s.contentLength)) {
          throw new StreamError(ErrorCode.PROTOCOL_ERROR, "bad content-length");
        }
        s.contentLength = +value;
      }
      try {
        header.appendChecked(name, value);
      } catch {
        throw new StreamError(ErrorCode.PROTOCOL_ERROR, "invalid header field");
      }
    }
    if (method === "" || (method !== "CONNECT" && (scheme === "" || path === ""))) {
      throw new StreamError(ErrorCode.PROTOCOL_ERROR, "missing pseudo-header");
    }
    if (method === "CONNECT") throw new StreamError(ErrorCode.REFUSED_STREAM, "CONNECT");
    if (path.charCodeAt(0) !== 47 && !(path === "*" && method === "OPTIONS")) {
      throw new StreamError(ErrorCode.PROTOCOL_ERROR, "bad :path");
    }
    if (authority === "") authority = header.get("host") ?? "";
    if (endStream && s.contentLength > 0) {
      throw new StreamError(ErrorCode.PROTOCOL_ERROR, "body shorter than content-length");
    }
    this.streams.set(s.id, s);
    s.noBody = method === "HEAD";
    s.meter = new BodyMeter(isEnveloped(header.get("content-type")), this.limits);
    if (endStream) s.endBody();
    const req: UniversalServerRequest = {
      httpVersion: "2",
      url: requestUrl(scheme, authority, path === "*" ? "/" : path, this.localAuthority),
      method,
      header,
      body: s,
      get signal() {
        return s.signal;
      },
    };
    let res: Promise<UniversalServerResponse>;
    try {
      res = this.handler(req);
    } catch (e) {
      res = Promise.reject(e);
    }
    res.then((r) => this.respond(s, r), () => this.handlerFailed(s));
  }

  private onRstStream(sid: number, b: Uint8Array, p: number, e: number): void {
    if (sid === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on 0");
    if (e - p !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "RST_STREAM size");
    if (sid > this.lastStreamId) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on idle stream");
    }
    this.control();
    const s = this.streams.get(sid);
    if (s === undefined) return;
    const code = readU32(b, p);
    s.reset = true;
    s.failBody(new Error(`stream reset by client (code ${code})`));
    s.abort(new Error(`stream reset by client (code ${code})`));
    this.removeStream(s, false);
  }

  private onSettings(flags: number, sid: number, b: Uint8Array, p: number, e: number): void {
    if (sid !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "SETTINGS on stream");
    if (flags & Flag.ACK) {
      if (e !== p) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK size");
      this.settingsAcked = true;
      return;
    }
    if ((e - p) % 6 !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS size");
    if (this.gotSettings) this.control();
    this.gotSettings = true;
    this.applySettings(b, p, e);
    writeFrameHeader(this.out, 0, FrameType.SETTINGS, Flag.ACK, 0);
    this.scheduleFlush();
  }

  /** Apply the peer's settings in `b[p, e)` (a SETTINGS payload or HTTP2-Settings). */
  private applySettings(b: Uint8Array, p: number, e: number): void {
    for (let i = p; i < e; i += 6) {
      const id = (b[i] << 8) | b[i + 1];
      const v = readU32(b, i + 2);
      switch (id) {
        case Setting.HEADER_TABLE_SIZE:
          this.encoder.setMaxTableSize(v);
          break;
        case Setting.ENABLE_PUSH:
          if (v > 1) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "ENABLE_PUSH");
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          if (v > MAX_WINDOW) {
            throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE");
          }
          const delta = v - this.peerInitialWindow;
          this.peerInitialWindow = v;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) {
              throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "window overflow");
            }
            if (delta > 0) s.wakeWindow();
          }
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          if (v < MIN_MAX_FRAME_SIZE || v > MAX_MAX_FRAME_SIZE) {
            throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "MAX_FRAME_SIZE");
          }
          this.peerMaxFrame = v;
          break;
        default:
          break; // MAX_CONCURRENT_STREAMS (we push nothing), MAX_HEADER_LIST_SIZE, unknown
      }
    }
  }

  /** h2c: the upgraded HTTP/1.1 request becomes stream 1, half-closed (remote). */
  private startUpgraded(u: H2cUpgrade): void {
    this.upgrade = undefined;
    try {
      this.applySettings(u.settings, 0, u.settings.length);
    } catch (e) {
      if (e instanceof ConnectionError) {
        this.fatal(e.code, e.message);
        return;
      }
      throw e;
    }
    this.lastStreamId = 1;
    const fields: string[] = [
      ":method",
      u.method,
      ":scheme",
      "http",
      ":path",
      u.path,
      ":authority",
      u.authority,
    ];
    u.header.forEach((value, name) => {
      if (CONNECTION_HEADERS.has(name) || name === "http2-settings" || name === "host") return;
      if (name === "te" && value !== "trailers") return;
      fields.push(name, value);
    });
    const s = new H2Stream(1, this, this.peerInitialWindow, this.limits.streamWindow);
    try {
      this.startRequest(s, fields, true);
    } catch (e) {
      if (e instanceof StreamError) this.streamError(1, e.code);
      else throw e;
    }
  }

  private onWindowUpdate(sid: number, b: Uint8Array, p: number, e: number): void {
    if (e - p !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "WINDOW_UPDATE size");
    const inc = readU32(b, p) & 0x7fffffff;
    if (sid === 0) {
      if (inc === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "zero window increment");
      this.sendWindow += inc;
      if (this.sendWindow > MAX_WINDOW) {
        throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "connection window overflow");
      }
      for (const s of this.windowBlocked) s.wakeWindow();
      this.windowBlocked.clear();
      return;
    }
    const s = this.streams.get(sid);
    if (s === undefined) {
      if (sid > this.lastStreamId) {
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE on idle stream");
      }
      return;
    }
    if (inc === 0) throw new StreamError(ErrorCode.PROTOCOL_ERROR, "zero window increment");
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) {
      throw new StreamError(ErrorCode.FLOW_CONTROL_ERROR, "stream window overflow");
    }
    s.wakeWindow();
  }

  // ---- flow control, receive side ----

  private creditConnection(n: number): void {
    this.recvUnacked += n;
    if (this.recvUnacked >= this.limits.connectionWindow / 2 || this.recvWindow < 16384) {
      writeWindowUpdate(this.out, 0, this.recvUnacked);
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
      this.scheduleFlush();
    }
  }

  /** The handler took `n` octets of `s`'s body: return window to the peer in batches. */
  consumed(s: H2Stream, n: number): void {
    if ((s.remoteClosed && !s.answeredEarly) || s.reset || this.dead) return;
    s.recvCredit += n;
    if (s.recvCredit >= this.limits.streamWindow / 2 || s.recvWindow < 16384) {
      writeWindowUpdate(this.out, s.id, s.recvCredit);
      s.recvWindow += s.recvCredit;
      s.recvCredit = 0;
      this.scheduleFlush();
    }
  }

  // ---- responses ----

  private async respond(s: H2Stream, res: UniversalServerResponse): Promise<void> {
    if (s.reset || this.dead) {
      if (res.body !== undefined) void drop(res.body);
      return;
    }
    const body = s.noBody || res.status === 204 || res.status === 304 ? undefined : res.body;
    if (body !== res.body && res.body !== undefined) void drop(res.body);
    if (body === undefined) {
      const t = res.trailer;
      const hasTrailer = t !== undefined && !isEmpty(t);
      this.writeHeaders(s, res.status, res.header, !hasTrailer, false);
      if (hasTrailer) this.writeHeaders(s, 0, t, true, true);
      s.localClosed = true;
      this.maybeCloseStream(s);
      return;
    }
    if (
      body instanceof ChunkBody && body.bytes.length <= s.sendWindow &&
      body.bytes.length <= this.sendWindow
    ) {
      // one chunk in hand that the windows admit: HEADERS, DATA and trailers in this turn
      if (!this.mayHold(body.bytes.length)) {
        this.resetStream(s, ErrorCode.ENHANCE_YOUR_CALM, tooMuchUnsent());
        return;
      }
      this.writeHeaders(s, res.status, res.header, false, false);
      this.writeData(s, body.bytes, 0);
      const t = res.trailer;
      if (t !== undefined && !isEmpty(t)) this.writeHeaders(s, 0, t, true, true);
      else {
        writeFrameHeader(this.out, 0, FrameType.DATA, Flag.END_STREAM, s.id);
        this.scheduleFlush();
      }
      s.localClosed = true;
      this.maybeCloseStream(s);
      return;
    }
    const it = body[Symbol.asyncIterator]();
    const push = body instanceof PushBody ? body : undefined;
    // While this response is producing (awaiting its body), flushes of the connection are held
    // for a few microtask rounds, so HEADERS, DATA and trailers of a unary response
    // (and of every other response finishing in the same turn) leave in one write. HEADERS
    // wait for the first chunk, as grpc-go does.
    this.holds++;
    try {
      let r = await it.next();
      if (s.reset || this.dead) {
        void it.return?.();
        return;
      }
      this.writeHeaders(s, res.status, res.header, false, false);
      while (!r.done) {
        const chunk = r.value;
        if (!this.mayHold(chunk.length)) {
          this.resetStream(s, ErrorCode.ENHANCE_YOUR_CALM, tooMuchUnsent());
          void it.return?.();
          return;
        }
        let off = 0;
        while (off < chunk.length) {
          const from = off;
          off = this.writeData(s, chunk, off);
          if (s.reset || this.dead) break;
          if (off > from) s.stalledSince = 0;
          if (off < chunk.length) {
            // the rest waits for window (counted as held; tick resets a stream that stalls)
            const rest = chunk.length - off;
            if (s.stalledSince === 0) s.stalledSince = Date.now();
            this.parked += rest;
            try {
              await this.unheld(this.windowOpen(s));
            } finally {
              this.parked -= rest;
              this.report();
            }
          }
        }
        s.stalledSince = 0;
        if (this.out.len + this.spare.len > HIGH_WATER && !this.dead) {
          await this.unheld(new Promise<void>((resolve) => this.drainWaiters.push(resolve)));
        }
        if (s.reset || this.dead) {
          void it.return?.();
          return;
        }
        if (push !== undefined) {
          // idle until the producer pushes again: its chunks go straight into the frames
          // (directWriter), and an idle stream does not hold the connection's flushes
          push.direct ??= this.directWriter(s);
          this.release();
          try {
            r = await it.next();
          } finally {
            this.holds++;
          }
        } else r = await it.next();
      }
      if (s.reset || this.dead) return;
      // Trailers are read only now: Connect fills them in while the body runs.
      const t = res.trailer;
      if (t !== undefined && !isEmpty(t)) this.writeHeaders(s, 0, t, true, true);
      else {
        writeFrameHeader(this.out, 0, FrameType.DATA, Flag.END_STREAM, s.id);
        this.scheduleFlush();
      }
      s.localClosed = true;
      this.maybeCloseStream(s);
    } catch {
      if (!s.reset && !this.dead) {
        if (!s.headersSent) this.respondStatus(s, 500);
        else this.resetStream(s, ErrorCode.INTERNAL_ERROR);
      }
    } finally {
      if (push !== undefined) push.direct = undefined;
      this.release();
    }
  }

  /**
   * Writes a pushed chunk of `s` (lib/http/push_body.ts) into the frames at once when the
   * windows admit all of it and the connection may hold it; false leaves it to the pump.
   */
  private directWriter(s: H2Stream): (chunk: Uint8Array) => boolean {
    return (chunk) => {
      if (
        s.reset || this.dead || chunk.length > s.sendWindow || chunk.length > this.sendWindow ||
        this.out.len + this.spare.len > HIGH_WATER || !this.mayHold(chunk.length)
      ) return false;
      this.writeData(s, chunk, 0);
      s.stalledSince = 0;
      return true;
    };
  }

  /** Count of responses currently producing; while > 0, flushes wait a few microtask rounds. */
  private holds = 0;

  private release(): void {
    if (--this.holds === 0 && this.flushQueued) {
      this.deferRounds = 0;
      if (!this.writing && !this.dead) void this.writeLoop();
    }
  }

  /** Await `p` without holding the connection's flushes. */
  private async unheld(p: Promise<void>): Promise<void> {
    this.release();
    try {
      await p;
    } finally {
      this.holds++;
    }
  }

  /** Resolves when `s` or the connection may have gained send window (or `s` ended). */
  private windowOpen(s: H2Stream): Promise<void> {
    return new Promise<void>((resolve) => {
      s.windowWaiter = resolve;
      if (this.sendWindow <= 0) this.windowBlocked.add(s);
    });
  }

  /**
   * Queue as much of `chunk` from `off` as flow control allows, as DATA frames; returns the
   * new offset.
   */
  private writeData(s: H2Stream, chunk: Uint8Array, off: number): number {
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, s.sendWindow, this.sendWindow, this.peerMaxFrame);
      if (n <= 0) break;
      writeFrameHeader(this.out, n, FrameType.DATA, 0, s.id);
      this.out.bytes(chunk.subarray(off, off + n));
      off += n;
      s.sendWindow -= n;
      this.sendWindow -= n;
    }
    this.scheduleFlush();
    return off;
  }

  private handlerFailed(s: H2Stream): void {
    if (s.reset || this.dead) return;
    if (!s.headersSent) {
      this.respondStatus(s, 500);
    } else this.resetStream(s, ErrorCode.INTERNAL_ERROR);
  }

  /** A bodiless response with just a status (431, 500). */
  private respondStatus(s: H2Stream, status: number): void {
    this.writeHeaders(s, status, undefined, true, false);
    s.localClosed = true;
    this.maybeCloseStream(s);
  }

  /** Encode and queue HEADERS (+ CONTINUATION) for `s`; status 0 means trailers. */
  private writeHeaders(
    s: H2Stream,
    status: number,
    header: Headers | undefined,
    endStream: boolean,
    trailers: boolean,
  ): void {
    const hb = this.hpackBuf;
    hb.reset();
    const enc = this.encoder;
    enc.begin(hb);
    if (!trailers) enc.field(hb, ":status", statusText(status));
    if (header !== undefined) {
      header.forEach((value, name) => {
        if (!CONNECTION_HEADERS.has(name)) enc.field(hb, name, value);
      });
    }
    s.headersSent = true;
    const out = this.out;
    const max = this.peerMaxFrame;
    let off = 0;
    const total = hb.len;
    let first = true;
    do {
      const n = Math.min(max, total - off);
      const last = off + n === total;
      const type = first ? FrameType.HEADERS : FrameType.CONTINUATION;
      let fl = last ? Flag.END_HEADERS : 0;
      if (first && endStream) fl |= Flag.END_STREAM;
      writeFrameHeader(out, n, type, fl, s.id);
      out.bytes(hb.buf.subarray(off, off + n));
      off += n;
      first = false;
    } while (off < total);
    this.scheduleFlush();
  }

  // ---- stream lifecycle ----

  private streamError(sid: number, code: number): void {
    const s = this.streams.get(sid);
    if (s !== undefined) {
      this.resetStream(s, code);
      return;
    }
    writeRstStream(this.out, sid, code);
    this.rememberReset(sid);
    this.scheduleFlush();
  }

  /** Send RST_STREAM for `s` and forget it; `reason` aborts its signal (default: the code). */
  private resetStream(s: H2Stream, code: number, reason?: Error): void {
    if (s.reset) return;
    s.reset = true;
    writeRstStream(this.out, s.id, code);
    this.scheduleFlush();
    const err = reason ?? new Error(`stream reset (code ${code})`);
    s.failBody(err);
    s.abort(err);
    this.removeStream(s, true);
  }

  private rememberReset(sid: number): void {
    this.recentResets.add(sid);
    if (this.recentResets.size > RECENT_RESETS) {
      const first = this.recentResets.values().next().value;
      if (first !== undefined) this.recentResets.delete(first);
    }
  }

  private maybeCloseStream(s: H2Stream): void {
    if (!s.localClosed) return;
    if (!s.remoteClosed) {
      // Response complete before the request. RFC 9113 8.1 lets us ask the client to stop
      // with RST_STREAM(NO_ERROR) at once, but a client that sends its body right after its
      // headers (curl) can then fail the whole transfer ("Stream error in the HTTP/2 framing
      // layer", about 3 % of early answers with curl 7.88). So the rest of the request is
      // first read and dropped, window returned, for a short while; only a request still
      // going after that is reset.
      if (!s.discarding) {
        s.discarding = true;
        s.answeredEarly = true;
        s.failBody(new Error("response complete"));
      }
      if (s.lingerTimer === undefined) {
        s.lingerTimer = setTimeout(() => {
          s.lingerTimer = undefined;
          // still here: the request is still going (its end would have removed it)
          if (this.dead || this.streams.get(s.id) !== s) return;
          s.reset = true;
          writeRstStream(this.out, s.id, ErrorCode.NO_ERROR);
          this.removeStream(s, true);
          this.scheduleFlush();
        }, REQUEST_LINGER_MS);
      }
      return;
    }
    this.removeStream(s, false);
  }

  private removeStream(s: H2Stream, rememberReset: boolean): void {
    if (s.lingerTimer !== undefined) {
      clearTimeout(s.lingerTimer);
      s.lingerTimer = undefined;
    }
    if (this.streams.get(s.id) !== s) return;
    this.streams.delete(s.id);
    if (rememberReset) this.rememberReset(s.id);
    this.windowBlocked.delete(s);
    s.wakeWindow();
    this.maybeFinish();
  }

  /** After a GOAWAY either way, close once the last stream is done. */
  private maybeFinish(): void {
    if ((this.goawaySent || this.peerGoaway) && this.streams.size === 0 && !this.closing) {
      if (!this.goawaySent) {
        this.goawaySent = true;
        writeGoaway(this.out, this.lastStreamId, ErrorCode.NO_ERROR);
      }
      this.closeAfterFlush();
    }
  }

  // ---- output ----

  private scheduleFlush(): void {
    if (!this.flushQueued && !this.writing && !this.dead) {
      this.flushQueued = true;
      queueMicrotask(this.flushNow);
    }
  }

  private readonly flushNow = (): void => {
    this.flushQueued = false;
    if (this.writing || this.dead) return;
    if (this.holds > 0) {
      if (this.deferRounds < DEFER_ROUNDS) {
        // Responses are producing: gather their frames for a few microtask rounds (a unary
        // response, Connect's included, completes within them).
        this.deferRounds++;
        this.flushQueued = true;
        queueMicrotask(this.flushNow);
        return;
      }
      // Still producing after that: streams (watches fed by one commit reach their sockets
      // through several async generators each). Write at the end of this turn, once every
      // microtask has run, so one commit's events to many streams of a connection leave in
      // one send rather than one each; never later, so no stream waits on another's next event.
      this.deferRounds = 0;
      this.flushQueued = true;
      setImmediate(this.flushAtTurnEnd);
      return;
    }
    this.deferRounds = 0;
    void this.writeLoop();
  };

  private readonly flushAtTurnEnd = (): void => {
    this.flushQueued = false;
    if (this.writing || this.dead) return;
    void this.writeLoop();
  };

  private deferRounds = 0;

  private async writeLoop(): Promise<void> {
    this.writing = true;
    try {
      while (this.out.len > 0 && !this.dead) {
        const buf = this.out;
        this.out = this.spare;
        this.spare = buf;
        let data = buf.view();
        this.writeSince = Date.now();
        while (data.length > 0) {
          const n = await this.io.write(data);
          data = data.subarray(n);
        }
        buf.reset();
        if (buf.buf.length > 1024 * 1024) buf.buf = new Uint8Array(16 * 1024);
        this.report();
        const w = this.drainWaiters;
        if (w.length > 0 && this.out.len <= HIGH_WATER) {
          this.drainWaiters = [];
          for (const f of w) f();
        }
      }
    } catch {
      this.destroy();
    } finally {
      this.writing = false;
    }
    if (this.closing && !this.dead) this.destroy();
  }

  /** Connection error: GOAWAY with `code`, flush, close. */
  private fatal(code: number, message: string): void {
    if (this.dead || this.closing) return;
    this.goawaySent = true;
    writeGoaway(this.out, this.lastStreamId, code, message);
    this.closeAfterFlush();
  }

  private closeAfterFlush(): void {
    if (this.closing) return;
    this.closing = true;
    for (const s of [...this.streams.values()]) {
      if (s.lingerTimer !== undefined) clearTimeout(s.lingerTimer);
      s.reset = true;
      s.failBody(new Error("connection closing"));
      s.abort(new Error("connection closing"));
    }
    this.streams.clear();
    if (this.out.len === 0 && !this.writing) {
      this.destroy();
      return;
    }
    // A peer that stops reading must not hold the socket open forever.
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer);
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      this.destroy();
    }, Math.min(this.limits.drainTimeoutMs, 5000));
    this.scheduleFlushForce();
  }

  private scheduleFlushForce(): void {
    if (!this.writing) void this.writeLoop();
  }

  /** Close the socket now and abort every stream. */
  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.closing = true;
    if (this.drainTimer !== undefined) {
      clearTimeout(this.drainTimer);
      this.drainTimer = undefined;
    }
    try {
      this.io.close();
    } catch {
      // already closed
    }
    for (const s of this.streams.values()) {
      if (s.lingerTimer !== undefined) clearTimeout(s.lingerTimer);
      s.reset = true;
      const err = new Error("connection lost");
      s.failBody(err);
      s.abort(err);
      s.wakeWindow();
    }
    this.streams.clear();
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
    this.report(); // dead: counts nothing; the parked chunks go as their pumps wake
    this.out = new ByteBuffer(64); // let the buffers go even if something keeps this object
    this.spare = new ByteBuffer(64);
    this.onClose(this);
    this.resolveClosed();
  }
}

/** The reason of a response reset for the unsent bound (maxUnsentBytes, maxUnsentBytesTotal). */
function tooMuchUnsent(): ResponseAbandonedError {
  return new ResponseAbandonedError(
    ErrorCode.ENHANCE_YOUR_CALM,
    "more response bytes held unsent than the server allows",
  );
}

function isEmpty(h: Headers): boolean {
  if (h instanceof FieldHeaders) return h.isEmpty;
  for (const _ of h.keys()) return false;
  return true;
}

async function drop(body: AsyncIterable<Uint8Array>): Promise<void> {
  try {
    const it = body[Symbol.asyncIterator]();
    await it.return?.();
  } catch {
    // the handler's body failed after the stream went away: nothing to tell anyone
  }
}

const STATUS_TEXT: string[] = [];
function statusText(status: number): string {
  let s = STATUS_TEXT[status];
  if (s === undefined) {
    if (!Number.isInteger(status) || status < 100 || status > 999) status = 500;
    s = STATUS_TEXT[status] = String(status);
  }
  return s;
}
