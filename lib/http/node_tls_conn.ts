/**
 * A `node:tls` socket as a {@link ByteConn}, so the HTTP/1.1 and HTTP/2 connections can serve
 * it exactly as they serve a `Deno.Conn`.
 *
 * Why node:tls at all: `Deno.listenTls` cannot request or verify client certificates, and
 * etcd's `--client-cert-auth` (and `--trusted-ca-file`) need them. Deno's `node:tls` server
 * honours `requestCert`, `ca` and `rejectUnauthorized`, so listeners that verify client
 * certificates use it; every other TLS listener stays on the faster `Deno.listenTls`.
 *
 * The socket pushes 'data' chunks; `read` pulls them into the caller's buffer. Chunks beyond
 * {@link READ_HIGH_WATER} unread octets pause the socket (TCP backpressure to the peer) until
 * the reader catches up. `write` copies the caller's octets (the connections reuse their
 * output buffers once a write resolves) and resolves at once while the socket's own buffer is
 * below its high-water mark, otherwise on 'drain'.
 */
import type { TLSSocket } from "node:tls";
import type { ByteConn } from "./conn.ts";

/** Unread octets at which the socket is paused. */
export const READ_HIGH_WATER = 256 * 1024;

/** How long `close` lets queued output reach the peer before the socket is destroyed. */
const CLOSE_LINGER_MS = 2000;

interface PendingRead {
  p: Uint8Array;
  resolve(n: number | null): void;
  reject(e: Error): void;
}

interface PendingWrite {
  resolve(): void;
  reject(e: Error): void;
}

/** What the verified client certificate says, for request handlers (see server.ts). */
export interface PeerCertificateInfo {
  /**
   * The leaf certificate's subject Common Name ("" when it has none, as Go's x509 reports
   * it); undefined when the peer presented no verified certificate.
   */
  commonName: string | undefined;
}

/** A handshaken `node:tls` server socket as a `ByteConn`. */
export class NodeTlsConn implements ByteConn {
  /** The ALPN protocol agreed in the handshake ("h2", "http/1.1"), or undefined. */
  readonly alpnProtocol: string | undefined;
  /** The verified client certificate, if the peer presented one. */
  readonly peer: PeerCertificateInfo;

  readonly #socket: TLSSocket;
  #chunks: Uint8Array[] = [];
  /** Octets of `#chunks[0]` already read. */
  #head = 0;
  #buffered = 0;
  #paused = false;
  #ended = false;
  #closed = false;
  #error: Error | undefined = undefined;
  #reader: PendingRead | undefined = undefined;
  #writers: PendingWrite[] = [];
  #linger: ReturnType<typeof setTimeout> | undefined = undefined;

  constructor(socket: TLSSocket) {
    this.#socket = socket;
    const alpn = socket.alpnProtocol;
    this.alpnProtocol = typeof alpn === "string" ? alpn : undefined;
    this.peer = { commonName: socket.authorized ? leafCommonName(socket) : undefined };
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("end", () => this.#onEnd());
    socket.on("error", (e: Error) => this.#onError(e));
    socket.on("drain", () => this.#onDrain());
    socket.on("close", () => this.#onClose());
  }

  /** Reads into `p`; null at the peer's end of stream or after `close`. */
  read(p: Uint8Array): Promise<number | null> {
    if (this.#reader !== undefined) return Promise.reject(new Error("concurrent read"));
    if (this.#buffered > 0) return Promise.resolve(this.#take(p));
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#ended || this.#closed) return Promise.resolve(null);
    if (p.length === 0) return Promise.resolve(0);
    return new Promise((resolve, reject) => this.#reader = { p, resolve, reject });
  }

  /** Queues all of `p`; resolves with its length once the socket has room for more. */
  write(p: Uint8Array): Promise<number> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    const s = this.#socket;
    if (this.#closed || s.destroyed || s.writableEnded) {
      return Promise.reject(new Deno.errors.BrokenPipe("tls socket closed"));
    }
    if (p.length === 0) return Promise.resolve(0);
    if (s.write(p.slice())) return Promise.resolve(p.length);
    return new Promise<number>((resolve, reject) => {
      this.#writers.push({ resolve: () => resolve(p.length), reject });
    });
  }

  /**
   * Ends our side: output already queued is still delivered (then the socket is destroyed,
   * after at most {@link CLOSE_LINGER_MS}); a pending read returns null.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#settleReader(null);
    this.#rejectWriters(new Deno.errors.BrokenPipe("tls socket closed"));
    const s = this.#socket;
    if (s.destroyed) return;
    // A lingering close: end our side (FIN after everything queued), keep reading and
    // dropping what the peer still sends, and let the socket close when the peer ends its
    // side. Destroying as soon as our output is flushed would reset the connection if the peer's
    // last frames (a WINDOW_UPDATE, its own GOAWAY) are still unread, and a reset can discard
    // our final response before the peer reads it. The linger timer bounds the wait.
    this.#linger = setTimeout(() => s.destroy(), CLOSE_LINGER_MS);
    if (this.#paused) {
      this.#paused = false;
      s.resume();
    }
    if (s.writableEnded) return;
    s.end();
  }

  /** Closes at once, discarding queued output. */
  destroy(): void {
    this.close();
    this.#socket.destroy();
  }

  #take(p: Uint8Array): number {
    let n = 0;
    while (n < p.length && this.#chunks.length > 0) {
      const c = this.#chunks[0];
      const k = Math.min(p.length - n, c.length - this.#head);
      p.set(c.subarray(this.#head, this.#head + k), n);
      n += k;
      this.#head += k;
      if (this.#head === c.length) {
        this.#chunks.shift();
        this.#head = 0;
      }
    }
    this.#buffered -= n;
    if (this.#paused && this.#buffered < READ_HIGH_WATER / 2 && !this.#closed) {
      this.#paused = false;
      this.#socket.resume();
    }
    return n;
  }

  #onData(chunk: Uint8Array): void {
    if (this.#closed || chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const r = this.#reader;
    if (r !== undefined) {
      this.#reader = undefined;
      r.resolve(this.#take(r.p));
    }
    if (!this.#paused && this.#buffered >= READ_HIGH_WATER) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  #onEnd(): void {
    this.#ended = true;
    if (this.#buffered === 0) this.#settleReader(null);
  }

  #onError(e: Error): void {
    this.#error ??= e;
    if (this.#reader !== undefined) {
      const r = this.#reader;
      this.#reader = undefined;
      r.reject(e);
    }
    this.#rejectWriters(e);
  }

  #onDrain(): void {
    const w = this.#writers;
    this.#writers = [];
    for (const x of w) x.resolve();
  }

  #onClose(): void {
    clearTimeout(this.#linger);
    this.#ended = true;
    this.#settleReader(null);
    this.#rejectWriters(this.#error ?? new Deno.errors.BrokenPipe("tls socket closed"));
  }

  #settleReader(v: null): void {
    const r = this.#reader;
    if (r === undefined) return;
    this.#reader = undefined;
    r.resolve(v);
  }

  #rejectWriters(e: Error): void {
    const w = this.#writers;
    this.#writers = [];
    for (const x of w) x.reject(e);
  }
}

/**
 * The leaf's subject CN. Go (etcd) keeps the last CN attribute of a subject with several;
 * node reports several as an array.
 */
function leafCommonName(socket: TLSSocket): string {
  const cn: unknown = socket.getPeerCertificate()?.subject?.CN;
  if (typeof cn === "string") return cn;
  if (Array.isArray(cn) && cn.length > 0) return String(cn[cn.length - 1]);
  return "";
}
