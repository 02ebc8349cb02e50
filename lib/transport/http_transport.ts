/**
 * The real peer transport: raft messages to peers over our HTTP/2 client (a stream per peer,
 * a snapshot pipeline, probing: http_peer.ts), and the peers' messages in through
 * `peerHandler(host, transport)` (peer_handler.ts) served on the member's peer URLs
 * (`servePeers`, or `transport.serve()`).
 */
import { asLogger, type Logger, stderrLogger } from "../base/log.ts";
import type { UniversalHandlerFn } from "@connectrpc/connect/protocol";
import type { MemberId } from "../base/types.ts";
import type { H2ClientTls } from "../http/h2_client.ts";
import type { HttpLimits, HttpServer } from "../http/server.ts";
import { type Clock, RealClock } from "../io/clock.ts";
import { type Message, MessageType } from "../raft/mod.ts";
import { DEFAULT_MAX_FRAME } from "./frames.ts";
import { HttpPeer, type PeerConfig } from "./http_peer.ts";
import { peerHandler, type PeerReceiveSink } from "./peer_handler.ts";
import { DEFAULT_QUEUE_LIMIT } from "./peer_queue.ts";
import { servePeers } from "./peer_server.ts";
import {
  idToHex,
  type PeerInfo,
  type PeerStats,
  type PeerTlsOptions,
  type Transport,
  type TransportHost,
} from "./transport.ts";

export interface HttpTransportOptions {
  host: TransportHost;
  /** Default: the real clock. */
  clock?: Clock;
  /** Peer TLS (the dialer's half: client certificate and CA; see PeerTlsOptions). */
  tls?: PeerTlsOptions;
  /** Messages held per peer before dropping (default 4096, etcd's). */
  queueLimit?: number;
  /** Connect and stream-answer timeout (default 1000 ms, etcd's DialTimeout). */
  dialTimeoutMs?: number;
  /** Stream retry backoff: from backoffMinMs doubling to backoffMaxMs (100 ms, 1000 ms). */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Probe each peer this often (default 4000 ms, etcd's proberInterval). */
  probeIntervalMs?: number;
  /** Keep-alive PING after this much idleness, connection dropped if unanswered in the
   * timeout (defaults 1000 ms / 5000 ms: etcd's ConnReadTimeout is 5 s). */
  keepAliveIntervalMs?: number;
  keepAliveTimeoutMs?: number;
  /** Largest frame accepted from peers (default 64 MiB). */
  maxFrame?: number;
  /** Log snapshot progress every this many bytes (default 64 MiB). */
  snapshotLogBytes?: number;
  /** Where the transport logs (a Logger or a line sink); default JSON lines to stderr. */
  log?: Logger | ((line: string) => void);
  /** Gets each successful probe's round-trip time (etcd_network_peer_round_trip_time_seconds). */
  onRoundTrip?: (peer: MemberId, seconds: number) => void;
  /**
   * Gets the duration of each snapshot sent to a peer (from opening it to the peer's 204) and
   * of each received from one (from its request to our 204), in seconds: etcd's
   * etcd_network_snapshot_{send,receive}_total_duration_seconds, successful ones only.
   */
  onSnapshotSent?: (peer: MemberId, seconds: number) => void;
  onSnapshotReceived?: (peer: MemberId, seconds: number) => void;
  /**
   * This member's advertised peer URLs (etcd's X-PeerURLs header): a peer that does not know
   * this member yet (it is behind the member's addition) answers it through them.
   */
  advertisePeerUrls?: string[];
}

export class HttpTransport implements Transport, PeerReceiveSink {
  readonly host: TransportHost;
  readonly #peers = new Map<MemberId, HttpPeer>();
  /**
   * Senders that are not peers, reachable at the URLs they advertised (etcd's rafthttp
   * remotes): a member behind the addition of a new leader must answer it to catch up.
   * Raft messages only (no snapshots, no calls); dropped when the member becomes a peer.
   */
  readonly #remotes = new Map<MemberId, HttpPeer>();
  readonly #cfg: PeerConfig;
  readonly #opts: HttpTransportOptions;
  #tls: Promise<H2ClientTls | undefined> | null = null;
  #closed = false;
  /** Removed peers still shutting down (awaited by close()). */
  readonly #closing = new Set<Promise<void>>();

  constructor(opts: HttpTransportOptions) {
    this.host = opts.host;
    this.#opts = opts;
    const log = asLogger(opts.log, () => stderrLogger()).named("transport");
    this.#cfg = {
      host: opts.host,
      clock: opts.clock ?? new RealClock(),
      log,
      tls: () => (this.#tls ??= loadClientTls(opts.tls)),
      queueLimit: opts.queueLimit ?? DEFAULT_QUEUE_LIMIT,
      dialTimeoutMs: opts.dialTimeoutMs ?? 1000,
      backoffMinMs: opts.backoffMinMs ?? 100,
      backoffMaxMs: opts.backoffMaxMs ?? 1000,
      probeIntervalMs: opts.probeIntervalMs ?? 4000,
      keepAliveIntervalMs: opts.keepAliveIntervalMs ?? 1000,
      keepAliveTimeoutMs: opts.keepAliveTimeoutMs ?? 5000,
      snapshotLogBytes: opts.snapshotLogBytes ?? 64 * 1024 * 1024,
      onRoundTrip: opts.onRoundTrip,
      onSnapshotSent: opts.onSnapshotSent,
      advertisePeerUrls: opts.advertisePeerUrls ?? [],
    };
  }

  /** The handler to serve on the peer URLs (peerHandler bound to this transport's counters). */
  handler(): UniversalHandlerFn {
    return peerHandler(this.host, this, {
      maxFrame: this.#opts.maxFrame ?? DEFAULT_MAX_FRAME,
      snapshotLogBytes: this.#cfg.snapshotLogBytes,
      log: this.#cfg.log,
    });
  }

  /** Listens for peers with this transport's handler and TLS (the listener's half). */
  async serve(
    opts: { hostname?: string; port?: number; limits?: Partial<HttpLimits> } = {},
  ): Promise<HttpServer> {
    return await servePeers({
      ...opts,
      host: this.host,
      sink: this,
      tls: this.#opts.tls,
      maxFrame: this.#opts.maxFrame,
      snapshotLogBytes: this.#cfg.snapshotLogBytes,
      log: this.#cfg.log,
    });
  }

  send(msgs: readonly Message[]): void {
    if (this.#closed) return;
    let unreachable: Set<MemberId> | null = null;
    for (const m of msgs) {
      const peer = this.#peers.get(m.to);
      const p = peer ?? (m.type === MessageType.Snap ? undefined : this.#remotes.get(m.to));
      if (p === undefined) continue; // etcd ignores messages to unknown peers too
      if (m.type === MessageType.Snap) p.sendSnapshot(m);
      else if (!p.send(m)) (unreachable ??= new Set()).add(m.to);
    }
    // raft hears once per call and peer, not once per dropped message
    if (unreachable !== null) { for (const id of unreachable) this.host.reportUnreachable(id); }
  }

  addPeer(peer: PeerInfo): void {
    if (this.#closed || this.#peers.has(peer.id) || peer.id === this.host.memberId) return;
    if (peer.urls.length === 0) throw new Error(`peer ${idToHex(peer.id)} has no URLs`);
    for (const u of peer.urls) {
      const url = new URL(u);
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new Error(`peer URL ${u} must be http: or https:`);
      }
    }
    this.#peers.set(peer.id, new HttpPeer(peer.id, peer.urls, this.#cfg));
    this.#dropRemote(peer.id);
  }

  heardFrom(from: MemberId, peerUrls: string[]): void {
    if (this.#closed) return;
    const known = this.#peers.get(from) ?? this.#remotes.get(from);
    if (known !== undefined) {
      // etcd's receiver dials the sender, so a member that comes up gets the leader's
      // messages at once; here the sender dials, and would wait out its backoff (up to 1 s)
      known.dialNow();
      return;
    }
    if (from === this.host.memberId || this.host.isRemoved(from)) return;
    const urls = peerUrls.filter((u) => /^https?:\/\/[^/]/.test(u));
    if (urls.length === 0) return;
    this.#cfg.log.info("added remote peer (it is not a member here yet)", {
      "remote-peer-id": idToHex(from),
      "remote-peer-urls": urls,
    });
    this.#remotes.set(from, new HttpPeer(from, urls, this.#cfg));
  }

  #dropRemote(id: MemberId): void {
    const r = this.#remotes.get(id);
    if (r === undefined) return;
    this.#remotes.delete(id);
    const closing = r.close();
    this.#closing.add(closing);
    closing.finally(() => this.#closing.delete(closing));
  }

  updatePeer(peer: PeerInfo): void {
    this.#peers.get(peer.id)?.update(peer.urls);
  }

  removePeer(id: MemberId): void {
    this.#dropRemote(id);
    const p = this.#peers.get(id);
    if (p === undefined) return;
    this.#peers.delete(id);
    const closing = p.close();
    this.#closing.add(closing);
    closing.finally(() => this.#closing.delete(closing));
  }

  call(to: MemberId, method: string, body: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const p = this.#peers.get(to);
    if (p === undefined) {
      return Promise.reject(new Error(`peer ${idToHex(to)} is not known to the transport`));
    }
    return p.call(method, body, timeoutMs);
  }

  activeSince(id: MemberId): number {
    return this.#peers.get(id)?.stats.activeSince ?? 0;
  }

  stats(): PeerStats[] {
    return [...this.#peers.values()].map((p) => ({ ...p.stats }));
  }

  received(from: MemberId, messages: number, bytes: number): void {
    // Senders that are not (or no longer) peers are not counted: their ids are the
    // sender's word, and counting them would let anyone grow the table.
    const s = this.#peers.get(from)?.stats;
    if (s === undefined) return;
    s.messagesReceived += messages;
    s.bytesReceived += bytes;
  }

  receiveFailed(from: MemberId): void {
    const s = this.#peers.get(from)?.stats;
    if (s !== undefined) s.receiveFailures++;
  }

  snapshotReceiving(from: MemberId, delta: 1 | -1): void {
    const s = this.#peers.get(from)?.stats;
    // a peer removed meanwhile took its counters along: its decrement has nothing to undo
    if (s !== undefined) s.snapshotsReceiving = Math.max(0, s.snapshotsReceiving + delta);
  }

  snapshotReceived(from: MemberId, bytes: number, ok: boolean, seconds: number): void {
    const s = this.#peers.get(from)?.stats;
    if (s === undefined) return;
    s.snapshotBytesReceived += bytes;
    if (ok) {
      s.snapshotsReceived++;
      this.#opts.onSnapshotReceived?.(from, seconds);
    } else s.snapshotReceiveFailures++;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const peers = [...this.#peers.values(), ...this.#remotes.values()];
    this.#peers.clear();
    this.#remotes.clear();
    await Promise.all([...peers.map((p) => p.close()), ...this.#closing]);
  }
}

/** The dialer's TLS from the peer TLS files: our certificate as the client's, the CA. */
async function loadClientTls(tls: PeerTlsOptions | undefined): Promise<H2ClientTls | undefined> {
  if (tls === undefined) return undefined;
  return {
    cert: await Deno.readTextFile(tls.certFile),
    key: await Deno.readTextFile(tls.keyFile),
    caCerts: tls.trustedCaFile ? [await Deno.readTextFile(tls.trustedCaFile)] : undefined,
  };
}
