/**
 * One HTTP/1.1 server connection (RFC 9112): keep-alive and pipelined requests served in
 * order, Content-Length and chunked request bodies streamed to the handler as they arrive,
 * streamed chunked responses (each chunk flushed as produced), and chunked trailers when the
 * request said `TE: trailers`.
 */
import type {
  UniversalHandlerFn,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { ByteBuffer } from "./byte_buffer.ts";
import { BodyMeter, isEnveloped } from "./body_meter.ts";
import type { ByteConn, H2cUpgrade, ServerConnection } from "./conn.ts";
import { BodyTooLargeError, type HttpLimits } from "./limits.ts";
import { CONNECTION_HEADERS, requestUrl } from "./request_url.ts";
import { latin1 } from "./huffman.ts";

const READ_BUFFER = 16 * 1024;
/** Unread request body up to this size is drained to keep the connection; more closes it. */
const DRAIN_LIMIT = 256 * 1024;
const HIGH_WATER = 256 * 1024;

/** A malformed request: answer `status` and close. */
class BadRequest extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const DONE: IteratorResult<Uint8Array> = { done: true, value: undefined };
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Options of one HTTP/1.1 connection. */
export interface H1ConnectionOptions {
  handler: UniversalHandlerFn;
  limits: HttpLimits;
  scheme: "http" | "https";
  localAuthority: string;
  initial?: Uint8Array;
  onClose: (c: ServerConnection) => void;
  /** Cleartext only: takes over the socket after `101 Switching Protocols` to h2c. */
  upgrade?: (u: H2cUpgrade) => void;
}

/** The request body of the request being served, read from the socket on demand. */
class H1Body implements AsyncIterableIterator<Uint8Array> {
  /** Octets left in the body (Content-Length), or in the current chunk (chunked). */
  remaining: number;
  done: boolean;
  failed: Error | null = null;
  private meter: BodyMeter;

  constructor(
    private readonly c: H1Connection,
    readonly chunked: boolean,
    length: number,
    enveloped: boolean,
    limits: HttpLimits,
  ) {
    this.remaining = chunked ? 0 : length;
    this.done = !chunked && length === 0;
    this.meter = new BodyMeter(enveloped, limits);
    if (!chunked && !enveloped && length > limits.maxBodyBytes) {
      // Declared too large: the handler gets the error at once and answers (the API layer
      // turns it into etcd's request-too-large); the connection closes after the answer.
      this.failed = new BodyTooLargeError(limits.maxBodyBytes, "body");
    }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    if (this.failed !== null) throw this.failed;
    if (this.done) return DONE;
    try {
      const chunk = await this.read();
      if (chunk === null) return DONE;
      const err = this.meter.add(chunk);
      if (err !== null) throw err;
      return { done: false, value: chunk };
    } catch (e) {
      this.failed = e instanceof Error ? e : new Error(String(e));
      this.done = true;
      throw this.failed;
    }
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    return Promise.resolve(DONE);
  }

  private async read(): Promise<Uint8Array | null> {
    const c = this.c;
    if (!this.chunked) {
      if (c.buffered() === 0 && !(await c.fill())) throw new Error("connection closed in body");
      const n = Math.min(c.buffered(), this.remaining);
      const chunk = c.take(n);
      this.remaining -= n;
      if (this.remaining === 0) {
        this.done = true;
        c.bodyDone();
      }
      return chunk;
    }
    for (;;) {
      if (this.remaining > 0) {
        if (c.buffered() === 0 && !(await c.fill())) throw new Error("connection closed in body");
        const n = Math.min(c.buffered(), this.remaining);
        const chunk = c.take(n);
        this.remaining -= n;
        if (this.remaining === 0) await this.crlf();
        return chunk;
      }
      // Chunk size line: hex size, optional extensions.
      const line = await c.line(4096);
      const semi = line.indexOf(";");
      const hex = (semi >= 0 ? line.slice(0, semi) : line).trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new BadRequest(400, "bad chunk size");
      const size = parseInt(hex, 16);
      if (size === 0) {
        // Trailer section (ignored) up to the empty line.
        let total = 0;
        for (;;) {
          const t = await c.line(8192);
          total += t.length;
          if (total > c.limits.maxHeaderListSize) throw new BadRequest(431, "trailers too large");
          if (t === "") break;
        }
        this.done = true;
        c.bodyDone();
        return null;
      }
      this.remaining = size;
    }
  }

  private async crlf(): Promise<void> {
    const l = await this.c.line(2);
    if (l !== "") throw new BadRequest(400, "chunk not followed by CRLF");
  }
}

/** A server-side HTTP/1.1 connection; `run()` serves it until it closes. */
export class H1Connection implements ServerConnection {
  readonly limits: HttpLimits;
  private readonly handler: UniversalHandlerFn;
  private readonly scheme: string;
  private readonly localAuthority: string;
  private readonly onClose: (c: ServerConnection) => void;
  private readonly upgrade?: (u: H2cUpgrade) => void;
  /** The socket was handed to an HTTP/2 connection: never close it here. */
  private upgraded = false;

  private buf: Uint8Array;
  private start = 0;
  private end = 0;
  private eof = false;
  private out = new ByteBuffer(16 * 1024);
  private spare = new ByteBuffer(16 * 1024);
  private flushQueued = false;
  private writing: Promise<void> | null = null;
  private drainWaiters: (() => void)[] = [];
  private dead = false;
  private stopping = false;
  /** True while waiting for a request head (the connection is idle or slow). */
  private inHead = true;
  private headSince = Date.now();
  private lastActivity = Date.now();
  private ac: AbortController | null = null;
  private served = 0;
  private writeSince = 0;

  constructor(private readonly io: ByteConn, opts: H1ConnectionOptions) {
    this.handler = opts.handler;
    this.limits = opts.limits;
    this.scheme = opts.scheme;
    this.localAuthority = opts.localAuthority;
    this.onClose = opts.onClose;
    this.upgrade = opts.upgrade;
    this.buf = new Uint8Array(Math.max(READ_BUFFER, opts.initial?.length ?? 0));
    if (opts.initial !== undefined) {
      this.buf.set(opts.initial);
      this.end = opts.initial.length;
    }
  }

  // ---- input ----

  buffered(): number {
    return this.end - this.start;
  }

  /**
   * Read more from the socket; false at end of stream. Concurrent callers share one read, so
   * the peer watcher (see watchPeer) and the next request's reader never race.
   */
  fill(): Promise<boolean> {
    if (this.filling === null) {
      const p: Promise<boolean> = this.doFill().finally(() => {
        if (this.filling === p) this.filling = null;
      });
      this.filling = p;
    }
    return this.filling;
  }

  private filling: Promise<boolean> | null = null;

  /**
   * Once the request body is read, keep reading ahead so a peer that goes away is noticed
   * while the handler runs (the request signal aborts, as Go's net/http cancels the request
   * context). Bytes read ahead are the next pipelined request; reading stops once a head's
   * worth is buffered.
   */
  bodyDone(): void {
    const ac = this.ac;
    if (ac === null || this.watching) return;
    this.watching = true;
    void (async () => {
      try {
        while (this.ac === ac && !this.dead) {
          if (this.buffered() > this.limits.maxHeaderListSize) return;
          if (!(await this.fill())) {
            if (this.ac === ac) ac.abort(new Error("client closed the connection"));
            return;
          }
        }
      } finally {
        this.watching = false;
      }
    })();
  }

  private watching = false;

  private async doFill(): Promise<boolean> {
    if (this.eof || this.dead) return false;
    if (this.start === this.end) this.start = this.end = 0;
    if (this.end === this.buf.length) {
      const rest = this.end - this.start;
      if (this.start > 0 && rest < this.buf.length / 2) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const next = new Uint8Array(this.buf.length * 2);
        next.set(this.buf.subarray(this.start, this.end));
        this.buf = next;
      }
      this.start = 0;
      this.end = rest;
    }
    let n: number | null;
    try {
      n = await this.io.read(this.buf.subarray(this.end));
    } catch {
      n = null;
    }
    if (n === null) {
      this.eof = true;
      return false;
    }
    this.end += n;
    this.lastActivity = Date.now();
    return true;
  }

  /** Copy out up to `n` buffered octets. */
  take(n: number): Uint8Array {
    const chunk = this.buf.slice(this.start, this.start + n);
    this.start += n;
    return chunk;
  }

  /** One CRLF-terminated line (without the CRLF), at most `max` octets. */
  async line(max: number): Promise<string> {
    for (;;) {
      const b = this.buf;
      for (let i = this.start; i + 1 < this.end; i++) {
        if (b[i] === 13 && b[i + 1] === 10) {
          const s = latin1(b, this.start, i);
          this.start = i + 2;
          return s;
        }
      }
      if (this.end - this.start > max + 2) throw new BadRequest(400, "line too long");
      if (!(await this.fill())) throw new Error("connection closed in body");
    }
  }

  // ---- serving ----

  /** Serve requests until the connection closes; never rejects. */
  async run(): Promise<void> {
    try {
      while (!this.dead && !this.stopping) {
        this.inHead = true;
        this.headSince = Date.now();
        const head = await this.readHead();
        this.inHead = false;
        if (head === null) break;
        const keep = await this.serve(head);
        this.served++;
        if (!keep) break;
      }
    } catch (e) {
      if (e instanceof BadRequest && !this.dead) {
        this.writeSimple(e.status, e.message);
      }
    }
    await this.close();
  }

  /** Parse one request head; null at a clean end of stream between requests. */
  private async readHead(): Promise<string[] | null> {
    const max = this.limits.maxHeaderListSize;
    for (;;) {
      // Tolerate empty lines before a request (RFC 9112 2.2).
      while (
        this.end - this.start >= 2 && this.buf[this.start] === 13 &&
        this.buf[this.start + 1] === 10
      ) this.start += 2;
      const b = this.buf;
      let found = -1;
      for (let i = this.start + 3; i < this.end; i++) {
        if (b[i] === 10 && b[i - 1] === 13 && b[i - 2] === 10 && b[i - 3] === 13) {
          found = i + 1;
          break;
        }
      }
      if (found >= 0) {
        if (found - this.start > max) throw new BadRequest(431, "request head too large");
        const text = latin1(b, this.start, found - 4);
        this.start = found;
        return text.split("\r\n");
      }
      if (this.end - this.start > max) throw new BadRequest(431, "request head too large");
      if (!(await this.fill())) {
        if (this.end - this.start > 0) throw new BadRequest(400, "truncated request head");
        return null;
      }
    }
  }

  /** Serve one request; returns whether the connection stays open. */
  private async serve(lines: string[]): Promise<boolean> {
    const reqLine = lines[0];
    const sp1 = reqLine.indexOf(" ");
    const sp2 = reqLine.lastIndexOf(" ");
    if (sp1 <= 0 || sp2 <= sp1) throw new BadRequest(400, "bad request line");
    const method = reqLine.slice(0, sp1);
    const target = reqLine.slice(sp1 + 1, sp2);
    const version = reqLine.slice(sp2 + 1);
    if (!TOKEN.test(method)) throw new BadRequest(400, "bad method");
    if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
      throw new BadRequest(505, "HTTP version not supported");
    }
    const http10 = version === "HTTP/1.0";
    const header = new Headers();
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i];
      const colon = l.indexOf(":");
      if (colon <= 0) throw new BadRequest(400, "bad header line");
      const name = l.slice(0, colon);
      if (!TOKEN.test(name)) throw new BadRequest(400, "bad header name");
      try {
        header.append(name, l.slice(colon + 1).trim());
      } catch {
        throw new BadRequest(400, "bad header value");
      }
    }
    const conn = header.get("connection")?.toLowerCase() ?? "";
    let keepAlive = http10 ? /\bkeep-alive\b/.test(conn) : !/\bclose\b/.test(conn);
    const te = header.get("transfer-encoding");
    const cl = header.get("content-length");
    let chunked = false;
    let length = 0;
    if (te !== null) {
      if (cl !== null) throw new BadRequest(400, "both content-length and transfer-encoding");
      const codings = te.toLowerCase().split(",").map((s) => s.trim());
      if (codings[codings.length - 1] !== "chunked" || codings.length !== 1) {
        throw new BadRequest(501, "unsupported transfer-encoding");
      }
      chunked = true;
    } else if (cl !== null) {
      if (!/^[0-9]{1,15}$/.test(cl)) throw new BadRequest(400, "bad content-length");
      length = +cl;
    }
    const enveloped = isEnveloped(header.get("content-type"));
    let path = target;
    let authority = header.get("host") ?? "";
    if (!target.startsWith("/")) {
      // Absolute form (proxies) or asterisk form.
      const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/]*)(\/.*)?$/.exec(target);
      if (m !== null) {
        authority = m[1];
        path = m[2] ?? "/";
      } else if (target === "*" && method === "OPTIONS") path = "/";
      else throw new BadRequest(400, "bad request target");
    }
    if (this.upgrade !== undefined && !http10 && !chunked && length === 0) {
      const u = this.h2cUpgrade(method, path, authority, header, conn);
      if (u !== null) {
        this.out.ascii(
          "HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n",
        );
        this.scheduleFlush();
        await this.flushed();
        if (this.dead) return false;
        u.initial = this.buf.slice(this.start, this.end);
        this.start = this.end;
        this.upgraded = true;
        this.upgrade(u);
        return false;
      }
    }
    if (header.get("expect")?.toLowerCase() === "100-continue" && (chunked || length > 0)) {
      this.out.ascii("HTTP/1.1 100 Continue\r\n\r\n");
      this.scheduleFlush();
    }
    const wantsTrailers = /\btrailers\b/.test(header.get("te") ?? "");
    const body = new H1Body(this, chunked, length, enveloped, this.limits);
    const ac = this.ac = new AbortController();
    if (body.done) this.bodyDone();
    const req: UniversalServerRequest = {
      httpVersion: http10 ? "1.0" : "1.1",
      url: requestUrl(this.scheme, authority, path, this.localAuthority),
      method,
      header,
      body,
      signal: ac.signal,
    };
    let res: UniversalServerResponse;
    try {
      res = await this.handler(req);
    } catch {
      res = { status: 500 };
      keepAlive = false;
    }
    if (body.failed instanceof BadRequest) throw body.failed;
    const ok = await this.writeResponse(res, method === "HEAD", http10, keepAlive, wantsTrailers);
    this.ac = null;
    if (!ok) return false;
    keepAlive = keepAlive && !this.stopping && !body.failed && await this.drainBody(body);
    if (!keepAlive) return false;
    return true;
  }

  /**
   * The upgrade this request asks for, if it is a well-formed h2c upgrade we can take now
   * (no body, no read in flight); otherwise null and the request is served as HTTP/1.1.
   */
  private h2cUpgrade(
    method: string,
    path: string,
    authority: string,
    header: Headers,
    connection: string,
  ): H2cUpgrade | null {
    const up = header.get("upgrade");
    const hs = header.get("http2-settings");
    if (up === null || hs === null || this.filling !== null) return null;
    if (!/(^|,)\s*h2c\s*(,|$)/i.test(up) || !/\bupgrade\b/.test(connection)) return null;
    if (!/\bhttp2-settings\b/.test(connection)) return null;
    let settings: Uint8Array;
    try {
      const b64 = hs.trim().replace(/-/g, "+").replace(/_/g, "/");
      const bin = atob(b64 + "=".repeat((4 - b64.length % 4) % 4));
      settings = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    } catch {
      return null;
    }
    if (settings.length % 6 !== 0) return null;
    return { initial: new Uint8Array(0), settings, method, path, authority, header };
  }

  /** Read and drop what the handler left of the request body, if that is cheap. */
  private async drainBody(body: H1Body): Promise<boolean> {
    if (body.done) return true;
    if (!body.chunked && body.remaining > DRAIN_LIMIT) return false;
    let total = 0;
    try {
      for (;;) {
        const r = await body.next();
        if (r.done) return true;
        total += r.value.length;
        if (total > DRAIN_LIMIT) return false;
      }
    } catch {
      return false;
    }
  }

  /** Write the response; false if the connection must close after it. */
  private async writeResponse(
    res: UniversalServerResponse,
    head: boolean,
    http10: boolean,
    keepAlive: boolean,
    wantsTrailers: boolean,
  ): Promise<boolean> {
    const status = Number.isInteger(res.status) && res.status >= 100 && res.status <= 999
      ? res.status
      : 500;
    this.out.ascii(`HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}\r\n`);
    let fixedLength = -1;
    res.header?.forEach((value, name) => {
      if (CONNECTION_HEADERS.has(name)) return;
      if (name === "content-length") {
        fixedLength = /^[0-9]{1,15}$/.test(value) ? +value : -1;
        if (fixedLength < 0) return;
      }
      this.out.ascii(name);
      this.out.ascii(": ");
      this.out.ascii(value);
      this.out.ascii("\r\n");
    });
    const noBody = head || status === 204 || status === 304 || (status >= 100 && status < 200);
    const body = noBody ? undefined : res.body;
    let chunked = false;
    if (fixedLength < 0) {
      if (body === undefined) {
        if (!noBody) this.out.ascii("content-length: 0\r\n");
      } else if (http10) keepAlive = false;
      else {
        chunked = true;
        this.out.ascii("transfer-encoding: chunked\r\n");
      }
    }
    if (!keepAlive) this.out.ascii("connection: close\r\n");
    else if (http10) this.out.ascii("connection: keep-alive\r\n");
    this.out.ascii("\r\n");
    this.scheduleFlush();
    if (body === undefined) {
      if (res.body !== undefined) void dropBody(res.body);
      await this.flushed();
      return keepAlive && !this.dead;
    }
    let sent = 0;
    this.holding = true;
    try {
      for await (const chunk of body) {
        if (this.dead) break;
        if (chunk.length === 0) continue;
        if (chunked) {
          this.out.ascii(chunk.length.toString(16));
          this.out.ascii("\r\n");
          this.out.bytes(chunk);
          this.out.ascii("\r\n");
        } else {
          this.out.bytes(chunk);
        }
        sent += chunk.length;
        this.scheduleFlush();
        if (this.out.len > HIGH_WATER) {
          this.unhold();
          void this.startWrite();
          await new Promise<void>((r) => this.drainWaiters.push(r));
          this.holding = true;
        }
      }
    } catch {
      this.unhold();
      // The handler's body failed mid-response: the only honest signal left is closing.
      this.ac?.abort(new Error("response body failed"));
      await this.flushed();
      return false;
    }
    this.unhold();
    if (this.dead) return false;
    if (chunked) {
      this.out.ascii("0\r\n");
      if (wantsTrailers && res.trailer !== undefined) {
        res.trailer.forEach((value, name) => {
          this.out.ascii(name);
          this.out.ascii(": ");
          this.out.ascii(value);
          this.out.ascii("\r\n");
        });
      }
      this.out.ascii("\r\n");
      this.scheduleFlush();
    } else if (fixedLength >= 0 && sent !== fixedLength) {
      keepAlive = false; // the handler lied about its length: framing is lost
    }
    await this.flushed();
    return keepAlive && !this.dead && (chunked || fixedLength >= 0);
  }

  /** A bodyless error answer before closing (400, 431, 505, ...). */
  private writeSimple(status: number, message: string): void {
    const text = message + "\n";
    this.out.ascii(
      `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\ncontent-type: text/plain\r\n` +
        `content-length: ${text.length}\r\nconnection: close\r\n\r\n${text}`,
    );
    this.scheduleFlush();
  }

  // ---- output ----

  private scheduleFlush(): void {
    if (!this.flushQueued && this.writing === null && !this.dead) {
      this.flushQueued = true;
      queueMicrotask(this.flushNow);
    }
  }

  private readonly flushNow = (): void => {
    this.flushQueued = false;
    if (this.dead) return;
    if (this.holding && this.deferRounds < 8) {
      // A response is producing: gather its pieces for a few microtask rounds (a unary
      // response completes within them), never longer (a streaming response's chunks go out
      // as produced).
      this.deferRounds++;
      this.flushQueued = true;
      queueMicrotask(this.flushNow);
      return;
    }
    this.deferRounds = 0;
    void this.startWrite();
  };

  private deferRounds = 0;

  /** True while a response body is being produced (see flushNow). */
  private holding = false;

  private unhold(): void {
    this.holding = false;
    this.deferRounds = 0;
  }

  /** The running write loop, started if needed. */
  private startWrite(): Promise<void> {
    if (this.writing === null) {
      const p: Promise<void> = this.writeLoop().finally(() => {
        if (this.writing === p) this.writing = null;
      });
      this.writing = p;
    }
    return this.writing;
  }

  private async writeLoop(): Promise<void> {
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
        const w = this.drainWaiters;
        this.drainWaiters = [];
        for (const f of w) f();
      }
    } catch {
      this.destroy();
    }
  }

  /** Wait until everything queued so far is written (or the socket is gone). */
  private async flushed(): Promise<void> {
    while (!this.dead && (this.out.len > 0 || this.writing !== null)) {
      await this.startWrite();
    }
  }

  private async close(): Promise<void> {
    await this.flushed();
    if (this.upgraded) {
      // The socket lives on in the HTTP/2 connection.
      this.dead = true;
      this.onClose(this);
      return;
    }
    this.destroy();
  }

  shutdown(): void {
    this.stopping = true;
    if (this.inHead) this.destroy();
  }

  tick(now: number): void {
    if (this.dead) return;
    if (this.writing !== null && now - this.writeSince > this.limits.idleTimeoutMs) {
      this.destroy(); // the peer stopped reading
      return;
    }
    if (!this.inHead) return;
    if (this.buffered() > 0 || this.served === 0) {
      // A request head trickling in too slowly, or a peer that connected and sent nothing.
      if (now - this.headSince > this.limits.headerTimeoutMs) this.destroy();
    } else if (now - this.lastActivity > this.limits.idleTimeoutMs) {
      this.destroy();
    }
  }

  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    try {
      this.io.close();
    } catch {
      // already closed
    }
    this.ac?.abort(new Error("connection lost"));
    this.unhold();
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
    this.onClose(this);
  }
}

async function dropBody(body: AsyncIterable<Uint8Array>): Promise<void> {
  try {
    await body[Symbol.asyncIterator]().return?.();
  } catch {
    // nothing to report: the response is already complete
  }
}

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  204: "No Content",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  411: "Length Required",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};
