/**
 * A small HTTP/2 (h2c, prior knowledge) client for unary gRPC calls over `Deno.connect`, used by
 * the load generator for KV calls. It exists because the generator shares 2 cores with the server
 * under test and the stock clients cost too much or stall:
 * - @connectrpc/connect-node on Deno's node:http2: ~300-600 µs of generator CPU per unary call,
 *   so the generator, not the server, limits high-concurrency runs;
 * - Deno's fetch with HTTP/2 prior knowledge: ~100 µs per call, but it leaves Nagle on, and its
 *   separate HEADERS and DATA writes then wait for the server's delayed ACK (~40 ms per call
 *   with one client).
 * This client sets TCP_NODELAY, writes each request's HEADERS and DATA in one write (all frames
 * queued in the same tick are coalesced), honours the peer's connection flow-control window,
 * SETTINGS_MAX_CONCURRENT_STREAMS and MAX_FRAME_SIZE, and answers SETTINGS and PING. HPACK comes
 * from lib/http/hpack.ts (only the client side of the framing is new here).
 *
 * Unary calls (`unary`) and bidirectional streams (`stream`, for watch and lease keep-alive) are
 * supported, with per-stream and connection flow control both ways. No TLS.
 *
 * The hot loops of the generator use the lower layer under them: `call` and `openStream` take
 * an encoded message and a `CallSink` that is handed each answer as a view of the receive
 * buffer (decoded in place by bench/loadgen/wire.ts, no copy, no promise); a request's HEADERS
 * block is reused while the HPACK table is unchanged, and its DATA frame is written straight
 * into the output buffer. `readClock()` is the time of the latest read, one clock reading per
 * batch of answers rather than one per answer.
 *
 * The connection (windows, stream slots, writes, control frames) is here; a call's receive
 * side is grpc_call.ts, the reading of frames h2_frame_reader.ts, the cached request headers
 * h2_request_headers.ts.
 */
import {
  create,
  type DescMessage,
  type DescMethodBiDiStreaming,
  type DescMethodUnary,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { H2BidiStream } from "./h2_bidi.ts";
import { type CallSink, CallState, GrpcError } from "./grpc_call.ts";
import { readFrames } from "./h2_frame_reader.ts";
import { RequestHeaders } from "./h2_request_headers.ts";
import { ByteBuffer } from "../../lib/http/byte_buffer.ts";
import {
  DEFAULT_WINDOW,
  ErrorCode,
  Flag,
  FrameType,
  MIN_MAX_FRAME_SIZE,
  PREFACE,
  readU32,
  Setting,
  writeFrameHeader,
  writeSettings,
  writeWindowUpdate,
} from "../../lib/http/frame.ts";
import { HpackDecoder } from "../../lib/http/hpack.ts";

/** The stream window we grant per stream, and the connection window we keep open. */
const STREAM_WINDOW = 1 << 24;
const CONN_WINDOW = 1 << 30;

/** What a send queued at once returns (one promise for all of them). */
const SENT = Promise.resolve();

/** A call waiting for a stream slot (SETTINGS_MAX_CONCURRENT_STREAMS reached). */
interface Pending {
  path: string;
  msg: Uint8Array;
  sink: CallSink;
}

/** One HTTP/2 connection carrying gRPC calls. */
export class H2GrpcConn {
  readonly #conn: Deno.TcpConn;
  #out = new ByteBuffer(1 << 14);
  /** The buffer being written while `#out` fills (they swap: no copy per write). */
  #spare = new ByteBuffer(1 << 14);
  #flushScheduled = false;
  #writeBusy = false;
  #writing: Promise<void> = Promise.resolve();
  readonly #requestHeaders: RequestHeaders;
  readonly #dec = new HpackDecoder();
  readonly #streams = new Map<number, CallState>();
  #nextId = 1;
  #sendWindow = DEFAULT_WINDOW;
  #peerStreamWindow = DEFAULT_WINDOW;
  #peerMaxFrame = MIN_MAX_FRAME_SIZE;
  #peerMaxStreams = Infinity;
  #received = 0;
  #waiters: (() => void)[] = [];
  #failed: GrpcError | undefined;
  readonly #reader: Promise<void>;
  // A header block in progress (HEADERS then CONTINUATION frames).
  #hdrStream = 0;
  #hdrEnd = false;
  readonly #hdrBuf = new ByteBuffer(4096);
  readonly #fields: string[] = [];
  readonly #pending: Pending[] = [];

  private constructor(conn: Deno.TcpConn, authority: string) {
    this.#conn = conn;
    this.#requestHeaders = new RequestHeaders(authority);
    conn.setNoDelay(true);
    this.#out.bytes(PREFACE);
    writeSettings(this.#out, [
      [Setting.ENABLE_PUSH, 0],
      [Setting.INITIAL_WINDOW_SIZE, STREAM_WINDOW],
    ]);
    writeWindowUpdate(this.#out, 0, CONN_WINDOW - DEFAULT_WINDOW);
    this.#flush();
    this.#reader = this.#readLoop();
  }

  /** Connects to `baseUrl` (http://host:port). */
  static async connect(baseUrl: string): Promise<H2GrpcConn> {
    const u = new URL(baseUrl);
    if (u.protocol !== "http:") {
      throw new Error(`h2 gRPC client: only http:// (h2c), got ${baseUrl}`);
    }
    const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port || 80) });
    return new H2GrpcConn(conn, u.host);
  }

  /** Calls `method` with `req` and decodes the answer; throws GrpcError on a gRPC failure. */
  async unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    req: MessageInitShape<I>,
  ): Promise<MessageShape<O>> {
    const msg = toBinary(method.input, create(method.input, req));
    let answer: Uint8Array | undefined;
    await new Promise<void>((resolve, reject) => {
      this.call(`/${method.parent.typeName}/${method.name}`, msg, {
        message: (buf, s, e) => (answer ??= buf.slice(s, e)),
        end: (err) => (err ? reject(err) : resolve()),
      });
    });
    if (answer === undefined) throw new GrpcError(13, "gRPC status OK without a response message");
    return fromBinary(method.output, answer);
  }

  /** Opens a bidirectional stream of `method`. */
  async stream<I extends DescMessage, O extends DescMessage>(
    method: DescMethodBiDiStreaming<I, O>,
  ): Promise<H2BidiStream<I, O>> {
    const s = new H2BidiStream<I, O>(method);
    const id = await this.openStream(`/${method.parent.typeName}/${method.name}`, s);
    s.attach((msg, end) => this.#sendOn(id, msg, end), () => this.cancelStream(id));
    return s;
  }

  /**
   * Starts a unary call of `path` with the encoded request `msg`; the answer goes to `sink`.
   * `msg` is copied out before this returns, so a caller may reuse its buffer at once. Never
   * throws: a failure reaches `sink.end` (in a later microtask when the call could not start).
   */
  call(path: string, msg: Uint8Array, sink: CallSink): void {
    if (this.#failed) {
      const err = this.#failed;
      queueMicrotask(() => sink.end(err));
      return;
    }
    if (this.#streams.size >= this.#peerMaxStreams) {
      this.#pending.push({ path, msg: msg.slice(), sink });
      return;
    }
    const id = this.#start(path, sink);
    const st = this.#streams.get(id)!;
    if (!this.#sendNow(id, st, msg, true)) {
      this.#send(id, st, msg.slice(), true).catch((e) => this.#endStream(id, e));
    }
  }

  /** Opens a bidirectional stream of `path` whose answers go to `sink`; returns its id. */
  async openStream(path: string, sink: CallSink): Promise<number> {
    while (!this.#failed && this.#streams.size >= this.#peerMaxStreams) await this.#waitChange();
    if (this.#failed) throw this.#failed;
    return this.#start(path, sink);
  }

  /** Sends one encoded message on stream `id` (messages of one stream go out in call order). */
  sendOn(id: number, msg: Uint8Array): Promise<void> {
    return this.#sendOn(id, msg, false);
  }

  /** Resets stream `id` (RST_STREAM CANCEL); its sink is not called again. */
  cancelStream(id: number): void {
    if (this.#streams.delete(id)) {
      writeFrameHeader(this.#out, 4, FrameType.RST_STREAM, 0, id);
      this.#out.bytes(new Uint8Array([0, 0, 0, ErrorCode.CANCEL]));
      this.#flush();
      this.#wake();
    }
  }

  #sendOn(id: number, msg: Uint8Array | undefined, end: boolean): Promise<void> {
    const st = this.#streams.get(id);
    if (st === undefined) return Promise.reject(this.#failed ?? new GrpcError(1, "stream closed"));
    if (msg !== undefined && this.#sendNow(id, st, msg, end)) return SENT;
    return this.#send(id, st, msg?.slice(), end);
  }

  /** Closes the connection; pending calls fail. */
  async close(): Promise<void> {
    this.#fail(new GrpcError(1, "connection closed by the client"));
    await this.#writing;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    await this.#reader;
  }

  /** Starts a stream: its HEADERS (without END_STREAM) are queued; returns its id. */
  #start(path: string, sink: CallSink): number {
    const id = this.#nextId;
    this.#nextId += 2;
    this.#streams.set(id, new CallState(this.#peerStreamWindow, sink));
    const block = this.#requestHeaders.block(path);
    writeFrameHeader(this.#out, block.length, FrameType.HEADERS, Flag.END_HEADERS, id);
    this.#out.bytes(block);
    this.#flush();
    return id;
  }

  /**
   * Queues `msg` as one DATA frame when the windows and frame size allow it at once; false
   * (nothing queued) otherwise.
   */
  #sendNow(id: number, st: CallState, msg: Uint8Array, end: boolean): boolean {
    const n = 5 + msg.length;
    if (n > this.#sendWindow || n > st.sendWindow || n > this.#peerMaxFrame) return false;
    writeFrameHeader(this.#out, n, FrameType.DATA, end ? Flag.END_STREAM : 0, id);
    const out = this.#out;
    const b = out.ensure(n);
    const p = out.len;
    b[p] = 0;
    b[p + 1] = msg.length >>> 24;
    b[p + 2] = (msg.length >>> 16) & 0xff;
    b[p + 3] = (msg.length >>> 8) & 0xff;
    b[p + 4] = msg.length & 0xff;
    b.set(msg, p + 5);
    out.len = p + n;
    this.#sendWindow -= n;
    st.sendWindow -= n;
    this.#flush();
    return true;
  }

  /** Ends stream `id` with `e` (a send failed). */
  #endStream(id: number, e: unknown): void {
    const st = this.#streams.get(id);
    if (st === undefined) return;
    this.#streams.delete(id);
    st.sink.end(e instanceof GrpcError ? e : new GrpcError(14, (e as Error).message));
    this.#wake();
  }

  /** Sends one length-prefixed message (empty `msg` with `end` and no prefix = half-close). */
  async #send(
    id: number,
    st: CallState,
    msg: Uint8Array | undefined,
    end: boolean,
  ): Promise<void> {
    const whole = msg === undefined ? new Uint8Array(0) : new Uint8Array(5 + msg.length);
    if (msg !== undefined) {
      new DataView(whole.buffer).setUint32(1, msg.length);
      whole.set(msg, 5);
    }
    let sent = 0;
    do {
      if (this.#failed) throw this.#failed;
      if (!this.#streams.has(id)) throw new GrpcError(1, "stream closed");
      const room = Math.min(this.#sendWindow, st.sendWindow, this.#peerMaxFrame);
      const n = Math.min(room, whole.length - sent);
      if (n <= 0 && whole.length > 0) {
        await this.#waitChange();
        continue;
      }
      const last = sent + n === whole.length;
      writeFrameHeader(this.#out, n, FrameType.DATA, last && end ? Flag.END_STREAM : 0, id);
      this.#out.bytes(whole.subarray(sent, sent + n));
      this.#sendWindow -= n;
      st.sendWindow -= n;
      sent += n;
    } while (sent < whole.length);
    this.#flush();
  }

  #waitChange(): Promise<void> {
    return new Promise<void>((r) => this.#waiters.push(r));
  }

  /** Writes everything queued in this tick in one write (after the write in flight). */
  #flush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#writeBusy || this.#out.len === 0 || this.#failed) return;
    const chunk = this.#out;
    this.#out = this.#spare;
    this.#spare = chunk;
    this.#writeBusy = true;
    this.#writing = this.#writeAll(chunk.view()).then(() => {
      chunk.reset();
      this.#writeBusy = false;
      this.#pump();
    }, (e) => this.#fail(new GrpcError(14, `write failed: ${(e as Error).message}`)));
  }

  async #writeAll(b: Uint8Array): Promise<void> {
    let p = 0;
    while (p < b.length) p += await this.#conn.write(b.subarray(p));
  }

  #fail(e: GrpcError): void {
    if (this.#failed) return;
    this.#failed = e;
    const open = [...this.#streams.values()];
    this.#streams.clear();
    for (const s of open) s.sink.end(e);
    this.#wake();
  }

  /** Something changed (a stream ended, a window opened): start waiting calls, wake waiters. */
  #wake(): void {
    while (
      this.#pending.length > 0 && (this.#failed || this.#streams.size < this.#peerMaxStreams)
    ) {
      const c = this.#pending.shift()!;
      this.call(c.path, c.msg, c.sink);
    }
    if (this.#waiters.length > 0) { for (const w of this.#waiters.splice(0)) w(); }
  }

  async #readLoop(): Promise<void> {
    try {
      await readFrames(this.#conn, {
        data: (flags, id, buf, start, end) => this.#data(flags, id, buf, start, end),
        headers: (flags, id, buf, start, end) => this.#headers(flags, id, buf, start, end),
        frame: (type, flags, id, payload) => this.#frame(type, flags, id, payload),
      });
    } catch (e) {
      this.#fail(e instanceof GrpcError ? e : new GrpcError(14, (e as Error).message));
    }
  }

  #frame(type: number, flags: number, id: number, payload: Uint8Array): void {
    switch (type) {
      case FrameType.SETTINGS: {
        if (flags & Flag.ACK) return;
        for (let i = 0; i + 6 <= payload.length; i += 6) {
          const key = (payload[i] << 8) | payload[i + 1];
          const v = readU32(payload, i + 2);
          if (key === Setting.INITIAL_WINDOW_SIZE) {
            const delta = v - this.#peerStreamWindow;
            this.#peerStreamWindow = v;
            for (const st of this.#streams.values()) st.sendWindow += delta;
          } else if (key === Setting.MAX_FRAME_SIZE) this.#peerMaxFrame = v;
          else if (key === Setting.MAX_CONCURRENT_STREAMS) this.#peerMaxStreams = v;
          else if (key === Setting.HEADER_TABLE_SIZE) this.#requestHeaders.setMaxTableSize(v);
        }
        writeFrameHeader(this.#out, 0, FrameType.SETTINGS, Flag.ACK, 0);
        this.#flush();
        this.#wake();
        return;
      }
      case FrameType.PING:
        if (flags & Flag.ACK) return;
        writeFrameHeader(this.#out, 8, FrameType.PING, Flag.ACK, 0);
        this.#out.bytes(payload);
        this.#flush();
        return;
      case FrameType.WINDOW_UPDATE: {
        const inc = readU32(payload, 0) & 0x7fffffff;
        if (id === 0) this.#sendWindow += inc;
        else {
          const st = this.#streams.get(id);
          if (st) st.sendWindow += inc;
        }
        this.#wake();
        return;
      }
      case FrameType.GOAWAY: {
        const last = readU32(payload, 0) & 0x7fffffff;
        const code = readU32(payload, 4);
        const err = new GrpcError(14, `server sent GOAWAY (code ${code})`);
        for (const [sid, st] of this.#streams) {
          if (sid > last) {
            this.#streams.delete(sid);
            st.sink.end(err);
          }
        }
        // Streams up to `last` may still complete; no new ones start on this connection.
        this.#failed ??= err;
        this.#wake();
        return;
      }
      case FrameType.RST_STREAM: {
        const st = this.#streams.get(id);
        if (st) {
          this.#streams.delete(id);
          st.sink.end(
            new GrpcError(14, `stream reset by the server (code ${readU32(payload, 0)})`),
          );
          this.#wake();
        }
        return;
      }
      case FrameType.CONTINUATION:
        this.#hdrBuf.bytes(payload);
        if (flags & Flag.END_HEADERS) this.#headerBlock(this.#hdrBuf.buf, 0, this.#hdrBuf.len);
        return;
      default:
        return;
    }
  }

  #data(flags: number, id: number, buf: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.#received += n;
    if (this.#received >= CONN_WINDOW / 2) {
      writeWindowUpdate(this.#out, 0, this.#received);
      this.#received = 0;
      this.#flush();
    }
    const st = this.#streams.get(id);
    if (!st) return;
    if (flags & Flag.PADDED) {
      end -= buf[start];
      start++;
    }
    st.unacked += n;
    st.messages(buf, start, end);
    if (flags & Flag.END_STREAM) {
      this.#finish(id, st);
    } else if (st.unacked >= STREAM_WINDOW / 2) {
      writeWindowUpdate(this.#out, id, st.unacked);
      st.unacked = 0;
      this.#flush();
    }
  }

  #headers(flags: number, id: number, buf: Uint8Array, p: number, end: number): void {
    if (flags & Flag.PADDED) end -= buf[p++];
    if (flags & Flag.PRIORITY) p += 5;
    this.#hdrStream = id;
    this.#hdrEnd = (flags & Flag.END_STREAM) !== 0;
    this.#hdrBuf.reset();
    // A whole block in one frame is decoded where it lies.
    if (flags & Flag.END_HEADERS) this.#headerBlock(buf, p, end);
    else this.#hdrBuf.bytes(buf.subarray(p, end));
  }

  #headerBlock(block: Uint8Array, start: number, end: number): void {
    const fields = this.#fields;
    fields.length = 0;
    this.#dec.decode(block, start, end, fields);
    const st = this.#streams.get(this.#hdrStream);
    if (!st) return;
    st.headerFields(fields);
    if (this.#hdrEnd) this.#finish(this.#hdrStream, st);
  }

  #finish(id: number, st: CallState): void {
    this.#streams.delete(id);
    this.#wake();
    st.finish();
  }
}
