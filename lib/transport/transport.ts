/**
 * The peer transport's contract (agreed in notes/transport_api.md): the member's raft loop
 * hands raft messages to a `Transport` and receives its peers' messages through a
 * `TransportHost`. Two implementations share it: the real one over HTTP/2
 * (http_transport.ts, peer_handler.ts) and a simulated network in one process
 * (sim_network.ts), so the same member code runs in production and in simulation.
 */
import type { ClusterId, MemberId } from "../base/types.ts";
import type { Message } from "../raft/mod.ts";

/** A peer: its member id and the URLs it serves peers on, e.g. http://127.0.0.1:2380. */
export interface PeerInfo {
  id: MemberId;
  urls: string[];
}

/** What the transport calls into: the member's raft loop. */
export interface TransportHost {
  readonly clusterId: ClusterId;
  readonly memberId: MemberId;
  /** A message from a peer (cluster id and recipient already checked). Must not block. */
  receive(m: Message): void;
  /** A peer could not be reached for a message to it (raft's MsgUnreachable). */
  reportUnreachable(to: MemberId): void;
  /** A snapshot send to `to` finished (ok) or failed (raft's MsgSnapStatus). */
  reportSnapshot(to: MemberId, ok: boolean): void;
  /** True when `id` was removed from the cluster (its messages are refused with etcd's 410). */
  isRemoved(id: MemberId): boolean;
  /**
   * Optional: peer `by` refused us with etcd's 410 "removed member": this member was
   * removed from the cluster (etcd's rafthttp reports it as a critical error and the member
   * stops). Called on every refusal, so once per retry while it lasts.
   */
  removedByPeer?(by: MemberId): void;
  /**
   * The page file to send with an outgoing MsgSnap: a consistent, read-only copy of the
   * backend at (or after) the snapshot's index. The transport streams it and calls close().
   */
  openSnapshot(m: Message): Promise<SnapshotSource>;
  /**
   * An incoming MsgSnap with its page file. `db` yields the file's bytes as they arrive and,
   * after the last chunk, checks the size and the SHA-256 trailer: a cut or corrupted stream
   * makes the iteration throw (so the host never keeps a bad file). The host stores the
   * bytes durably and only then steps `m` into raft. Resolves when stored; the receiver then
   * answers 204 and the sender reports success to raft.
   */
  receiveSnapshot(m: Message, db: SnapshotPayload): Promise<void>;
  /**
   * A peer's request that is not a raft message (etcd's /leases and /leases/internal: a
   * follower forwards lease keep-alives and time-to-live reads to the leader). Resolves
   * with the answer's bytes; a PeerCallError is sent back as is, anything else as Unknown.
   */
  handleCall(from: MemberId, method: string, body: Uint8Array): Promise<Uint8Array>;
}

/** A refusal carried back to the caller of `Transport.call` (etcd's gRPC code and message). */
export class PeerCallError extends Error {
  override name = "PeerCallError";
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** An outgoing page file: its exact size and its bytes (read once). */
export interface SnapshotSource {
  size: number;
  read(): AsyncIterable<Uint8Array>;
  close(): void;
}

/** The incoming page file: its announced size and its bytes (verified at the end). */
export interface SnapshotPayload {
  size: number;
  chunks: AsyncIterable<Uint8Array>;
}

/** Counters of one peer, for /metrics and endpoint status. */
export interface PeerStats {
  id: MemberId;
  /** Raft messages (and their framed bytes) handed to the peer's stream. */
  messagesSent: number;
  bytesSent: number;
  /** Stream writes those messages left in (messagesSent / writes is the mean batch). */
  writes: number;
  /** Raft messages (and framed bytes) received from the peer. */
  messagesReceived: number;
  bytesReceived: number;
  /**
   * Messages dropped: queue full, the peer unreachable when they were sent, in a stream write
   * that failed, or still queued when the stream broke. With snapshotsFailed, what etcd counts
   * in etcd_network_peer_sent_failures_total (one per message that did not reach the peer).
   */
  dropped: number;
  /** Round-trip time of the last successful probe in ms; 0 before the first. */
  rttMs: number;
  /**
   * Failed stream dials and broken streams, failed probes and failed snapshot sends: the
   * transport's own trouble (with lastError), not etcd's per-message send failures.
   */
  failures: number;
  /**
   * Streams from the peer that failed (garbage on them, or they broke rather than ended) and
   * snapshots from it whose body could not be read (etcd_network_peer_received_failures_total).
   */
  receiveFailures: number;
  /** Times the stream to the peer went down after it was up (a peer disconnected). */
  disconnects: number;
  /** The last failure's description ("" when none yet). */
  lastError: string;
  snapshotsSent: number;
  snapshotsFailed: number;
  /** Snapshot sends to the peer under way now. */
  snapshotsSending: number;
  /** Snapshots from the peer stored (answered 204), refused or failed, and under way now. */
  snapshotsReceived: number;
  snapshotReceiveFailures: number;
  snapshotsReceiving: number;
  /** Page-file bytes written to / received from this peer's snapshot pipeline. */
  snapshotBytesSent: number;
  snapshotBytesReceived: number;
  /** As Transport.activeSince. */
  activeSince: number;
}

/** A fresh, all-zero PeerStats for `id`. */
export function emptyPeerStats(id: MemberId): PeerStats {
  return {
    id,
    messagesSent: 0,
    bytesSent: 0,
    writes: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    dropped: 0,
    rttMs: 0,
    failures: 0,
    receiveFailures: 0,
    disconnects: 0,
    lastError: "",
    snapshotsSent: 0,
    snapshotsFailed: 0,
    snapshotsSending: 0,
    snapshotsReceived: 0,
    snapshotReceiveFailures: 0,
    snapshotsReceiving: 0,
    snapshotBytesSent: 0,
    snapshotBytesReceived: 0,
    activeSince: 0,
  };
}

export interface Transport {
  /** Non-blocking. MsgSnap goes through the snapshot pipeline; everything else per-peer stream. */
  send(msgs: readonly Message[]): void;
  addPeer(peer: PeerInfo): void;
  updatePeer(peer: PeerInfo): void;
  removePeer(id: MemberId): void;
  /** When the peer last became reachable (clock ms), or 0 while it is not. */
  activeSince(id: MemberId): number;
  /** Per-peer counters for /metrics and endpoint status. */
  stats(): PeerStats[];
  /**
   * Asks peer `to` (see TransportHost.handleCall); rejects with the peer's PeerCallError,
   * or with a transport failure (unreachable, timed out after `timeoutMs`).
   */
  call(to: MemberId, method: string, body: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Member and cluster ids on the wire: lower-case hex without padding, as etcd's types.ID. */
export function idToHex(id: bigint): string {
  return id.toString(16);
}

/** Parses an id header; null when it is not 1-16 hex digits. */
export function hexToId(s: string | null): bigint | null {
  if (s === null || !/^[0-9a-fA-F]{1,16}$/.test(s)) return null;
  return BigInt("0x" + s);
}

/**
 * Peer TLS, etcd's --peer-cert-file / --peer-key-file / --peer-trusted-ca-file /
 * --peer-client-cert-auth. The listener serves `certFile`; with `clientCertAuth` it refuses
 * peers without a certificate chaining to `trustedCaFile`. The dialer presents the same
 * certificate as its client certificate and verifies peers against `trustedCaFile`.
 */
export interface PeerTlsOptions {
  certFile: string;
  keyFile: string;
  trustedCaFile?: string;
  clientCertAuth?: boolean;
}
