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
 * Limits (fine for a load generator): no TLS; a request message must fit the peer's initial
 * stream window; a response larger than 16 MiB on one stream fails (the stream window we grant).
 */
import {
  create,
  type DescMessage,
  type DescMethodUnary,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { ByteBuffer } from "../../lib/http/byte_buffer.ts";
import {
  DEFAULT_WINDOW,
  Flag,
  FRAME_HEADER_LEN,
  FrameType,
  MIN_MAX_FRAME_SIZE,
  PREFACE,
  readU32,
  Setting,
  writeFrameHeader,
  writeSettings,
  writeWindowUpdate,
} from "../../lib/http/frame.ts";
import { HpackDecoder, HpackEncoder } from "../../lib/http/hpack.ts";

/** A gRPC failure: the status code and message the server sent (or a transport failure, 14). */
export class GrpcError extends Error {
  constructor(readonly code: number, readonly grpcMessage: string) {
    super(`${code}: ${grpcMessage}`);
    this.name = "GrpcError";
  }
}

/** The stream window we grant per stream, and the connection window we keep open. */
const STREAM_WINDOW = 1 << 24;
const CONN_WINDOW = 1 << 30;

interface Pending {
  data: Uint8Array[];
  dataLen: number;
  status: string | undefined;
  message: string | undefined;
  sawHeaders: boolean;
  resolve: (body: Uint8Array) => void;
  reject: (e: Error) => void;
}

/** One HTTP/2 connection carrying unary gRPC calls. */
export class H2GrpcConn {
  readonly #conn: Deno.TcpConn;
  readonly #authority: string;
  readonly #out = new ByteBuffer(1 << 16);
  #flushScheduled = false;
  #writing: Promise<void> = Promise.resolve();
  readonly #enc = new HpackEncoder();
  readonly #dec = new HpackDecoder();
  readonly #streams = new Map<number, Pending>();
  #nextId = 1;
  #sendWindow = DEFAULT_WINDOW;
  #peerStreamWindow = DEFAULT_WINDOW;
  #peerMaxFrame = MIN_MAX_FRAME_SIZE;
  #peerMaxStreams = Infinity;
  #received = 0;
  #waiters: (() => void)[] = [];
  #failed: Error | undefined;
  readonly #reader: Promise<void>;
  // A header block in progress (HEADERS then CONTINUATION frames).
  #hdrStream = 0;
  #hdrEnd = false;
  #hdrBuf = new ByteBuffer(4096);
  readonly #encBuf = new ByteBuffer(1024);

  private constructor(conn: Deno.TcpConn, authority: string) {
    this.#conn = conn;
    this.#authority = authority;
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
    const body = await this.#call(`/${method.parent.typeName}/${method.name}`, msg);
    if (body.length < 5) throw new GrpcError(13, "gRPC status OK without a response message");
    if (body[0] !== 0) throw new GrpcError(12, "compressed response not supported");
    const len = readU32(body, 1);
    if (5 + len > body.length) throw new GrpcError(13, "truncated response message");
    return fromBinary(method.output, body.subarray(5, 5 + len));
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

  async #call(path: string, msg: Uint8Array): Promise<Uint8Array> {
    const size = 5 + msg.length;
    while (
      !this.#failed && (this.#streams.size >= this.#peerMaxStreams || this.#sendWindow < size)
    ) {
      await new Promise<void>((r) => this.#waiters.push(r));
    }
    if (this.#failed) throw this.#failed;
    if (size > this.#peerStreamWindow) {
      throw new GrpcError(8, `request of ${size} bytes exceeds the peer's stream window`);
    }
    const id = this.#nextId;
    this.#nextId += 2;
    const done = new Promise<Uint8Array>((resolve, reject) => {
      this.#streams.set(id, {
        data: [],
        dataLen: 0,
        status: undefined,
        message: undefined,
        sawHeaders: false,
        resolve,
        reject,
      });
    });
    const out = this.#out;
    const block = this.#encBuf;
    block.reset();
    this.#enc.begin(block);
    this.#enc.field(block, ":method", "POST");
    this.#enc.field(block, ":scheme", "http");
    this.#enc.field(block, ":path", path);
    this.#enc.field(block, ":authority", this.#authority);
    this.#enc.field(block, "content-type", "application/grpc");
    this.#enc.field(block, "te", "trailers");
    writeFrameHeader(out, block.len, FrameType.HEADERS, Flag.END_HEADERS, id);
    out.bytes(block.view());
    this.#sendWindow -= size;
    let sent = 0;
    const prefix = new Uint8Array(5);
    prefix[1] = (msg.length >>> 24) & 0xff;
    prefix[2] = (msg.length >>> 16) & 0xff;
    prefix[3] = (msg.length >>> 8) & 0xff;
    prefix[4] = msg.length & 0xff;
    const whole = new Uint8Array(size);
    whole.set(prefix);
    whole.set(msg, 5);
    do {
      const n = Math.min(this.#peerMaxFrame, size - sent);
      const last = sent + n === size;
      writeFrameHeader(out, n, FrameType.DATA, last ? Flag.END_STREAM : 0, id);
      out.bytes(whole.subarray(sent, sent + n));
      sent += n;
    } while (sent < size);
    this.#flush();
    return await done;
  }

  /** Writes everything queued in this tick in one write. */
  #flush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      if (this.#out.len === 0 || this.#failed) return;
      const chunk = this.#out.view().slice();
      this.#out.reset();
      this.#writing = this.#writing.then(() => this.#writeAll(chunk)).catch((e) =>
        this.#fail(new GrpcError(14, `write failed: ${(e as Error).message}`))
      );
    });
  }

  async #writeAll(b: Uint8Array): Promise<void> {
    let p = 0;
    while (p < b.length) p += await this.#conn.write(b.subarray(p));
  }

  #fail(e: Error): void {
    if (this.#failed) return;
    this.#failed = e;
    for (const s of this.#streams.values()) s.reject(e);
    this.#streams.clear();
    for (const w of this.#waiters.splice(0)) w();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  async #readLoop(): Promise<void> {
    let buf = new Uint8Array(1 << 16);
    let len = 0;
    try {
      while (true) {
        if (len === buf.length) {
          const bigger = new Uint8Array(buf.length * 2);
          bigger.set(buf);
          buf = bigger;
        }
        const n = await this.#conn.read(buf.subarray(len));
        if (n === null) throw new GrpcError(14, "connection closed by the server");
        len += n;
        let p = 0;
        while (len - p >= FRAME_HEADER_LEN) {
          const flen = (buf[p] << 16) | (buf[p + 1] << 8) | buf[p + 2];
          if (len - p < FRAME_HEADER_LEN + flen) {
            if (FRAME_HEADER_LEN + flen > buf.length) {
              const bigger = new Uint8Array(FRAME_HEADER_LEN + flen);
              bigger.set(buf.subarray(p, len));
              buf = bigger;
              len -= p;
              p = 0;
            }
            break;
          }
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
          if (key === Setting.INITIAL_WINDOW_SIZE) this.#peerStreamWindow = v;
          else if (key === Setting.MAX_FRAME_SIZE) this.#peerMaxFrame = v;
          else if (key === Setting.MAX_CONCURRENT_STREAMS) this.#peerMaxStreams = v;
          else if (key === Setting.HEADER_TABLE_SIZE) this.#enc.setMaxTableSize(v);
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
      case FrameType.WINDOW_UPDATE:
        if (id === 0) {
          this.#sendWindow += readU32(payload, 0) & 0x7fffffff;
          this.#wake();
        }
        return;
      case FrameType.GOAWAY: {
        const last = readU32(payload, 0) & 0x7fffffff;
        const code = readU32(payload, 4);
        const err = new GrpcError(14, `server sent GOAWAY (code ${code})`);
        for (const [sid, s] of this.#streams) {
          if (sid > last) {
            this.#streams.delete(sid);
            s.reject(err);
          }
        }
        // Streams up to `last` may still complete; no new ones start on this connection.
        this.#failed ??= err;
        this.#wake();
        return;
      }
      case FrameType.RST_STREAM: {
        const s = this.#streams.get(id);
        if (s) {
          this.#streams.delete(id);
          s.reject(new GrpcError(14, `stream reset (code ${readU32(payload, 0)})`));
          this.#wake();
        }
        return;
      }
      case FrameType.DATA: {
        this.#received += payload.length;
        if (this.#received >= CONN_WINDOW / 2) {
          writeWindowUpdate(this.#out, 0, this.#received);
          this.#received = 0;
          this.#flush();
        }
        const s = this.#streams.get(id);
        if (!s) return;
        let body = payload;
        if (flags & Flag.PADDED) body = payload.subarray(1, payload.length - payload[0]);
        s.data.push(body.slice());
        s.dataLen += body.length;
        if (s.dataLen > STREAM_WINDOW) {
          this.#streams.delete(id);
          s.reject(new GrpcError(8, "response larger than this client's stream window"));
          return;
        }
        if (flags & Flag.END_STREAM) this.#finish(id, s);
        return;
      }
      case FrameType.HEADERS: {
        let p = 0;
        let end = payload.length;
        if (flags & Flag.PADDED) {
          end -= payload[0];
          p = 1;
        }
        if (flags & Flag.PRIORITY) p += 5;
        this.#hdrStream = id;
        this.#hdrEnd = (flags & Flag.END_STREAM) !== 0;
        this.#hdrBuf.reset();
        this.#hdrBuf.bytes(payload.subarray(p, end));
        if (flags & Flag.END_HEADERS) this.#headerBlock();
        return;
      }
      case FrameType.CONTINUATION:
        this.#hdrBuf.bytes(payload);
        if (flags & Flag.END_HEADERS) this.#headerBlock();
        return;
      default:
        return;
    }
  }

  #headerBlock(): void {
    const fields: string[] = [];
    const block = this.#hdrBuf.view();
    this.#dec.decode(block, 0, block.length, fields);
    const s = this.#streams.get(this.#hdrStream);
    if (!s) return;
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] === ":status" && fields[i + 1] !== "200") {
        s.status ??= "2";
        s.message ??= `HTTP status ${fields[i + 1]}`;
      } else if (fields[i] === "grpc-status") s.status = fields[i + 1];
      else if (fields[i] === "grpc-message") s.message = decodeURIComponent(fields[i + 1]);
    }
    s.sawHeaders = true;
    if (this.#hdrEnd) this.#finish(this.#hdrStream, s);
  }

  #finish(id: number, s: Pending): void {
    this.#streams.delete(id);
    this.#wake();
    if (s.status === undefined) {
      s.reject(new GrpcError(13, "stream ended without grpc-status"));
    } else if (s.status !== "0") {
      s.reject(new GrpcError(Number(s.status), s.message ?? ""));
    } else {
      const body = new Uint8Array(s.dataLen);
      let o = 0;
      for (const d of s.data) {
        body.set(d, o);
        o += d.length;
      }
      s.resolve(body);
    }
  }
}
