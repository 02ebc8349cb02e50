/**
 * The receiving half of the peer transport: the HTTP handler a member serves on its peer URLs
 * (`serveHttp` from lib/http/server.ts; `servePeers` in peer_server.ts sets the limits a
 * long-lived stream needs). Paths, headers, status codes and messages are etcd's rafthttp:
 *
 * - `POST /raft/stream`: a sender's long-lived stream of `[u32 LE len][message]` frames,
 *   answered 200 at once and read until the body ends.
 * - `POST /raft/snapshot`: one MsgSnap and its page file (snapshot_wire.ts), answered 204 once
 *   the host stored it, 400 when the body is cut, corrupted or not a snapshot.
 * - `GET /raft/probing`: 200 with the time, for the senders' round-trip measurements.
 * - `GET /members`: the cluster's members as etcd's JSON with the cluster id in
 *   X-Etcd-Cluster-ID, for a member joining the cluster (the host answers it as the peer call
 *   `members` of its own id).
 *
 * Refusals: cluster id mismatch -> 412 "cluster ID mismatch"; recipient mismatch (X-Raft-To of
 * a stream or call, the message's `to` of a snapshot) -> 412 "to field mismatch"; a removed
 * sender -> 410 "removed member". Garbage in a stream (an oversized or undecodable frame, a
 * message not from the sender or not for us, a local-only message type) fails that stream (the
 * server resets it); the member keeps serving.
 */
import { asLogger, type Logger, stderrLogger } from "../base/log.ts";
import type {
  UniversalHandlerFn,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { ChunkBody } from "../http/chunk_body.ts";
import type { MemberId } from "../base/types.ts";
import { ETCD_COMPAT_VERSION } from "../base/version.ts";
import { isLocalMessage, type Message, MessageType } from "../raft/mod.ts";
import { FrameDecoder, FrameError } from "./frames.ts";
import { SnapshotBodyReader, SnapshotError } from "./snapshot_wire.ts";
import {
  hexToId,
  idToHex,
  PeerCallError,
  type SnapshotPayload,
  type TransportHost,
} from "./transport.ts";

export const RAFT_STREAM_PATH = "/raft/stream";
export const RAFT_SNAPSHOT_PATH = "/raft/snapshot";
export const RAFT_PROBING_PATH = "/raft/probing";
/** Peer calls (TransportHost.handleCall): POST /raft/call/<method>. */
export const RAFT_CALL_PATH = "/raft/call/";
/** etcd's members route, asked by a joining member (it has no id in this cluster yet). */
export const MEMBERS_PATH = "/members";
/** The largest peer call body accepted. */
const MAX_CALL_BYTES = 1 << 20;

export const HEADER_CLUSTER_ID = "x-etcd-cluster-id";
export const HEADER_FROM = "x-server-from";
export const HEADER_TO = "x-raft-to";
export const HEADER_SERVER_VERSION = "x-server-version";
export const HEADER_SNAPSHOT_SIZE = "x-snapshot-size";
/** The sender's advertised peer URLs, comma-separated (etcd's X-PeerURLs). */
export const HEADER_PEER_URLS = "x-peerurls";

/** etcd's refusal messages (http.Error bodies, which end in a newline). */
export const MSG_CLUSTER_ID_MISMATCH = "cluster ID mismatch";
export const MSG_TO_MISMATCH = "to field mismatch";
export const MSG_REMOVED_MEMBER = "removed member";

/** Where the handler reports what it received (the transport's per-peer counters). */
export interface PeerReceiveSink {
  received(from: MemberId, messages: number, bytes: number): void;
  /**
   * A stream arrived from `from`, which advertises `peerUrls` (maybe none): a sender that is
   * not a peer (yet) must still be answerable (etcd's rafthttp adds it as a "remote"), and a
   * peer whose stream from us is down is up again, so ours may dial it now.
   */
  heardFrom?(from: MemberId, peerUrls: string[]): void;
  /**
   * A stream from `from` failed: garbage on it, or it broke (reset, connection lost) instead
   * of ending; or a snapshot's body from it could not be read.
   */
  receiveFailed?(from: MemberId): void;
  /** A snapshot from `from` passed its checks and is being stored (+1); that ended (-1). */
  snapshotReceiving?(from: MemberId, delta: 1 | -1): void;
  /**
   * A snapshot request from `from` ended: stored (ok) or refused or failed, after `bytes` of
   * its page file and `seconds` since the request arrived.
   */
  snapshotReceived(from: MemberId, bytes: number, ok: boolean, seconds: number): void;
}

export interface PeerHandlerOptions {
  /** Largest frame accepted on a stream (default frames.ts DEFAULT_MAX_FRAME). */
  maxFrame?: number;
  /** Log incoming snapshot progress every this many bytes (default 64 MiB). */
  snapshotLogBytes?: number;
  /** Where to log (snapshot progress, refused streams); default JSON lines to stderr. */
  log?: Logger | ((line: string) => void);
}

const enc = new TextEncoder();

function text(status: number, msg: string, clusterId: bigint): UniversalServerResponse {
  const header = new Headers({
    "content-type": "text/plain; charset=utf-8",
    "x-content-type-options": "nosniff",
    [HEADER_CLUSTER_ID]: idToHex(clusterId),
  });
  return { status, header, body: new ChunkBody(enc.encode(msg + "\n")) };
}

function isStream(body: UniversalServerRequest["body"]): body is AsyncIterable<Uint8Array> {
  return typeof body === "object" && body !== null && Symbol.asyncIterator in body;
}

/**
 * The peer handler of member `host`. `sink` receives the per-peer receive counters (the
 * HttpTransport, or anything that counts).
 */
export function peerHandler(
  host: TransportHost,
  sink: PeerReceiveSink,
  opts: PeerHandlerOptions = {},
): UniversalHandlerFn {
  const log = asLogger(opts.log, () => stderrLogger()).named("transport");
  const logEvery = opts.snapshotLogBytes ?? 64 * 1024 * 1024;
  const me = idToHex(host.memberId);

  /** The common checks; returns the sender's id or the refusal to answer with. */
  const admit = (req: UniversalServerRequest): MemberId | UniversalServerResponse => {
    const cid = hexToId(req.header.get(HEADER_CLUSTER_ID));
    if (cid !== host.clusterId) {
      return text(412, MSG_CLUSTER_ID_MISMATCH, host.clusterId);
    }
    const from = hexToId(req.header.get(HEADER_FROM));
    if (from === null || from === 0n) return text(400, "invalid from", host.clusterId);
    if (host.isRemoved(from)) return text(410, MSG_REMOVED_MEMBER, host.clusterId);
    return from;
  };

  /** True when the request names this member in X-Raft-To. */
  const forMe = (req: UniversalServerRequest): boolean =>
    req.header.get(HEADER_TO) === me || hexToId(req.header.get(HEADER_TO)) === host.memberId;

  const stream = (req: UniversalServerRequest, from: MemberId): UniversalServerResponse => {
    if (!forMe(req)) return text(412, MSG_TO_MISMATCH, host.clusterId);
    const body = req.body;
    if (!isStream(body)) return text(400, "error reading raft message", host.clusterId);
    const dec = new FrameDecoder(opts.maxFrame);
    async function* answer(): AsyncGenerator<Uint8Array> {
      // The server sends HEADERS with the first chunk: an empty one answers 200 at once.
      yield new Uint8Array(0);
      try {
        for await (const chunk of body as AsyncIterable<Uint8Array>) {
          const msgs: Message[] = [];
          let bad: unknown = null;
          try {
            dec.push(chunk, msgs);
          } catch (e) {
            bad = e;
          }
          // Deliver what arrived before any garbage, then refuse the stream.
          sink.received(from, msgs.length, chunk.length);
          for (const m of msgs) {
            checkStreamed(m, from, host.memberId);
            host.receive(m);
          }
          if (bad !== null) throw bad;
        }
        if (!dec.idle) throw new FrameError("stream ended inside a frame");
      } catch (e) {
        sink.receiveFailed?.(from);
        // garbage is worth a line; a sender going away (reset, lost connection) is not
        if (e instanceof FrameError) {
          log.warn("refused stream from remote peer", {
            "remote-peer-id": idToHex(from),
            error: e.message,
          });
        }
        throw e;
      }
    }
    const header = new Headers({
      "content-type": "application/octet-stream",
      [HEADER_CLUSTER_ID]: idToHex(host.clusterId),
      [HEADER_SERVER_VERSION]: ETCD_COMPAT_VERSION,
    });
    return { status: 200, header, body: answer() };
  };

  const snapshot = async (
    req: UniversalServerRequest,
    from: MemberId,
  ): Promise<UniversalServerResponse> => {
    const cid = host.clusterId;
    const start = performance.now();
    const seconds = () => (performance.now() - start) / 1000;
    const sizeText = req.header.get(HEADER_SNAPSHOT_SIZE) ?? "";
    const size = /^[0-9]{1,16}$/.test(sizeText) ? Number(sizeText) : NaN;
    const body = req.body;
    if (!Number.isSafeInteger(size) || !isStream(body)) {
      sink.snapshotReceived(from, 0, false, seconds());
      const why = isStream(body) ? "invalid snapshot size" : "error reading raft message";
      return text(400, why, cid);
    }
    const reader = new SnapshotBodyReader(body, opts.maxFrame);
    let m: Message;
    try {
      m = await reader.readMessage();
    } catch (e) {
      sink.receiveFailed?.(from);
      sink.snapshotReceived(from, 0, false, seconds());
      return text(400, `error reading raft message: ${(e as Error).message}`, cid);
    }
    if (m.type !== MessageType.Snap || m.snapshot === null) {
      sink.snapshotReceived(from, 0, false, seconds());
      return text(400, "wrong raft message type", cid);
    }
    if (m.to !== host.memberId || m.from !== from) {
      sink.snapshotReceived(from, 0, false, seconds());
      return text(412, MSG_TO_MISMATCH, cid);
    }
    sink.snapshotReceiving?.(from, 1);
    try {
      return await store(m, m.snapshot.metadata.index, reader, size, from, seconds);
    } finally {
      sink.snapshotReceiving?.(from, -1);
    }
  };

  /** Stores a checked MsgSnap's page file through the host; answers 204 once stored. */
  const store = async (
    m: Message,
    index: number,
    reader: SnapshotBodyReader,
    size: number,
    from: MemberId,
    seconds: () => number,
  ): Promise<UniversalServerResponse> => {
    const cid = host.clusterId;
    log.info("receiving database snapshot", {
      "remote-snapshot-sender-id": idToHex(from),
      "incoming-snapshot-index": index,
      "incoming-snapshot-message-size-bytes": size,
    });
    try {
      await host.receiveSnapshot(
        m,
        logged(
          reader.payload(size),
          reader,
          logEvery,
          (n) =>
            log.info("receiving database snapshot: progress", {
              "remote-snapshot-sender-id": idToHex(from),
              "received-bytes": n,
              "size-bytes": size,
            }),
        ),
      );
    } catch (e) {
      const bad = e instanceof SnapshotError || e instanceof FrameError;
      if (bad) sink.receiveFailed?.(from);
      sink.snapshotReceived(from, reader.received, false, seconds());
      log.warn("failed to receive database snapshot", {
        "remote-snapshot-sender-id": idToHex(from),
        "incoming-snapshot-index": index,
        "received-bytes": reader.received,
        "size-bytes": size,
        error: (e as Error).message,
      });
      return text(bad ? 400 : 500, `error saving snapshot: ${(e as Error).message}`, cid);
    }
    if (!reader.verified) {
      // The host resolved without reading the whole payload: it cannot have stored it.
      sink.snapshotReceived(from, reader.received, false, seconds());
      return text(500, "error saving snapshot: payload not read to its end", cid);
    }
    sink.snapshotReceived(from, reader.received, true, seconds());
    log.info("received database snapshot", {
      "remote-snapshot-sender-id": idToHex(from),
      "incoming-snapshot-index": index,
      "incoming-snapshot-size-bytes": size,
    });
    return { status: 204, header: new Headers({ [HEADER_CLUSTER_ID]: idToHex(cid) }) };
  };

  const call = async (
    req: UniversalServerRequest,
    from: MemberId,
    method: string,
  ): Promise<UniversalServerResponse> => {
    const parts: Uint8Array[] = [];
    let n = 0;
    const body = req.body;
    if (isStream(body)) {
      for await (const c of body as AsyncIterable<Uint8Array>) {
        n += c.length;
        if (n > MAX_CALL_BYTES) return text(413, "peer call body too large", host.clusterId);
        parts.push(c);
      }
    }
    const input = new Uint8Array(n);
    let at = 0;
    for (const p of parts) {
      input.set(p, at);
      at += p.length;
    }
    try {
      const out = await host.handleCall(from, method, input);
      return {
        status: 200,
        header: new Headers({ "content-type": "application/octet-stream" }),
        body: new ChunkBody(out),
      };
    } catch (e) {
      const code = e instanceof PeerCallError ? e.code : 2;
      const json = JSON.stringify({ code, message: (e as Error).message });
      return {
        status: 500,
        header: new Headers({ "content-type": "application/json" }),
        body: new ChunkBody(enc.encode(json)),
      };
    }
  };

  return async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    const path = new URL(req.url, "http://peer").pathname;
    if (path === RAFT_PROBING_PATH) {
      if (req.method !== "GET") return methodNotAllowed("GET", host.clusterId);
      const json = JSON.stringify({ OK: true, Now: new Date().toISOString() });
      return {
        status: 200,
        header: new Headers({ "content-type": "application/json" }),
        body: new ChunkBody(enc.encode(json)),
      };
    }
    if (path === MEMBERS_PATH) {
      if (req.method !== "GET") return methodNotAllowed("GET", host.clusterId);
      let body: Uint8Array;
      try {
        body = await host.handleCall(host.memberId, "members", new Uint8Array(0));
      } catch (err) {
        return text(500, `members unavailable: ${(err as Error).message}`, host.clusterId);
      }
      return {
        status: 200,
        header: new Headers({
          "content-type": "application/json",
          [HEADER_CLUSTER_ID]: idToHex(host.clusterId),
        }),
        body: new ChunkBody(body),
      };
    }
    if (path.startsWith(RAFT_CALL_PATH)) {
      if (req.method !== "POST") return methodNotAllowed("POST", host.clusterId);
      const from = admit(req);
      if (typeof from !== "bigint") return from;
      // A call for a member that had this peer URL before (a replacement reuses a removed
      // member's URL) is not this member's: the removed-member notice would stop it.
      if (!forMe(req)) return text(412, MSG_TO_MISMATCH, host.clusterId);
      return await call(req, from, path.slice(RAFT_CALL_PATH.length));
    }
    if (path !== RAFT_STREAM_PATH && path !== RAFT_SNAPSHOT_PATH) {
      return text(404, "404 page not found", host.clusterId);
    }
    if (req.method !== "POST") return methodNotAllowed("POST", host.clusterId);
    const from = admit(req);
    if (typeof from !== "bigint") return from;
    if (path === RAFT_STREAM_PATH) {
      const urls = req.header.get(HEADER_PEER_URLS);
      sink.heardFrom?.(from, urls ? urls.split(",") : []);
      return stream(req, from);
    }
    return await snapshot(req, from);
  };
}

function methodNotAllowed(allow: string, clusterId: bigint): UniversalServerResponse {
  const r = text(405, "Method Not Allowed", clusterId);
  r.header?.set("allow", allow);
  return r;
}

/** A streamed message must come from the stream's sender, be for us, and travel at all. */
function checkStreamed(m: Message, from: MemberId, me: MemberId): void {
  if (m.from !== from || m.to !== me) {
    throw new FrameError(`message ${m.from}->${m.to} on the stream ${from}->${me}`);
  }
  if (isLocalMessage(m.type) || m.type === MessageType.Snap) {
    throw new FrameError(`message type ${MessageType[m.type]} is not sent on a stream`);
  }
}

/** `payload` with a progress line every `every` bytes. */
function logged(
  payload: SnapshotPayload,
  reader: SnapshotBodyReader,
  every: number,
  line: (bytes: number) => void,
): SnapshotPayload {
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let next = every;
    for await (const c of payload.chunks) {
      yield c;
      if (reader.received >= next) {
        line(reader.received);
        next += every;
      }
    }
  }
  return { size: payload.size, chunks: chunks() };
}
