/**
 * Concord's HTTP server: HTTP/1.1 and HTTP/2 on one listener, cleartext or TLS, serving a
 * Connect universal handler.
 *
 * Concord owns this layer because the runtime's servers cannot carry etcd's traffic: node:http2
 * under Deno crashes the process when a client sends GOAWAY, both Deno's and Node's HTTP/2
 * reject etcdctl's `:authority: http://host:port`, and `Deno.serve` cannot send trailers, so it
 * cannot speak gRPC. Cleartext connections starting with the HTTP/2 preface are HTTP/2 (h2c
 * prior knowledge), others HTTP/1.1 (which may upgrade to h2c); over TLS, ALPN decides.
 *
 * TLS normally comes from `Deno.listenTls`. A listener that must verify client certificates
 * (etcd's --client-cert-auth / --trusted-ca-file) runs on `node:tls` instead, since
 * Deno.listenTls cannot request them (node_tls_listener.ts); its requests carry the verified
 * certificate under {@link PEER_CERTIFICATE}.
 */
import { type ContextKey, createContextKey, createContextValues } from "@connectrpc/connect";
import type {
  UniversalHandlerFn,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import type { ByteConn, H2cUpgrade, ServerConnection } from "./conn.ts";
import { PREFACE } from "./frame.ts";
import { H1Connection } from "./h1_connection.ts";
import { H2Connection } from "./h2_connection.ts";
import { type HttpLimits, resolveLimits, UnsentBudget } from "./limits.ts";
import { NodeTlsConn, type PeerCertificateInfo } from "./node_tls_conn.ts";
import { listenNodeTls, NodeTlsListener } from "./node_tls_listener.ts";

export type { HttpLimits } from "./limits.ts";
export { BodyTooLargeError, DEFAULT_LIMITS } from "./limits.ts";
export type { PeerCertificateInfo } from "./node_tls_conn.ts";

/**
 * Where a request served by a client-certificate listener finds the peer's verified
 * certificate: `ctx.values.get(PEER_CERTIFICATE)` in a Connect handler (the request's
 * `contextValues`). Undefined on every other listener, so a handler can tell "no client
 * certificate was verified" from "the certificate has no Common Name" (commonName "").
 */
export const PEER_CERTIFICATE: ContextKey<PeerCertificateInfo | undefined> = createContextKey<
  PeerCertificateInfo | undefined
>(undefined, { description: "verified TLS client certificate" });

/** TLS material, PEM encoded. */
export interface HttpTlsOptions {
  cert: string;
  key: string;
  /** CA bundle (PEM) client certificates must chain to; required by `requireClientCert`. */
  ca?: string;
  /**
   * Refuse the handshake of any client without a certificate chaining to `ca` (Go's
   * RequireAndVerifyClientCert, what etcd does with --client-cert-auth or
   * --trusted-ca-file). Served on node:tls; see the module comment.
   */
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
  /** Response octets the HTTP/2 connections hold unsent now (see maxUnsentBytesTotal). */
  unsentBytes(): number;
}

/** Start listening; resolves once the socket is bound. */
export async function serveHttp(options: HttpServerOptions): Promise<HttpServer> {
  const limits = resolveLimits(options.limits);
  const hostname = options.hostname ?? "127.0.0.1";
  const tls = options.tls;
  if (tls?.requireClientCert) {
    if (tls.ca === undefined || tls.ca === "") {
      throw new Error("http: requireClientCert needs a CA (tls.ca) to verify client certificates");
    }
    const listener = await listenNodeTls({
      hostname,
      port: options.port ?? 0,
      cert: tls.cert,
      key: tls.key,
      ca: tls.ca,
      alpnProtocols: ["h2", "http/1.1"],
      handshakeTimeoutMs: limits.headerTimeoutMs,
    });
    const server = new Server(listener, listener.addr, options.handler, limits, true);
    server.start();
    return server;
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

/** What the accept loop needs: a Deno.Listener, or the node:tls one. */
type Listener = Deno.Listener | NodeTlsListener;

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
  /** Unsent response octets of every HTTP/2 connection (limits.maxUnsentBytesTotal). */
  readonly unsent = new UnsentBudget();

  constructor(
    private readonly listener: Listener,
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
      Math.max(
        10,
        Math.min(
          1000,
          this.limits.headerTimeoutMs / 4,
          this.limits.idleTimeoutMs / 4,
          this.limits.stallTimeoutMs / 4,
        ),
      ),
    );
  }

  private async accept(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn | NodeTlsConn;
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
  private async open(conn: Deno.Conn | NodeTlsConn): Promise<void> {
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
      if (conn instanceof NodeTlsConn) {
        // node:tls handshakes before accept() yields the socket.
        h2 = conn.alpnProtocol === "h2";
      } else if (this.tls) {
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
      handler: conn instanceof NodeTlsConn ? withPeer(this.handler, conn.peer) : this.handler,
      limits: this.limits,
      unsent: this.unsent,
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

  unsentBytes(): number {
    return this.unsent.total;
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
    if (!(this.listener instanceof NodeTlsListener)) return;
    await this.listener.finish();
  }
}

/** `handler` with the connection's verified client certificate in every request's values. */
function withPeer(handler: UniversalHandlerFn, peer: PeerCertificateInfo): UniversalHandlerFn {
  return (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    const contextValues = req.contextValues ?? createContextValues();
    contextValues.set(PEER_CERTIFICATE, peer);
    return handler({ ...req, contextValues });
  };
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
