/**
 * Serving the peer handler on a peer URL. The HTTP server's default body cap (2 MiB for a
 * plain body) suits client requests, not peer traffic: a raft stream is one request body that
 * lives as long as the connection, and a snapshot body is the whole page file. So the peer
 * listener lifts the total cap and relies on the handler's own per-frame limit.
 */
import type { MemberId } from "../base/types.ts";
import { type HttpLimits, type HttpServer, serveHttp } from "../http/server.ts";
import { peerHandler, type PeerHandlerOptions, type PeerReceiveSink } from "./peer_handler.ts";
import type { PeerTlsOptions, TransportHost } from "./transport.ts";

export interface ServePeersOptions extends PeerHandlerOptions {
  host: TransportHost;
  /** Receives the per-peer receive counters (normally the HttpTransport). */
  sink: PeerReceiveSink;
  hostname?: string;
  port?: number;
  tls?: PeerTlsOptions;
  limits?: Partial<HttpLimits>;
}

/** A sink that counts nothing, for a listener whose member keeps no peer counters. */
export const NO_RECEIVE_SINK: PeerReceiveSink = {
  received(_from: MemberId, _messages: number, _bytes: number): void {},
  snapshotReceived(_from: MemberId, _bytes: number, _ok: boolean): void {},
};

/** How long closing the peer listener waits for what is in flight (etcd: 1 s). */
export const PEER_CLOSE_WAIT_MS = 1000;

/** Listens for peers (cleartext h2c/HTTP/1.1, or TLS per `tls`); resolves once bound. */
export async function servePeers(opts: ServePeersOptions): Promise<HttpServer> {
  const tls = opts.tls;
  if (tls?.clientCertAuth && !tls.trustedCaFile) {
    throw new Error("peer TLS: --peer-client-cert-auth needs --peer-trusted-ca-file");
  }
  return await serveHttp({
    hostname: opts.hostname,
    port: opts.port,
    handler: peerHandler(opts.host, opts.sink, opts),
    tls: tls === undefined ? undefined : {
      cert: await Deno.readTextFile(tls.certFile),
      key: await Deno.readTextFile(tls.keyFile),
      ca: tls.trustedCaFile ? await Deno.readTextFile(tls.trustedCaFile) : undefined,
      requireClientCert: tls.clientCertAuth === true,
    },
    limits: {
      maxBodyBytes: Number.MAX_SAFE_INTEGER,
      // A silent stream is normal between heartbeats; the sender's keep-alive finds dead ones.
      idleTimeoutMs: 60 * 60 * 1000,
      // A peer's stream to us never ends by itself: closing waits at most this long for
      // streams and calls in flight, as etcd's Close waits up to 1 s for its peer handler
      // (a member's stop took 4-5 s, the drain waiting out streams from running peers)
      drainTimeoutMs: PEER_CLOSE_WAIT_MS,
      ...opts.limits,
    },
  });
}
