/**
 * One remote peer of the HTTP transport (etcd's rafthttp peer): a long-lived
 * `POST /raft/stream` carrying every message but snapshots, a snapshot pipeline
 * (`POST /raft/snapshot`), and a prober (`GET /raft/probing`), all multiplexed over one
 * HTTP/2 connection to one of the peer's URLs.
 *
 * - Messages wait in a bounded queue (peer_queue.ts); everything queued in one turn leaves in
 *   one write. While a write waits for flow-control credit, new messages gather for the next.
 *   A full queue, or a stream that is down, drops the message and counts it; the transport
 *   tells raft the peer is unreachable. The raft loop never waits on a peer.
 * - The stream is (re)opened by a loop with backoff: 100 ms, doubling to 1 s, back to 100 ms
 *   once a stream is accepted (etcd dials at most every 100 ms). A failed dial moves to the
 *   peer's next URL. When the stream breaks, raft is told the peer is unreachable.
 * - The connection sends keep-alive PINGs, so a peer that stops answering (not just one that
 *   closes) is noticed and its stream torn down.
 */
import type { Logger } from "../base/log.ts";
import type { MemberId } from "../base/types.ts";
import { ETCD_COMPAT_VERSION } from "../base/version.ts";
import {
  H2ClientSession,
  type H2ClientStream,
  type H2ClientTls,
  type H2Response,
} from "../http/h2_client.ts";
import type { Clock, Timer } from "../io/clock.ts";
import type { Message } from "../raft/mod.ts";
import { encodeFrames } from "./frames.ts";
import {
  HEADER_CLUSTER_ID,
  HEADER_FROM,
  HEADER_PEER_URLS,
  HEADER_SERVER_VERSION,
  HEADER_SNAPSHOT_SIZE,
  HEADER_TO,
  MSG_CLUSTER_ID_MISMATCH,
  MSG_REMOVED_MEMBER,
  RAFT_CALL_PATH,
  RAFT_PROBING_PATH,
  RAFT_SNAPSHOT_PATH,
  RAFT_STREAM_PATH,
} from "./peer_handler.ts";
import { PeerQueue } from "./peer_queue.ts";
import { snapshotBody, SnapshotError, type SnapshotProgress } from "./snapshot_wire.ts";
import {
  emptyPeerStats,
  idToHex,
  PeerCallError,
  type PeerStats,
  type TransportHost,
} from "./transport.ts";

/** The tunables of a peer (resolved by the transport). */
export interface PeerConfig {
  host: TransportHost;
  clock: Clock;
  log: Logger;
  /** Client TLS for https: peer URLs. */
  tls: () => Promise<H2ClientTls | undefined>;
  queueLimit: number;
  dialTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  probeIntervalMs: number;
  keepAliveIntervalMs: number;
  keepAliveTimeoutMs: number;
  /** Log snapshot progress every this many bytes. */
  snapshotLogBytes: number;
  /** Gets each successful probe's round-trip time in seconds. */
  onRoundTrip?: (peer: MemberId, seconds: number) => void;
  /** Gets each successful snapshot send's duration in seconds, from opening it to the 204. */
  onSnapshotSent?: (peer: MemberId, seconds: number) => void;
  /** This member's advertised peer URLs, sent so a peer that does not know it can answer. */
  advertisePeerUrls: string[];
}

/** A refusal by the peer (non-2xx answer): its status and body text. */
export class PeerRefusedError extends Error {
  override name = "PeerRefusedError";
  constructor(readonly status: number, readonly text: string, what: string) {
    super(`${what}: peer answered ${status} ${JSON.stringify(text)}`);
  }
}

/** At most this much of a refusal's body is read. */
const MAX_ERROR_BODY = 4096;

async function readText(res: H2Response): Promise<string> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of res.body) {
    if (n < MAX_ERROR_BODY) parts.push(c.subarray(0, MAX_ERROR_BODY - n));
    n += c.length;
  }
  const all = new Uint8Array(parts.reduce((k, p) => k + p.length, 0));
  let p = 0;
  for (const part of parts) {
    all.set(part, p);
    p += part.length;
  }
  return new TextDecoder().decode(all).trimEnd();
}

export class HttpPeer {
  readonly stats: PeerStats;
  #urls: string[];
  #urlIndex = 0;
  readonly #queue: PeerQueue;
  readonly #cfg: PeerConfig;
  readonly #me: string;
  readonly #to: string;

  #session: H2ClientSession | null = null;
  #connecting: Promise<H2ClientSession> | null = null;
  readonly #sessions = new Set<H2ClientSession>();
  /** The accepted stream, while up. */
  #stream: H2ClientStream | null = null;
  #writing = false;
  #flushQueued = false;
  /** Set while a full queue is dropping (logged once per episode). */
  #overflowing = false;

  #closed = false;
  #wake: (() => void) | null = null;
  #sleepTimer: Timer | null = null;
  #probeTimer: Timer | null = null;
  readonly #running: Promise<void>;
  readonly #tasks = new Set<Promise<void>>();

  constructor(readonly id: MemberId, urls: string[], cfg: PeerConfig) {
    this.#cfg = cfg;
    this.#urls = [...urls];
    this.#queue = new PeerQueue(cfg.queueLimit);
    this.stats = emptyPeerStats(id);
    this.#me = idToHex(cfg.host.memberId);
    this.#to = idToHex(id);
    this.#running = this.#streamLoop();
    this.#probeTimer = cfg.clock.every(cfg.probeIntervalMs, () => this.#track(this.#probe()));
  }

  get urls(): readonly string[] {
    return this.#urls;
  }

  /** Queues `m` for the stream; false when it was dropped (the caller reports unreachable). */
  send(m: Message): boolean {
    if (this.#stream === null || this.#closed) {
      this.stats.dropped++;
      return false;
    }
    if (!this.#queue.push(m)) {
      this.stats.dropped++;
      if (!this.#overflowing) {
        this.#overflowing = true;
        this.#cfg.log.warn("dropped internal Raft message since sending buffer is full", {
          "remote-peer-id": this.#to,
          "queue-limit": this.#queue.limit,
        });
      }
      return false;
    }
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#track(this.#flush()));
    }
    return true;
  }

  /** New URLs; a connection to a URL no longer listed is dropped. */
  update(urls: string[]): void {
    this.#urls = [...urls];
    this.#urlIndex = 0;
    const s = this.#session;
    if (s !== null && !urls.includes(this.#sessionUrl)) {
      this.#session = null;
      s.destroy(new Error("peer URLs changed"));
    }
  }

  #sessionUrl = "";

  /**
   * The peer is up (it just opened a stream to us): if our stream to it is down and waiting
   * out its backoff, dial now.
   */
  dialNow(): void {
    if (this.#closed || this.#stream !== null) return;
    if (this.#wake === null) {
      // dialing now: if this attempt fails, the next one does not wait
      this.#dialSoon = true;
      return;
    }
    this.#sleepTimer?.cancel();
    this.#wake();
  }

  /** The next backoff is skipped (dialNow during a dial). */
  #dialSoon = false;

  #track(p: Promise<void>): void {
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p));
  }

  #headers(extra: [string, string][] = []): [string, string][] {
    return [
      ["content-type", "application/octet-stream"],
      [HEADER_CLUSTER_ID, idToHex(this.#cfg.host.clusterId)],
      [HEADER_FROM, this.#me],
      [HEADER_TO, this.#to],
      [HEADER_SERVER_VERSION, ETCD_COMPAT_VERSION],
      ...(this.#cfg.advertisePeerUrls.length > 0
        ? [[HEADER_PEER_URLS, this.#cfg.advertisePeerUrls.join(",")] as [string, string]]
        : []),
      ...extra,
    ];
  }

  /** The open connection, or a new one to the current URL (shared by concurrent callers). */
  async #connect(): Promise<H2ClientSession> {
    const s = this.#session;
    if (s !== null && s.available) return s;
    if (s !== null) {
      this.#session = null;
      s.close(1000).catch(() => {});
    }
    if (this.#connecting !== null) return await this.#connecting;
    const url = this.#urls[this.#urlIndex % Math.max(1, this.#urls.length)];
    if (url === undefined) throw new Error(`peer ${this.#to} has no URLs`);
    this.#connecting = (async () => {
      const session = await H2ClientSession.connect({
        url,
        tls: url.startsWith("https:") ? await this.#cfg.tls() : undefined,
        connectTimeoutMs: this.#cfg.dialTimeoutMs,
        keepAliveIntervalMs: this.#cfg.keepAliveIntervalMs,
        keepAliveTimeoutMs: this.#cfg.keepAliveTimeoutMs,
      });
      this.#sessions.add(session);
      void session.closed.then(() => {
        this.#sessions.delete(session);
        if (this.#session === session) this.#session = null;
      });
      if (this.#closed) {
        session.destroy();
        throw new Error("transport closed");
      }
      this.#session = session;
      this.#sessionUrl = url;
      return session;
    })();
    try {
      return await this.#connecting;
    } catch (e) {
      // next time, try the peer's next URL (etcd's urlPicker does the same)
      this.#urlIndex++;
      throw e;
    } finally {
      this.#connecting = null;
    }
  }

  /**
   * A refusal: logged when it differs from the previous one (a refused stream is retried
   * every second); a 410 tells the host this member was removed (etcd stops on it).
   */
  #refused(err: PeerRefusedError): void {
    if (err.message !== this.#lastRefusal) {
      this.#lastRefusal = err.message;
      const why = err.status === 412 && err.text === MSG_CLUSTER_ID_MISMATCH
        ? "cluster ID mismatch"
        : err.status === 410 && err.text === MSG_REMOVED_MEMBER
        ? "this member was removed from the cluster"
        : `${err.status} ${JSON.stringify(err.text)}`;
      this.#cfg.log.warn("remote peer refused our request", {
        "remote-peer-id": this.#to,
        reason: why,
      });
    }
    if (err.status === 410) this.#cfg.host.removedByPeer?.(this.id);
  }

  #lastRefusal = "";

  #fail(what: string, e: unknown): void {
    this.stats.failures++;
    this.stats.lastError = `${what}: ${e instanceof Error ? e.message : String(e)}`;
  }

  async #streamLoop(): Promise<void> {
    let backoff = this.#cfg.backoffMinMs;
    while (!this.#closed) {
      let stream: H2ClientStream | null = null;
      let activated = false;
      try {
        const session = await this.#connect();
        stream = session.request({
          method: "POST",
          path: RAFT_STREAM_PATH,
          headers: this.#headers(),
          body: "stream",
        });
        const res = await this.#withTimeout(stream.response, this.#cfg.dialTimeoutMs, stream);
        if (res.status !== 200) {
          const err = new PeerRefusedError(res.status, await readText(res), "stream");
          this.#refused(err);
          throw err;
        }
        if (this.#closed) break;
        this.#activate(stream);
        activated = true;
        backoff = this.#cfg.backoffMinMs;
        // The peer answers nothing on a stream: the body ends only when the stream does.
        for await (const _ of res.body) { /* nothing expected */ }
        throw new Error("stream closed by the peer");
      } catch (e) {
        stream?.reset();
        if (this.#closed) break;
        // a stream a failed write already took down was counted there
        if (!activated || this.#stream === stream) this.#fail("stream", e);
        this.#deactivate(stream, e);
      }
      await this.#sleep(backoff);
      backoff = Math.min(backoff * 2, this.#cfg.backoffMaxMs);
    }
    this.#deactivate(this.#stream, new Error("transport closed"));
  }

  /** `p`, or a timeout error (resetting `stream`) after `ms`. */
  #withTimeout<T>(p: Promise<T>, ms: number, stream: H2ClientStream): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.#cfg.clock.after(ms, () => {
        reject(new Error(`no answer in ${ms} ms`));
        stream.reset();
      });
      p.then(
        (v) => {
          timer.cancel();
          resolve(v);
        },
        (e) => {
          timer.cancel();
          reject(e);
        },
      );
    });
  }

  #activate(stream: H2ClientStream): void {
    this.#stream = stream;
    this.#lastRefusal = "";
    this.stats.activeSince = Math.max(this.#cfg.clock.now(), 1);
    this.#cfg.log.info("established TCP streaming connection with remote peer", {
      "remote-peer-id": this.#to,
    });
    this.#track(this.#probe());
  }

  /** The stream `stream` is gone: drop what waits for it and tell raft (once per outage). */
  #deactivate(stream: H2ClientStream | null, e: unknown): void {
    if (stream !== null && this.#stream === stream) {
      this.#stream = null;
      this.stats.activeSince = 0;
      if (!this.#closed) this.stats.disconnects++;
      this.stats.dropped += this.#queue.clear();
      this.#overflowing = false;
      stream.reset();
      this.#cfg.log.warn("lost TCP streaming connection with remote peer", {
        "remote-peer-id": this.#to,
        error: e instanceof Error ? e.message : String(e),
      });
      if (!this.#closed) this.#cfg.host.reportUnreachable(this.id);
    }
  }

  /** Writes everything queued, batch by batch, while the stream is up. */
  async #flush(): Promise<void> {
    this.#flushQueued = false;
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const stream = this.#stream;
        if (stream === null) {
          this.stats.dropped += this.#queue.clear();
          break;
        }
        const batch = this.#queue.takeAll();
        this.#overflowing = false;
        const buf = encodeFrames(batch);
        try {
          await stream.write(buf);
        } catch (e) {
          this.stats.dropped += batch.length;
          this.#fail("stream write", e);
          this.#deactivate(stream, e);
          continue;
        }
        this.stats.messagesSent += batch.length;
        this.stats.bytesSent += buf.length;
        this.stats.writes++;
      }
    } finally {
      this.#writing = false;
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#dialSoon) {
      this.#dialSoon = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        this.#wake = null;
        resolve();
      };
      this.#wake = done;
      this.#sleepTimer = this.#cfg.clock.after(ms, done);
    });
  }

  /** One probe: round-trip time of `GET /raft/probing`. */
  async #probe(): Promise<void> {
    if (this.#closed || this.#stream === null) return;
    const start = this.#cfg.clock.now();
    try {
      const session = await this.#connect();
      const stream = session.request({ method: "GET", path: RAFT_PROBING_PATH });
      const res = await this.#withTimeout(stream.response, this.#cfg.dialTimeoutMs, stream);
      const text = await readText(res);
      if (res.status !== 200) throw new PeerRefusedError(res.status, text, "probe");
      this.stats.rttMs = this.#cfg.clock.now() - start;
      this.#cfg.onRoundTrip?.(this.id, this.stats.rttMs / 1000);
    } catch (e) {
      if (!this.#closed) this.#fail("probe", e);
    }
  }

  /**
   * One peer call (POST /raft/call/<method>): the answer's bytes, the peer's PeerCallError,
   * or a transport failure after `timeoutMs`.
   */
  async call(method: string, body: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.#closed) throw new Error(`peer ${this.#to} is closed`);
    const session = await this.#connect();
    const stream = session.request({
      method: "POST",
      path: RAFT_CALL_PATH + method,
      headers: this.#headers(),
      body,
    });
    const res = await this.#withTimeout(stream.response, timeoutMs, stream);
    const parts: Uint8Array[] = [];
    let n = 0;
    for await (const c of res.body) {
      parts.push(c);
      n += c.length;
    }
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    if (res.status === 200) return out;
    const text = new TextDecoder().decode(out);
    if (res.status === 500) {
      let refusal: { code?: unknown; message?: unknown } | null = null;
      try {
        refusal = JSON.parse(text);
      } catch {
        // not a call refusal: reported below as the peer's answer
      }
      if (typeof refusal?.code === "number" && typeof refusal.message === "string") {
        throw new PeerCallError(refusal.code, refusal.message);
      }
    }
    throw new PeerRefusedError(res.status, text, `call ${method}`);
  }

  /** Sends MsgSnap `m` with the host's page file; reports the outcome to the host. */
  sendSnapshot(m: Message): void {
    this.#track(this.#sendSnapshot(m));
  }

  async #sendSnapshot(m: Message): Promise<void> {
    const host = this.#cfg.host;
    const index = m.snapshot?.metadata.index ?? 0;
    const progress: SnapshotProgress = { bytes: 0 };
    let ok = false;
    let size = 0;
    const start = this.#cfg.clock.now();
    this.stats.snapshotsSending++;
    try {
      const source = await host.openSnapshot(m);
      size = source.size;
      try {
        this.#cfg.log.info("sending database snapshot", {
          "remote-peer-id": this.#to,
          "snapshot-index": index,
          "snapshot-size-bytes": size,
        });
        await this.#postSnapshot(m, source, progress);
        ok = true;
      } finally {
        source.close();
      }
    } catch (e) {
      this.#fail("snapshot", e);
      this.#cfg.log.warn("failed to send database snapshot", {
        "remote-peer-id": this.#to,
        "snapshot-index": index,
        "sent-bytes": progress.bytes,
        "snapshot-size-bytes": size,
        error: e instanceof Error ? e.message : String(e),
      });
    }
    this.stats.snapshotsSending--;
    this.stats.snapshotBytesSent += progress.bytes;
    if (ok) {
      this.stats.snapshotsSent++;
      this.#cfg.onSnapshotSent?.(this.id, (this.#cfg.clock.now() - start) / 1000);
      this.#cfg.log.info("sent database snapshot", {
        "remote-peer-id": this.#to,
        "snapshot-index": index,
        "snapshot-size-bytes": size,
      });
    } else this.stats.snapshotsFailed++;
    if (this.#closed) return;
    if (!ok) host.reportUnreachable(this.id);
    host.reportSnapshot(this.id, ok);
  }

  async #postSnapshot(
    m: Message,
    source: { size: number; read(): AsyncIterable<Uint8Array>; close(): void },
    progress: SnapshotProgress,
  ): Promise<void> {
    const session = await this.#connect();
    const stream = session.request({
      method: "POST",
      path: RAFT_SNAPSHOT_PATH,
      headers: this.#headers([[HEADER_SNAPSHOT_SIZE, String(source.size)]]),
      body: "stream",
    });
    // The peer may answer (and refuse) before the body is complete: watch for it meanwhile.
    let answered: H2Response | null = null;
    const response = stream.response.then((r) => (answered = r));
    response.catch(() => {});
    let nextLog = this.#cfg.snapshotLogBytes;
    try {
      for await (const chunk of snapshotBody(m, source, progress)) {
        if (this.#closed) throw new Error("transport closed");
        if (answered !== null) break;
        await stream.write(chunk);
        if (progress.bytes >= nextLog) {
          this.#cfg.log.info("sending database snapshot: progress", {
            "remote-peer-id": this.#to,
            "sent-bytes": progress.bytes,
            "snapshot-size-bytes": source.size,
          });
          nextLog += this.#cfg.snapshotLogBytes;
        }
      }
      if (answered === null) stream.end();
    } catch (e) {
      // A write refused because the peer answered (and reset the rest): report its answer
      // instead. The answer's HEADERS precede the reset, but give it a moment to surface.
      if (answered === null && !(e instanceof SnapshotError)) {
        let timer: Timer | undefined;
        await Promise.race([
          response.catch(() => {}),
          new Promise<void>((r) => timer = this.#cfg.clock.after(100, r)),
        ]);
        timer?.cancel();
      }
      if (answered === null) {
        stream.reset();
        throw e;
      }
    }
    const res = await response;
    const text = await readText(res);
    if (res.status !== 204) {
      const err = new PeerRefusedError(res.status, text, "snapshot");
      this.#refused(err);
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#probeTimer?.cancel();
    this.#sleepTimer?.cancel();
    this.#wake?.();
    this.#stream?.reset();
    for (const s of this.#sessions) s.destroy(new Error("transport closed"));
    await this.#running;
    await Promise.allSettled([...this.#tasks]);
    await Promise.allSettled([...this.#sessions].map((s) => s.closed));
  }
}
