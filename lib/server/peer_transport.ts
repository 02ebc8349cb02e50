/**
 * The real peer transport of a member: HTTP/2 streams and a snapshot pipeline to every peer
 * (lib/transport's HttpTransport), and a listener on every --listen-peer-urls serving the
 * peers' streams to this member. Closing it stops the listeners and the streams.
 */
import type { Clock } from "../io/clock.ts";
import type { HttpServer } from "../http/server.ts";
import {
  HttpTransport,
  type PeerStats,
  type PeerTlsOptions,
  type Transport,
  type TransportHost,
} from "../transport/mod.ts";
import type { Message } from "../raft/mod.ts";
import type { MemberId } from "../base/types.ts";
import type { PeerInfo } from "../transport/mod.ts";
import type { ServerConfig } from "./config.ts";
import { type Logger, stderrLogger } from "../base/log.ts";

/** The member's peer TLS from its configuration; undefined when peers speak cleartext. */
export function peerTlsOf(cfg: ServerConfig): PeerTlsOptions | undefined {
  const t = cfg.peerTls;
  if (t.certFile === "" && t.keyFile === "") return undefined;
  return {
    certFile: t.certFile,
    keyFile: t.keyFile,
    trustedCaFile: t.trustedCaFile === "" ? undefined : t.trustedCaFile,
    clientCertAuth: t.clientCertAuth,
  };
}

/**
 * The peer URLs a member's transport is bound to (port 0 resolved), in --listen-peer-urls
 * order; empty for a member without one.
 */
export function boundPeerUrls(t: Transport | null, cfg: ServerConfig): string[] {
  if (!(t instanceof ServedTransport)) return [];
  return t.servers.map((s, i) => {
    const host = s.hostname.includes(":") ? `[${s.hostname}]` : s.hostname;
    return `${cfg.listenPeerUrls[i].protocol}//${host}:${s.port}`;
  });
}

/** HttpTransport plus the peer listeners it is served on. */
class ServedTransport implements Transport {
  constructor(readonly inner: HttpTransport, readonly servers: HttpServer[]) {}
  send(msgs: readonly Message[]): void {
    this.inner.send(msgs);
  }
  addPeer(peer: PeerInfo): void {
    this.inner.addPeer(peer);
  }
  updatePeer(peer: PeerInfo): void {
    this.inner.updatePeer(peer);
  }
  removePeer(id: MemberId): void {
    this.inner.removePeer(id);
  }
  activeSince(id: MemberId): number {
    return this.inner.activeSince(id);
  }
  call(to: MemberId, method: string, body: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return this.inner.call(to, method, body, timeoutMs);
  }
  stats(): PeerStats[] {
    return this.inner.stats();
  }
  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close()));
    await this.inner.close();
  }
}

/** Starts the transport and listens on every peer URL; the bound ports are in `servers`. */
export async function startPeerTransport(
  cfg: ServerConfig,
  host: TransportHost,
  opts: {
    clock?: Clock;
    log?: Logger | ((line: string) => void);
    /** Each probe's round-trip time to a peer, in seconds (for metrics). */
    onRoundTrip?: (peer: MemberId, seconds: number) => void;
    /** Each snapshot sent to / received from a peer: its duration in seconds (for metrics). */
    onSnapshotSent?: (peer: MemberId, seconds: number) => void;
    onSnapshotReceived?: (peer: MemberId, seconds: number) => void;
  } = {},
): Promise<Transport & { servers: HttpServer[] }> {
  const tls = peerTlsOf(cfg);
  const log = opts.log ?? stderrLogger(cfg.logLevel);
  const inner = new HttpTransport({
    host,
    tls,
    clock: opts.clock,
    log,
    onRoundTrip: opts.onRoundTrip,
    onSnapshotSent: opts.onSnapshotSent,
    onSnapshotReceived: opts.onSnapshotReceived,
    // a port-0 URL (tests) names no reachable peer: no header then
    advertisePeerUrls: cfg.initialAdvertisePeerUrls.some((u) => u.port === "0")
      ? []
      : cfg.initialAdvertisePeerUrls.map((u) => u.href.replace(/\/$/, "")),
  });
  const servers: HttpServer[] = [];
  try {
    for (const u of cfg.listenPeerUrls) {
      const hostname = u.hostname.replace(/^\[(.*)\]$/, "$1");
      const port = u.port === "" ? 2380 : Number(u.port);
      servers.push(await inner.serve({ hostname, port }));
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    await inner.close();
    throw err;
  }
  return new ServedTransport(inner, servers);
}
