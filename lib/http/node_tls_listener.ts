/**
 * A TLS listener that requires and verifies client certificates, on `node:tls` (see
 * node_tls_conn.ts for why), shaped like a `Deno.Listener` for the server's accept loop:
 * `accept()` yields connections whose handshake already succeeded, `close()` stops it.
 *
 * Handshakes that fail (no certificate, a certificate from another CA, a stalled client past
 * `handshakeTimeoutMs`) never reach `accept()`; their sockets are destroyed here, since Deno's
 * node:tls reports a handshake timeout without closing the socket.
 */
import { createServer, type Server, type TLSSocket } from "node:tls";
import type { Socket } from "node:net";
import { NodeTlsConn } from "./node_tls_conn.ts";

export interface NodeTlsListenOptions {
  hostname: string;
  port: number;
  cert: string;
  key: string;
  /** CA bundle (PEM) client certificates must chain to. */
  ca: string;
  alpnProtocols: string[];
  handshakeTimeoutMs: number;
}

/** Binds and resolves once listening (rejects if the address cannot be bound). */
export function listenNodeTls(opts: NodeTlsListenOptions): Promise<NodeTlsListener> {
  const server = createServer({
    cert: opts.cert,
    key: opts.key,
    ca: opts.ca,
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: opts.alpnProtocols,
    handshakeTimeout: opts.handshakeTimeoutMs,
  });
  const listener = new NodeTlsListener(server);
  return new Promise((resolve, reject) => {
    const failed = (e: Error) => reject(e);
    server.once("error", failed);
    server.listen(opts.port, opts.hostname, () => {
      server.off("error", failed);
      const a = server.address();
      if (a === null || typeof a === "string") {
        server.close();
        reject(new Error("node:tls listener has no TCP address"));
        return;
      }
      listener.addr = { transport: "tcp", hostname: a.address, port: a.port };
      resolve(listener);
    });
  });
}

/** See the module comment. */
export class NodeTlsListener {
  addr: Deno.NetAddr = { transport: "tcp", hostname: "", port: 0 };
  readonly #server: Server;
  /** Every TCP socket accepted, handshaken or not, until it closes. */
  readonly #raw = new Set<Socket>();
  readonly #conns = new Set<NodeTlsConn>();
  #queue: NodeTlsConn[] = [];
  #waiter: { resolve(c: NodeTlsConn): void; reject(e: Error): void } | undefined = undefined;
  #closed = false;
  #onEmpty: (() => void) | undefined = undefined;
  readonly #serverClosed: Promise<void>;

  constructor(server: Server) {
    this.#server = server;
    this.#serverClosed = new Promise((r) => server.once("close", () => r()));
    server.on("connection", (s: Socket) => {
      if (this.#closed) {
        s.destroy();
        return;
      }
      this.#raw.add(s);
      s.once("close", () => this.#raw.delete(s));
    });
    server.on("tlsClientError", (_e: Error, s: TLSSocket) => s.destroy());
    server.on("secureConnection", (s: TLSSocket) => this.#onSecure(s));
  }

  /** The next handshaken connection; rejects with BadResource once closed. */
  accept(): Promise<NodeTlsConn> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("listener closed"));
    const c = this.#queue.shift();
    if (c !== undefined) return Promise.resolve(c);
    if (this.#waiter !== undefined) return Promise.reject(new Error("concurrent accept"));
    return new Promise((resolve, reject) => this.#waiter = { resolve, reject });
  }

  /**
   * Stops listening and refuses handshakes in progress; connections already accepted are the
   * caller's to shut down, then {@link finish}.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(new Deno.errors.BadResource("listener closed"));
    for (const c of this.#queue) c.destroy();
    this.#queue = [];
  }

  /**
   * After close() and after the accepted connections were shut down: gives their last
   * octets (GOAWAY, close_notify) up to `graceMs` to leave, destroys whatever is still open,
   * handshakes in progress included, and waits for the server to stop.
   */
  async finish(graceMs = 500): Promise<void> {
    this.close();
    if (this.#conns.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((r) => this.#onEmpty = r),
        new Promise<void>((r) => timer = setTimeout(r, graceMs)),
      ]);
      clearTimeout(timer);
      this.#onEmpty = undefined;
    }
    for (const c of this.#conns) c.destroy();
    for (const s of this.#raw) s.destroy();
    await this.#serverClosed;
  }

  #onSecure(s: TLSSocket): void {
    if (this.#closed) {
      s.destroy();
      return;
    }
    const c = new NodeTlsConn(s);
    this.#conns.add(c);
    s.once("close", () => {
      this.#conns.delete(c);
      if (this.#conns.size === 0) this.#onEmpty?.();
    });
    const w = this.#waiter;
    if (w !== undefined) {
      this.#waiter = undefined;
      w.resolve(c);
    } else {
      this.#queue.push(c);
    }
  }
}
