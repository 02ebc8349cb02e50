/**
 * The peer transport's public face for the server: the contract (Transport, TransportHost and
 * their types), the HTTP/2 implementation with its peer handler and listener, and the
 * simulated network. Import from here rather than from the files.
 *
 * How a member wires the real one:
 *
 * ```ts
 * const transport = new HttpTransport({ host, tls: peerTls });
 * const server = await transport.serve({ hostname, port }); // --listen-peer-urls
 * for (const p of peers) transport.addPeer({ id: p.id, urls: p.peerUrls });
 * node hooks: send: (msgs) => transport.send(msgs)
 * ```
 *
 * or serves `peerHandler(host, transport)` itself with `servePeers`/`serveHttp`. In a
 * simulation: `const net = new SimNetwork(rand, clock); const transport = net.join(host);`.
 */
export {
  emptyPeerStats,
  hexToId,
  idToHex,
  PeerCallError,
  type PeerInfo,
  type PeerStats,
  type PeerTlsOptions,
  type SnapshotPayload,
  type SnapshotSource,
  type Transport,
  type TransportHost,
} from "./transport.ts";
export { HttpTransport, type HttpTransportOptions } from "./http_transport.ts";
export { PeerRefusedError } from "./http_peer.ts";
export {
  MSG_CLUSTER_ID_MISMATCH,
  MSG_REMOVED_MEMBER,
  MSG_TO_MISMATCH,
  peerHandler,
  type PeerHandlerOptions,
  type PeerReceiveSink,
  RAFT_PROBING_PATH,
  RAFT_SNAPSHOT_PATH,
  RAFT_STREAM_PATH,
} from "./peer_handler.ts";
export { NO_RECEIVE_SINK, servePeers, type ServePeersOptions } from "./peer_server.ts";
export {
  DEFAULT_SIM_FAULTS,
  type SimFaults,
  SimNetwork,
  type SimNetworkOptions,
} from "./sim_network.ts";
export { SnapshotError } from "./snapshot_wire.ts";
export { DEFAULT_MAX_FRAME, FrameError } from "./frames.ts";
export { DEFAULT_QUEUE_LIMIT } from "./peer_queue.ts";
