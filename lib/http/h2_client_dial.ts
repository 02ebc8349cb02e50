/**
 * Opening the byte stream under an HTTP/2 client session: TCP for http: (h2c with prior
 * knowledge), TLS with ALPN "h2" for https:. Every path turns Nagle off (TCP_NODELAY): HTTP/2
 * writes small frames (WINDOW_UPDATE, PING, a unary request) that Nagle would hold behind the
 * peer's delayed ACK for up to 40 ms.
 *
 * TLS without a client certificate runs on Deno's own TLS (`Deno.startTls` over a TCP
 * connection whose Nagle we switched off). `Deno.connectTls` takes a client certificate but
 * never sets TCP_NODELAY and gives no way to (its TlsConn has no setNoDelay; checked with
 * strace on Deno 2.9), and `Deno.startTls` takes no client certificate; so mutual TLS runs on
 * `node:tls` with `setNoDelay(true)`, wrapped as a ByteConn by {@link NodeTlsConn}.
 */
import { connect as nodeTlsConnect, type TLSSocket } from "node:tls";
import { isIP } from "node:net";
import type { ByteConn } from "./conn.ts";
import { NodeTlsConn } from "./node_tls_conn.ts";

/** TLS for an https: origin. PEM text. */
export interface H2ClientTls {
  /** CA certificates to trust (PEM); default: the system's roots. */
  caCerts?: string[];
  /** Client certificate and key (PEM) for mutual TLS. */
  cert?: string;
  key?: string;
}

/** A connected byte stream and how to close it at once (no lingering). */
export interface DialedConn {
  conn: ByteConn;
  /** Close without waiting for queued output (the session's destroy). */
  destroy(): void;
}

/** The host part of a URL as a socket wants it ("[::1]" -> "::1"). */
function socketHost(url: URL): string {
  const h = url.hostname;
  return h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
}

/**
 * Connects to `url` (http: or https:). `signal` aborts the attempt (its reason is thrown).
 * Throws a TypeError for an unsupported URL or TLS option, before any I/O.
 */
export async function dialH2(
  url: URL,
  tls: H2ClientTls | undefined,
  signal: AbortSignal,
): Promise<DialedConn> {
  const secure = url.protocol === "https:";
  if (!secure && url.protocol !== "http:") {
    throw new TypeError(`h2 client: the URL must be http: or https:, got ${url.href}`);
  }
  if (!secure && tls !== undefined) {
    throw new TypeError(`h2 client: TLS options need an https: URL, got ${url.href}`);
  }
  if ((tls?.cert === undefined) !== (tls?.key === undefined)) {
    throw new TypeError("h2 client: a client certificate needs both tls.cert and tls.key");
  }
  const hostname = socketHost(url);
  const port = Number(url.port || (secure ? 443 : 80));
  signal.throwIfAborted();
  if (secure && tls?.cert !== undefined) return await dialNodeTls(hostname, port, tls, signal);
  const tcp = await Deno.connect({ hostname, port, signal });
  tcp.setNoDelay(true);
  if (!secure) return { conn: tcp, destroy: () => closeQuietly(tcp) };
  const onAbort = () => closeQuietly(tcp);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const t = await Deno.startTls(tcp, {
      hostname,
      caCerts: tls?.caCerts,
      alpnProtocols: ["h2"],
    });
    try {
      const info = await t.handshake();
      if (info.alpnProtocol !== "h2") {
        throw new Error(
          `h2 client: ${url.host} did not agree to HTTP/2 in the TLS handshake (ALPN: ${
            info.alpnProtocol ?? "none"
          })`,
        );
      }
    } catch (e) {
      closeQuietly(t);
      throw e;
    }
    return { conn: t, destroy: () => closeQuietly(t) };
  } catch (e) {
    closeQuietly(tcp);
    signal.throwIfAborted();
    throw e;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

async function dialNodeTls(
  hostname: string,
  port: number,
  tls: H2ClientTls,
  signal: AbortSignal,
): Promise<DialedConn> {
  const sock: TLSSocket = nodeTlsConnect({
    host: hostname,
    port,
    // SNI takes a name, never an address (node warns about an IP there).
    servername: isIP(hostname) === 0 ? hostname : undefined,
    ca: tls.caCerts,
    cert: tls.cert,
    key: tls.key,
    ALPNProtocols: ["h2"],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      sock.once("secureConnect", () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
      sock.once("error", (e: Error) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      });
    });
    if (sock.alpnProtocol !== "h2") {
      throw new Error(
        `h2 client: ${hostname}:${port} did not agree to HTTP/2 in the TLS handshake (ALPN: ${
          sock.alpnProtocol || "none"
        })`,
      );
    }
  } catch (e) {
    sock.destroy();
    throw e;
  }
  sock.setNoDelay(true);
  const conn = new NodeTlsConn(sock);
  return { conn, destroy: () => conn.destroy() };
}

function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch {
    // Already closed: nothing left to release.
  }
}
