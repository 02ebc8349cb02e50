/**
 * Concord's HTTP server: HTTP/1.1 and HTTP/2 on one listener, cleartext or TLS, serving a
 * Connect universal handler.
 *
 * Concord owns this layer because the runtime's servers cannot carry etcd's traffic: node:http2
 * under Deno crashes the process when a client sends GOAWAY, both Deno's and Node's HTTP/2
 * reject etcdctl's `:authority: http://host:port`, and `Deno.serve` cannot send trailers, so it
 * cannot speak gRPC. Cleartext connections starting with the HTTP/2 preface are HTTP/2 (h2c
 * prior knowledge), others HTTP/1.1 (which may upgrade to h2c); over TLS, ALPN decides.
 */
import type { UniversalHandlerFn } from "@connectrpc/connect/protocol";
import type { ByteConn, H2cUpgrade, ServerConnection } from "./conn.ts";
import { PREFACE } from "./frame.ts";
import { H1Connection } from "./h1_connection.ts";
import { H2Connection } from "./h2_connection.ts";
import { type HttpLimits, resolveLimits } from "./limits.ts";

export type { HttpLimits } from "./limits.ts";
export { BodyTooLargeError, DEFAULT_LIMITS } from "./limits.ts";

/** TLS material, PEM encoded. */
export interface HttpTlsOptions {
  cert: string;
  key: string;
  /**
   * CA for client certificates. Deno.listenTls cannot verify client certificates, so a
   * server asked to require them refuses to start rather than silently accepting anyone.
   */
  ca?: string;
  requireClientCert?: boolean;
}

export interface HttpServerOptions {
  /** Address to bind; default 127.0.0.1. */
  hostname?: string;
  /** Port to bind; 0 (the default) picks a free one, see {@link HttpServer.port}. */
  port?: number;
  /** Every request of every protocol goes here (a Connect router's dispatcher). */
  handler: UniversalHandlerFn;
  tls?: HttpTlsOptions;
  limits?: Partial<HttpLimits>;
}

export interface HttpServer {
  readonly hostname: string;
  readonly port: number;
  /** Graceful: GOAWAY, drain in-flight streams (up to limits.drainTimeoutMs), then close. */
  close(): Promise<void>;
}

/** Start listening; resolves once the socket is bound. */
export async function serveHttp(options: HttpServerOptions): Promise<HttpServer> {
  const limits = resolveLimits(options.limits);
  const hostname = options.hostname ?? "127.0.0.1";
  const tls = options.tls;
  if (tls?.requireClientCert) {
    throw new Error(
      "http: client certificate authentication is not supported (Deno.listenTls cannot " +
        "request or verify client certificates)",
    );
  }
  const listener: Deno.Listener = tls !== undefined
    ? Deno.listenTls({
      hostname,
      port: options.port ?? 0,
      cert: tls.cert,
      key: tls.key,
      alpnProtocols: ["h2", "http/1.1"],
    })
    : Deno.listen({ hostname, port: options.port ?? 0 });
  const addr = listener.addr as Deno.NetAddr;
  const server = new Server(listener, addr, options.handler, limits, tls !== undefined);
  server.start();
  return server;
}

class Server implements HttpServer {
  readonly hostname: string;
  readonly port: number;
  private readonly localAuthority: string;
  private readonly conns = new Set<ServerConnection>();
  private readonly running = new Set<Promise<void>>();
  /** Sockets still being sniffed or TLS-handshaken. */
  private readonly pending = new Set<ByteConn>();
  private closing = false;
  private acceptLoop: Promise<void> = Promise.resolve();
  private ticker: ReturnType<typeof setInterval> | undefined = undefined;

  constructor(
    private readonly listener: Deno.Listener,
    addr: Deno.NetAddr,
    private readonly handler: UniversalHandlerFn,
    private readonly limits: HttpLimits,
    private readonly tls: boolean,
  ) {
    this.hostname = addr.hostname;
    this.port = addr.port;
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    this.localAuthority = `${host}:${addr.port}`;
  }

  start(): void {
    this.acceptLoop = this.accept();
    this.ticker = setInterval(
      () => {
        const now = Date.now();
        for (const c of this.conns) c.tick(now);
      },
      Math.max(10, Math.min(1000, this.limits.headerTimeoutMs / 4, this.limits.idleTimeoutMs / 4)),
    );
  }

  private async accept(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.listener.accept();
      } catch (e) {
        if (this.closing || e instanceof Deno.errors.BadResource) return;
        // Transient (out of file descriptors, aborted handshake): keep accepting.
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (this.closing || this.conns.size + this.pending.size >= this.limits.maxConnections) {
        conn.close();
        continue;
      }
      this.track(this.open(conn));
    }
  }

  private track(p: Promise<void>): void {
    this.running.add(p);
    p.finally(() => this.running.delete(p));
  }

  /** Decide the protocol of a new socket and serve it. */
  private async open(conn: Deno.Conn): Promise<void> {
    this.pending.add(conn);
    const timer = setTimeout(() => {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }, this.limits.headerTimeoutMs);
    let h2 = false;
    let initial: Uint8Array | undefined;
    try {
      if (this.tls) {
        const info = await (conn as Deno.TlsConn).handshake();
        h2 = info.alpnProtocol === "h2";
      } else {
        (conn as Deno.TcpConn).setNoDelay?.(true);
        const sniff = await sniffPreface(conn);
        if (sniff === null) throw new Error("closed before a request");
        h2 = sniff.h2;
        initial = sniff.initial;
      }
    } catch {
      clearTimeout(timer);
      this.pending.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
      return;
    }
    clearTimeout(timer);
    this.pending.delete(conn);
    if (this.closing) {
      conn.close();
      return;
    }
    const opts = {
      handler: this.handler,
      limits: this.limits,
      scheme: this.tls ? "https" as const : "http" as const,
      localAuthority: this.localAuthority,
      initial,
      onClose: (c: ServerConnection) => this.conns.delete(c),
    };
    const upgrade = (u: H2cUpgrade) => {
      if (this.closing) {
        conn.close();
        return;
      }
      const c2 = new H2Connection(conn, { ...opts, initial: u.initial, upgrade: u });
      this.conns.add(c2);
      this.track(c2.run().finally(() => this.conns.delete(c2)));
    };
    const c: ServerConnection = h2
      ? new H2Connection(conn, opts)
      : new H1Connection(conn, { ...opts, upgrade: this.tls ? undefined : upgrade });
    this.conns.add(c);
    await c.run();
    this.conns.delete(c);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    try {
      this.listener.close();
    } catch {
      // already closed
    }
    await this.acceptLoop;
    clearInterval(this.ticker);
    for (const p of this.pending) {
      try {
        p.close();
      } catch {
        // already closed
      }
    }
    for (const c of this.conns) c.shutdown();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((r) => timer = setTimeout(r, this.limits.drainTimeoutMs));
    await Promise.race([Promise.all([...this.running]), deadline]);
    clearTimeout(timer);
    for (const c of this.conns) c.destroy();
    await Promise.all([...this.running]);
  }
}

/**
 * Read until the bytes either are the HTTP/2 preface or cannot be: prior-knowledge h2c
 * versus HTTP/1.1. Returns null if the peer closes first.
 */
async function sniffPreface(conn: Deno.Conn): Promise<{ h2: boolean; initial: Uint8Array } | null> {
  const buf = new Uint8Array(16 * 1024);
  let n = 0;
  for (;;) {
    const r = await conn.read(buf.subarray(n));
    if (r === null) return null;
    n += r;
    const m = Math.min(n, PREFACE.length);
    let match = true;
    for (let i = 0; i < m; i++) {
      if (buf[i] !== PREFACE[i]) {
        match = false;
        break;
      }
    }
    if (!match) return { h2: false, initial: buf.slice(0, n) };
    if (n >= PREFACE.length) return { h2: true, initial: buf.slice(0, n) };
  }
}
