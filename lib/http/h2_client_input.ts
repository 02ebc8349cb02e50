/**
 * The input side of the HTTP/2 client's connection: reads the socket, cuts frames, checks
 * each against RFC 9113 and acts on it. It owns what only input touches: the HPACK decoder
 * and the header block being assembled (HEADERS, CONTINUATION), the connection's receive
 * window (credit returned as DATA arrives, so one stalled stream never blocks the others),
 * and whether the server's SETTINGS came and ours were acknowledged. What the frames change
 * of the session (its streams, the server's limits, PING answers, GOAWAY, the send windows)
 * goes through `InputHost`. Apart from h2_client.ts so the session keeps to requests, output
 * and teardown.
 */
import { ByteBuffer } from "./byte_buffer.ts";
import {
  ErrorCode,
  Flag,
  FRAME_HEADER_LEN,
  FrameType,
  MAX_WINDOW,
  MIN_MAX_FRAME_SIZE,
  readU32,
  writeFrameHeader,
  writeGoaway,
  writeRstStream,
  writeWindowUpdate,
} from "./frame.ts";
import { HpackDecoder, HpackError } from "./hpack.ts";
import { type ClientStream, H2StreamError } from "./h2_client_stream.ts";
import {
  ConnectionError,
  dataPayload,
  headerFragment,
  parseGoaway,
  parseResponseHead,
  parseSettings,
  parseTrailers,
  StreamError,
  u32Payload,
} from "./h2_client_frames.ts";

/** Receive window of the whole connection; credit is returned once half is used. */
export const CONN_WINDOW = 16 * 1024 * 1024;
/** Largest header block (HEADERS + CONTINUATION) we accept before giving up on the peer. */
const MAX_HEADER_BLOCK = 1024 * 1024;
/**
 * Largest decoded header list (RFC 9113 6.5.2 octets) of a response head or trailers, our
 * SETTINGS_MAX_HEADER_LIST_SIZE: HPACK references can expand a small block a thousandfold.
 */
export const MAX_HEADER_LIST = 1024 * 1024;

/** What the input reads of the session and tells it. */
export interface InputHost {
  /** Reads the socket (null at its end). */
  read(buf: Uint8Array): Promise<number | null>;
  /** True once the session is torn down. */
  dead(): boolean;
  /** The buffer the answers (ACKs, WINDOW_UPDATE, RST_STREAM, GOAWAY) are framed into. */
  out(): ByteBuffer;
  /** Sends what was framed into `out()`. */
  flush(): void;
  /** Resolves once no socket write is in progress (or after `ms`). */
  idleWriter(ms: number): Promise<void>;
  /** Ends the connection (see the session's teardown). */
  teardown(reason: Error | null, streamErr?: H2StreamError, graceful?: boolean): void;
  /** The open stream with this id, if any. */
  stream(id: number): ClientStream | undefined;
  /** The id the next request will take (ids below it were ours). */
  nextId(): number;
  /** The reader of `s` is done with `n` octets: their credit may go back. */
  consumed(s: ClientStream, n: number): void;
  /** The server ended `s` (with these trailers). */
  remoteEnd(s: ClientStream, trailers: [string, string][]): void;
  /** `s` is off the connection's books (reset or refused). */
  forget(s: ClientStream): void;
  /** The server's SETTINGS values, in order; throws ConnectionError on a window overflow. */
  applySettings(settings: [number, number][]): void;
  /** The SETTINGS exchange advanced (the server's arrived, or ours was acknowledged). */
  settingsChanged(): void;
  /** The server's SETTINGS were applied: queued requests may open, framing may go on. */
  limitsChanged(): void;
  /** A PING of ours came back. */
  pong(seq: number): void;
  /** The server sent GOAWAY. */
  goaway(last: number, code: number, debug: string): void;
  /** The GOAWAY the server sent, if any. */
  goneAway(): H2StreamError | undefined;
  /** Connection send credit; throws ConnectionError past the largest window. */
  creditConnection(inc: number): void;
  /** Send credit arrived: framing may go on. */
  windowOpened(): void;
}

/** Reads and handles the server's frames for one client session. */
export class H2ClientInput {
  readonly #h: InputHost;
  readonly #dec = new HpackDecoder();
  /** A header block being received (HEADERS, then CONTINUATION frames). */
  #hdrStream = 0;
  #hdrFlags = 0;
  readonly #hdrBuf = new ByteBuffer(4096);
  #connRecvWindow = CONN_WINDOW;
  #connUnreturned = 0;
  /** The server's SETTINGS arrived. */
  settingsReceived = false;
  /** The server acknowledged ours. */
  settingsAcked = false;
  /** When the socket last gave bytes (performance.now()), for the keep-alive. */
  lastRead = performance.now();

  constructor(host: InputHost) {
    this.#h = host;
  }

  /** Reads until the connection ends; every failure ends in the session's teardown. */
  async run(): Promise<void> {
    const h = this.#h;
    const maxFrame = MIN_MAX_FRAME_SIZE; // we never raise SETTINGS_MAX_FRAME_SIZE
    const buf = new Uint8Array(1 << 16);
    let len = 0;
    try {
      while (!h.dead()) {
        const n = await h.read(buf.subarray(len));
        if (n === null) {
          const goaway = h.goneAway();
          const why = goaway !== undefined
            ? `connection closed by the server after GOAWAY: ${goaway.message}`
            : "connection closed by the server";
          h.teardown(new H2StreamError(ErrorCode.INTERNAL_ERROR, why));
          return;
        }
        this.lastRead = performance.now();
        len += n;
        let p = 0;
        while (len - p >= FRAME_HEADER_LEN && !h.dead()) {
          const flen = (buf[p] << 16) | (buf[p + 1] << 8) | buf[p + 2];
          if (!this.settingsReceived && buf[p + 3] !== FrameType.SETTINGS) {
            throw new ConnectionError(
              ErrorCode.PROTOCOL_ERROR,
              "the server did not start with SETTINGS (not an HTTP/2 server?)",
            );
          }
          if (flen > maxFrame) {
            throw new ConnectionError(
              ErrorCode.FRAME_SIZE_ERROR,
              `frame of ${flen} octets exceeds ${maxFrame}`,
            );
          }
          if (len - p < FRAME_HEADER_LEN + flen) break;
          const type = buf[p + 3];
          const flags = buf[p + 4];
          const id = readU32(buf, p + 5) & 0x7fffffff;
          this.#frame(
            type,
            flags,
            id,
            buf.subarray(p + FRAME_HEADER_LEN, p + FRAME_HEADER_LEN + flen),
          );
          p += FRAME_HEADER_LEN + flen;
        }
        if (p > 0) {
          buf.copyWithin(0, p, len);
          len -= p;
        }
      }
    } catch (e) {
      if (h.dead()) return; // our own close interrupted the read
      if (e instanceof ConnectionError) {
        writeGoaway(h.out(), 0, e.code, e.message);
        const err = new H2StreamError(e.code, `h2 client: ${e.message}`);
        // Let the GOAWAY reach the server before the socket closes.
        h.flush();
        await h.idleWriter(1000);
        h.teardown(err, err, true);
        return;
      }
      h.teardown(
        new H2StreamError(ErrorCode.INTERNAL_ERROR, `connection lost: ${(e as Error).message}`, {
          cause: e,
        }),
      );
    }
  }

  #frame(type: number, flags: number, id: number, payload: Uint8Array): void {
    if (this.#hdrStream !== 0 && (type !== FrameType.CONTINUATION || id !== this.#hdrStream)) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "expected CONTINUATION");
    }
    if (!this.settingsReceived && type !== FrameType.SETTINGS) {
      throw new ConnectionError(
        ErrorCode.PROTOCOL_ERROR,
        "the server did not start with SETTINGS (not an HTTP/2 server?)",
      );
    }
    try {
      switch (type) {
        case FrameType.DATA:
          return this.#onData(flags, id, payload);
        case FrameType.HEADERS:
          return this.#onHeaders(flags, id, payload);
        case FrameType.CONTINUATION:
          return this.#onContinuation(flags, id, payload);
        case FrameType.SETTINGS:
          return this.#onSettings(flags, id, payload);
        case FrameType.PING:
          return this.#onPing(flags, id, payload);
        case FrameType.GOAWAY:
          return this.#onGoaway(id, payload);
        case FrameType.RST_STREAM:
          return this.#onRstStream(id, payload);
        case FrameType.WINDOW_UPDATE:
          return this.#onWindowUpdate(id, payload);
        case FrameType.PUSH_PROMISE:
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE with push disabled");
        case FrameType.PRIORITY:
          if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PRIORITY on stream 0");
          if (payload.length !== 5) {
            throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "PRIORITY length");
          }
          return;
        default:
          return; // unknown frame types are ignored (RFC 9113 4.1)
      }
    } catch (e) {
      if (!(e instanceof StreamError)) throw e;
      const s = this.#h.stream(id);
      writeRstStream(this.#h.out(), id, e.code);
      this.#h.flush();
      if (s !== undefined) {
        this.#h.forget(s);
        s.fail(new H2StreamError(e.code, `h2 client: ${e.message}`));
      }
    }
  }

  /** A frame for a stream id we never opened is a connection error; a closed one is ignored. */
  #streamFor(id: number, what: string): ClientStream | undefined {
    if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `${what} on stream 0`);
    const s = this.#h.stream(id);
    if (s === undefined && ((id & 1) === 0 || id >= this.#h.nextId())) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `${what} on idle stream ${id}`);
    }
    return s;
  }

  #onData(flags: number, id: number, payload: Uint8Array): void {
    const s = this.#streamFor(id, "DATA");
    // Connection credit: counted and returned on receipt, whatever the stream's fate.
    this.#connRecvWindow -= payload.length;
    if (this.#connRecvWindow < 0) {
      throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "connection window exceeded");
    }
    this.#connUnreturned += payload.length;
    if (this.#connUnreturned >= CONN_WINDOW / 2) {
      writeWindowUpdate(this.#h.out(), 0, this.#connUnreturned);
      this.#connRecvWindow += this.#connUnreturned;
      this.#connUnreturned = 0;
      this.#h.flush();
    }
    const body = dataPayload(flags, payload);
    if (s === undefined) return; // reset by us: drop
    if (s.remoteEnded) throw new StreamError(ErrorCode.STREAM_CLOSED, "DATA after END_STREAM");
    if (!s.headSeen) {
      throw new StreamError(ErrorCode.PROTOCOL_ERROR, "DATA before the response head");
    }
    s.recvWindow -= payload.length;
    if (s.recvWindow < 0) {
      throw new StreamError(ErrorCode.FLOW_CONTROL_ERROR, "stream window exceeded");
    }
    // Padding is never read by the consumer: its credit goes back at once.
    const pad = payload.length - body.length;
    if (pad > 0) this.#h.consumed(s, pad);
    s.onData(body.slice());
    if (flags & Flag.END_STREAM) this.#h.remoteEnd(s, []);
  }

  #onHeaders(flags: number, id: number, payload: Uint8Array): void {
    if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "HEADERS on stream 0");
    this.#hdrBuf.reset();
    this.#hdrBuf.bytes(headerFragment(flags, payload));
    if (flags & Flag.END_HEADERS) this.#headerBlock(id, flags);
    else {
      this.#hdrStream = id;
      this.#hdrFlags = flags;
    }
  }

  #onContinuation(flags: number, id: number, payload: Uint8Array): void {
    if (this.#hdrStream === 0 || id !== this.#hdrStream) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "unexpected CONTINUATION");
    }
    if (this.#hdrBuf.len + payload.length > MAX_HEADER_BLOCK) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "header block too large");
    }
    this.#hdrBuf.bytes(payload);
    if (flags & Flag.END_HEADERS) {
      this.#hdrStream = 0;
      this.#headerBlock(id, this.#hdrFlags);
    }
  }

  /** A complete header block: the response head, an informational head, or trailers. */
  #headerBlock(id: number, flags: number): void {
    const fields: string[] = [];
    const block = this.#hdrBuf.view();
    let listSize = 0;
    try {
      // Always decoded, even for a stream we reset, to keep the HPACK table in step.
      listSize = this.#dec.decode(block, 0, block.length, fields, MAX_HEADER_LIST);
    } catch (e) {
      if (e instanceof HpackError) {
        throw new ConnectionError(ErrorCode.COMPRESSION_ERROR, e.message);
      }
      throw e;
    }
    const s = this.#streamFor(id, "HEADERS");
    if (s === undefined) return;
    if (listSize > MAX_HEADER_LIST) {
      throw new StreamError(
        ErrorCode.PROTOCOL_ERROR,
        `response header list of ${listSize} octets exceeds ${MAX_HEADER_LIST}`,
      );
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (s.remoteEnded) throw new StreamError(ErrorCode.STREAM_CLOSED, "HEADERS after END_STREAM");
    if (s.headSeen) {
      // Trailers.
      if (!endStream) {
        throw new StreamError(ErrorCode.PROTOCOL_ERROR, "trailers without END_STREAM");
      }
      this.#h.remoteEnd(s, parseTrailers(fields));
      return;
    }
    const { status, headers } = parseResponseHead(fields);
    if (status < 200) {
      if (endStream) {
        throw new StreamError(ErrorCode.PROTOCOL_ERROR, "informational response with END_STREAM");
      }
      return; // 1xx: the final head follows
    }
    s.onHead(status, headers, false);
    if (endStream) this.#h.remoteEnd(s, []);
  }

  #onSettings(flags: number, id: number, payload: Uint8Array): void {
    if (id !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream");
    if (flags & Flag.ACK) {
      if (payload.length !== 0) {
        throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with payload");
      }
      this.settingsAcked = true;
      this.#h.settingsChanged();
      return;
    }
    this.#h.applySettings(parseSettings(payload));
    writeFrameHeader(this.#h.out(), 0, FrameType.SETTINGS, Flag.ACK, 0);
    this.#h.flush();
    this.settingsReceived = true;
    this.#h.settingsChanged();
    this.#h.limitsChanged();
  }

  #onPing(flags: number, id: number, payload: Uint8Array): void {
    if (id !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PING on a stream");
    if (payload.length !== 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "PING length");
    if (flags & Flag.ACK) {
      if (readU32(payload, 0) === 0) this.#h.pong(readU32(payload, 4));
      return;
    }
    const out = this.#h.out();
    writeFrameHeader(out, 8, FrameType.PING, Flag.ACK, 0);
    out.bytes(payload);
    this.#h.flush();
  }

  #onGoaway(id: number, payload: Uint8Array): void {
    if (id !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "GOAWAY on a stream");
    const { last, code, debug } = parseGoaway(payload);
    this.#h.goaway(last, code, debug);
  }

  #onRstStream(id: number, payload: Uint8Array): void {
    const code = u32Payload(payload, "RST_STREAM");
    const s = this.#streamFor(id, "RST_STREAM");
    if (s === undefined) return;
    this.#h.forget(s);
    s.fail(new H2StreamError(code, `stream reset by the server`));
  }

  #onWindowUpdate(id: number, payload: Uint8Array): void {
    const inc = u32Payload(payload, "WINDOW_UPDATE") & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
      this.#h.creditConnection(inc);
    } else {
      const s = this.#streamFor(id, "WINDOW_UPDATE");
      if (s === undefined) return;
      if (inc === 0) throw new StreamError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
      s.sendWindow += inc;
      if (s.sendWindow > MAX_WINDOW) {
        throw new StreamError(ErrorCode.FLOW_CONTROL_ERROR, "stream window overflow");
      }
    }
    this.#h.windowOpened();
  }
}
