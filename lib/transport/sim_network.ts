/**
 * A simulated network in one process, behind the same `Transport` interface as the real
 * HTTP/2 one, so the same member code runs in a whole-cluster simulation. Everything is
 * deterministic from the `Rand` and a `SimClock` (any Clock works; only a simulated one
 * replays): messages are delivered on the clock's timers after a delay drawn from the rand,
 * and same-seed runs deliver the same messages in the same order (`trace` records it).
 *
 * What it models, per message: the wire (each message is encoded and decoded with the real
 * codec, so the receiver never shares objects with the sender), a delay, loss (`dropRate`),
 * duplication (`duplicateRate`, never of a proposal: see below), reordering (`reorderRate`: a
 * message may overtake earlier ones of its link; otherwise a link is FIFO, like a stream), and
 * partitions of directed links, one-way or both, with `heal`. A message sent over a cut link,
 * or to a member that is not running, is dropped and the sender's host is told the peer is
 * unreachable (as when the real transport's stream is down); one lost on a link cut while it
 * was in flight is just lost. The receiving side refuses as the real one does: another
 * cluster id, or a removed sender (etcd's 412 / 410), drops the message (410 also calls the
 * sender host's removedByPeer); a link coming up opens a stream, which is refused to a removed
 * sender too. Each link holds at most `queueLimit` messages in flight, like the real per-peer
 * queue. A member that hears from a sender it has no peer for answers it anyway, as the HTTP
 * transport does through the URLs the sender advertises (etcd's rafthttp "remotes"): raft
 * messages only, no snapshots or calls, until the sender becomes a peer.
 *
 * Snapshots travel in memory through the same host calls as over HTTP: the sender's
 * `openSnapshot`, the body built by snapshot_wire.ts (message, page file, SHA-256), the
 * receiver's `receiveSnapshot` with a verifying payload, and the sender's `reportSnapshot`.
 * `snapshotFaultRate` cuts or corrupts a body so hosts' failure paths run too.
 *
 * `frameFaultRate` cuts a message's frame short: its stream breaks inside the frame (a
 * connection reset mid-write, the damage a real stream can hand to the receiver: TCP's
 * checksum stands between a flipped bit on the wire and the decoder). The receiver reads the
 * bytes that came with the real FrameDecoder, which refuses the partial frame; the message is
 * never applied, the stream is dropped (every message still in flight on it is lost, as the
 * bytes behind the break are), the receiver counts a receive failure and the sender's host is
 * told the peer is unreachable, as when its stream fails. (A flipped byte inside a frame is
 * not modelled here: most flips decode to another valid message, docs/testing.md says why.)
 *
 * Each member's PeerStats count what the HTTP transport's do at the same events, so etcd's
 * peer metrics (lib/api/peer_metrics.ts) mean the same in a simulation: bytes and messages
 * sent and received, messages dropped (etcd's send failures), a link that goes down after it
 * was up (a disconnection at the sender, a broken incoming stream, i.e. a receive failure, at
 * the receiver), snapshots sent, failed and under way on both sides, and a snapshot whose body
 * arrived damaged (a receive failure). Not modelled: probes, so no round-trip times.
 *
 * Duplicates stop short of MsgProp. The real transport (http_peer.ts, like etcd's rafthttp)
 * writes a peer's messages on one HTTP/2 stream and drops a batch whose write failed, never
 * sending it again: a message arrives at most once. Raft tolerates duplicates of its own
 * messages (it resends appends, heartbeats and snapshots itself), so duplicating those still
 * tests something real; a proposal forwarded by a follower is a client's write, which raft
 * would append, and the apply perform, twice. etcd does not deduplicate applied requests
 * either (its clients retry a write only when it provably never left, as ours do).
 *
 * Async host calls (snapshots) continue on microtasks after the clock's timers fire; a
 * simulation advancing the clock should let microtasks run between steps to keep them
 * ordered (the order is still a function of the seed).
 */
import type { Rand } from "../base/rand.ts";
import type { MemberId } from "../base/types.ts";
import type { Clock } from "../io/clock.ts";
import { decodeMessage, describeMessage, encodeMessage, type Message } from "../raft/mod.ts";
import { MessageType } from "../raft/mod.ts";
import { FrameDecoder, FrameError, framePrefix } from "./frames.ts";
import {
  snapshotBody,
  SnapshotBodyReader,
  SnapshotError,
  type SnapshotProgress,
} from "./snapshot_wire.ts";
import {
  emptyPeerStats,
  type PeerInfo,
  type PeerStats,
  type Transport,
  type TransportHost,
} from "./transport.ts";

/** The network's fault settings; change them at any time with `setFaults`. */
export interface SimFaults {
  /** Delivery delay bounds in clock ms (inclusive). */
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability that a message is silently lost. */
  dropRate: number;
  /**
   * Probability that a message is delivered twice (the copy after its own delay); never a
   * proposal (MsgProp), which the real stream transport cannot deliver twice.
   */
  duplicateRate: number;
  /** Probability that a message ignores its link's FIFO order (may overtake earlier ones). */
  reorderRate: number;
  /** Probability that a snapshot body is cut or has a byte flipped in transit. */
  snapshotFaultRate: number;
  /** Probability that a message's frame is cut short, breaking its stream (see above). */
  frameFaultRate: number;
}

export const DEFAULT_SIM_FAULTS: Readonly<SimFaults> = {
  minDelayMs: 1,
  maxDelayMs: 5,
  dropRate: 0,
  duplicateRate: 0,
  reorderRate: 0,
  snapshotFaultRate: 0,
  frameFaultRate: 0,
};

export interface SimNetworkOptions extends Partial<SimFaults> {
  /**
   * Messages in flight per directed link before new ones are dropped (and the sender told
   * the peer is unreachable), as the real transport's per-peer queue (default 4096).
   */
  queueLimit?: number;
  /** Record every send outcome and delivery in `trace` (default true). */
  trace?: boolean;
  /**
   * Where frame damage is drawn from (default `rand`), so that a simulation can turn it on
   * without moving the other draws of runs that have none.
   */
  frameRand?: Rand;
}

function linkKey(from: MemberId, to: MemberId): string {
  return `${from}>${to}`;
}

function checkFaults(f: SimFaults): void {
  for (
    const k of [
      "dropRate",
      "duplicateRate",
      "reorderRate",
      "snapshotFaultRate",
      "frameFaultRate",
    ] as const
  ) {
    if (!(f[k] >= 0 && f[k] <= 1)) throw new RangeError(`sim network: ${k} must be in [0, 1]`);
  }
  if (!(Number.isInteger(f.minDelayMs) && f.minDelayMs >= 0 && f.maxDelayMs >= f.minDelayMs)) {
    throw new RangeError("sim network: need integer 0 <= minDelayMs <= maxDelayMs");
  }
}

/** The simulated network: members join it and get their Transport. */
export class SimNetwork {
  #faults: SimFaults;
  readonly #members = new Map<MemberId, SimTransport>();
  /** Cut directed links, "from>to". */
  readonly #cut = new Set<string>();
  /** Per directed link, the delivery time of its last in-order message (FIFO). */
  readonly #lastAt = new Map<string, number>();
  /** Every send outcome and delivery, in order, when tracing. */
  readonly trace: string[] = [];
  readonly #tracing: boolean;
  readonly #queueLimit: number;
  /** Messages scheduled and not yet delivered (or lost), per directed link. */
  readonly #inflight = new Map<string, number>();
  /**
   * Snapshot bodies damaged in transit (`snapshotFaultRate`) that reached a receiver, and what
   * it did with them: refused (the payload threw) or stored. A stored one is a receiver that
   * kept a corrupted page file: a simulation counts it as a violation.
   */
  readonly snapshotDamage = { delivered: 0, refused: 0, stored: 0 };
  /**
   * Message frames cut in transit (`frameFaultRate`): how many the receivers refused (all, or
   * the decoder is wrong), how many a refused frame's decoder took as a message (must stay 0),
   * and the messages lost with the streams they broke.
   */
  readonly frameDamage = { cut: 0, refused: 0, applied: 0, lostWithStream: 0 };
  readonly #frameRand: Rand;
  /** Per directed link, its stream's incarnation: a broken stream loses what it carried. */
  readonly #streamEpoch = new Map<string, number>();

  constructor(readonly rand: Rand, readonly clock: Clock, opts: SimNetworkOptions = {}) {
    const { trace, queueLimit, frameRand, ...faults } = opts;
    this.#frameRand = frameRand ?? rand;
    this.#queueLimit = queueLimit ?? 4096;
    this.#faults = { ...DEFAULT_SIM_FAULTS, ...faults };
    checkFaults(this.#faults);
    this.#tracing = trace !== false;
  }

  get faults(): Readonly<SimFaults> {
    return this.#faults;
  }

  setFaults(f: Partial<SimFaults>): void {
    const next = { ...this.#faults, ...f };
    checkFaults(next);
    this.#faults = next;
  }

  /** The transport of member `host` (whose id must not be running on the network already). */
  join(host: TransportHost): Transport {
    if (this.#members.has(host.memberId)) {
      throw new Error(`sim network: member ${host.memberId.toString(16)} already joined`);
    }
    const t = new SimTransport(this, host);
    this.#members.set(host.memberId, t);
    this.#refresh();
    return t;
  }

  /** Cuts the links from every id in `a` to every id in `b` (and back, unless oneWay). */
  partition(a: readonly MemberId[], b: readonly MemberId[], oneWay = false): void {
    for (const x of a) {
      for (const y of b) {
        if (x === y) continue;
        this.#cut.add(linkKey(x, y));
        if (!oneWay) this.#cut.add(linkKey(y, x));
      }
    }
    this.#note(`partition ${ids(a)} ${oneWay ? "->" : "<->"} ${ids(b)}`);
    this.#refresh();
  }

  /** Cuts `id` off from `others` (default: every member joined now), both ways. */
  isolate(id: MemberId, others: readonly MemberId[] = [...this.#members.keys()]): void {
    this.partition([id], others.filter((o) => o !== id));
  }

  /** Restores the link from -> to (and back, unless oneWay). */
  restore(from: MemberId, to: MemberId, oneWay = false): void {
    this.#cut.delete(linkKey(from, to));
    if (!oneWay) this.#cut.delete(linkKey(to, from));
    this.#note(`restore ${from.toString(16)} ${oneWay ? "->" : "<->"} ${to.toString(16)}`);
    this.#refresh();
  }

  /** Restores every link. */
  heal(): void {
    this.#cut.clear();
    this.#note("heal");
    this.#refresh();
  }

  /** True when messages from -> to currently get through (both running, link not cut). */
  linkUp(from: MemberId, to: MemberId): boolean {
    const a = this.#members.get(from);
    const b = this.#members.get(to);
    return a !== undefined && b !== undefined && !this.#cut.has(linkKey(from, to));
  }

  #note(line: string): void {
    if (this.#tracing) this.trace.push(`${this.clock.now()} ${line}`);
  }

  /** Recomputes every transport's activeSince after a change of links or members. */
  #refresh(): void {
    const now = this.clock.now();
    for (const t of this.#members.values()) t.refresh(now);
  }

  leave(t: SimTransport): void {
    if (this.#members.get(t.host.memberId) === t) this.#members.delete(t.host.memberId);
    this.#refresh();
  }

  /** The clock delay of one delivery. */
  #delay(): number {
    const f = this.#faults;
    return this.rand.range(f.minDelayMs, f.maxDelayMs + 1);
  }

  /**
   * A peer call: delivered after a delay when the link is up both ways at both ends of the
   * trip, refused as unreachable otherwise.
   */
  async call(
    src: SimTransport,
    to: MemberId,
    method: string,
    body: Uint8Array,
  ): Promise<Uint8Array> {
    const from = src.host.memberId;
    const unreachable = () => new Error(`sim network: peer ${to.toString(16)} unreachable`);
    if (!this.linkUp(from, to)) throw unreachable();
    await new Promise<void>((r) => this.clock.after(this.#delay(), r));
    const dst = this.#members.get(to);
    if (dst === undefined || !this.linkUp(from, to)) throw unreachable();
    const out = await dst.host.handleCall(from, method, body.slice());
    await new Promise<void>((r) => this.clock.after(this.#delay(), r));
    if (!this.linkUp(to, from)) throw unreachable();
    return out.slice();
  }

  /**
   * The stream the real transport opens to a peer whenever the link comes up: the peer's
   * handler refuses a removed sender with 410, which tells the sender's host it was removed
   * (a removed member that restarts, or a learner, may never send a message that would).
   */
  dial(src: SimTransport, to: MemberId): void {
    const from = src.host.memberId;
    this.clock.after(this.#delay(), () => {
      const dst = this.#members.get(to);
      if (src.closed || dst === undefined || !this.linkUp(from, to)) return;
      if (dst.host.clusterId !== src.host.clusterId || !dst.host.isRemoved(from)) return;
      this.#note(`refused stream (removed member) ${from.toString(16)} -> ${to.toString(16)}`);
      src.host.removedByPeer?.(to);
    });
  }

  /** Sends one non-snapshot message; false when it could not leave (link down). */
  sendMessage(src: SimTransport, m: Message, stats: PeerStats): boolean {
    const from = src.host.memberId;
    if (!this.linkUp(from, m.to)) {
      stats.dropped++;
      this.#note(`unreachable ${describeMessage(m)}`);
      return false;
    }
    const key = linkKey(from, m.to);
    if ((this.#inflight.get(key) ?? 0) >= this.#queueLimit) {
      stats.dropped++;
      this.#note(`queue full ${describeMessage(m)}`);
      return false;
    }
    const bytes = encodeMessage(m);
    stats.messagesSent++;
    stats.writes++;
    stats.bytesSent += 4 + bytes.length;
    if (this.rand.chance(this.#faults.dropRate)) {
      this.#note(`lost ${describeMessage(m)}`);
      return true;
    }
    // the frame's damage from a rand of its own (none drawn while the rate is 0)
    const rate = this.#faults.frameFaultRate;
    const cutAt = rate > 0 && this.#frameRand.chance(rate)
      ? 1 + this.#frameRand.int(4 + bytes.length - 1)
      : -1;
    this.#schedule(src, m.to, bytes, false, cutAt);
    const dup = this.rand.chance(this.#faults.duplicateRate);
    if (dup && m.type !== MessageType.Prop) this.#schedule(src, m.to, bytes, true);
    return true;
  }

  #schedule(
    src: SimTransport,
    to: MemberId,
    bytes: Uint8Array,
    dup: boolean,
    cutAt = -1,
  ): void {
    const now = this.clock.now();
    let at = now + this.#delay();
    const key = linkKey(src.host.memberId, to);
    if (!this.rand.chance(this.#faults.reorderRate)) {
      at = Math.max(at, this.#lastAt.get(key) ?? 0);
      this.#lastAt.set(key, at);
    }
    this.#inflight.set(key, (this.#inflight.get(key) ?? 0) + 1);
    const epoch = this.#streamEpoch.get(key) ?? 0;
    this.clock.after(at - now, () => {
      this.#inflight.set(key, this.#inflight.get(key)! - 1);
      if ((this.#streamEpoch.get(key) ?? 0) !== epoch) {
        this.frameDamage.lostWithStream++;
        this.#note(`lost with a broken stream ${describeMessage(decodeMessage(bytes.slice()))}`);
        return;
      }
      if (cutAt >= 0) this.#deliverCut(src, to, bytes, cutAt);
      else this.#deliver(src, to, bytes, dup);
    });
  }

  /**
   * A frame whose stream broke after `cutAt` of its bytes: the receiver decodes what came with
   * the real decoder, which must refuse it; the stream is dropped on both sides.
   */
  #deliverCut(src: SimTransport, to: MemberId, bytes: Uint8Array, cutAt: number): void {
    const what = `${describeMessage(decodeMessage(bytes.slice()))} (frame cut at ${cutAt} of ${
      4 + bytes.length
    } bytes)`;
    const dst = this.#arrive(src, to, what);
    if (dst === null) return;
    this.frameDamage.cut++;
    const frame = new Uint8Array(4 + bytes.length);
    frame.set(framePrefix(bytes.length));
    frame.set(bytes, 4);
    const dec = new FrameDecoder();
    let got: Message[] = [];
    let error: string | null = null;
    try {
      got = dec.push(frame.subarray(0, cutAt));
      if (!dec.idle) throw new FrameError("stream ended inside a frame");
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      error = e.message;
    }
    // a decoder that made a message of part of a frame would hand raft a damaged one: the
    // simulation counts it (a violation) and does not deliver it
    if (got.length > 0 || error === null) {
      this.frameDamage.applied++;
      this.#note(`DAMAGED FRAME DECODED ${what}`);
    } else {
      this.frameDamage.refused++;
      this.#note(`refused stream ${what}: ${error}`);
    }
    const key = linkKey(src.host.memberId, to);
    this.#streamEpoch.set(key, (this.#streamEpoch.get(key) ?? 0) + 1);
    this.#lastAt.delete(key);
    dst.countReceiveFailure(src.host.memberId);
    if (!src.closed) src.host.reportUnreachable(to);
  }

  /** The receiving member, or null (with a trace line) when the message cannot arrive. */
  #arrive(src: SimTransport, to: MemberId, what: string): SimTransport | null {
    const from = src.host.memberId;
    const dst = this.#members.get(to);
    if (dst === undefined || this.#cut.has(linkKey(from, to))) {
      this.#note(`lost in flight ${what}`);
      return null;
    }
    if (dst.host.clusterId !== src.host.clusterId) {
      this.#note(`refused (cluster ID mismatch) ${what}`);
      return null;
    }
    if (dst.host.isRemoved(from)) {
      this.#note(`refused (removed member) ${what}`);
      if (!src.closed) src.host.removedByPeer?.(to);
      return null;
    }
    return dst;
  }

  #deliver(src: SimTransport, to: MemberId, bytes: Uint8Array, dup: boolean): void {
    const m = decodeMessage(bytes.slice());
    const what = `${dup ? "dup " : ""}${describeMessage(m)}`;
    const dst = this.#arrive(src, to, what);
    if (dst === null) return;
    this.#note(`deliver ${what}`);
    dst.heardFrom(src.host.memberId);
    dst.countReceived(m.from, 4 + bytes.length);
    dst.host.receive(m);
  }

  /** Runs one snapshot send to completion; reports the outcome to the sender's host. */
  async sendSnapshot(src: SimTransport, m: Message, stats: PeerStats): Promise<void> {
    const what = describeMessage(m);
    let ok = false;
    stats.snapshotsSending++;
    try {
      ok = await this.#snapshot(src, m, stats, what);
    } catch (e) {
      this.#note(`snapshot failed ${what}: ${(e as Error).message}`);
      ok = false;
    }
    stats.snapshotsSending--;
    if (ok) stats.snapshotsSent++;
    else {
      stats.snapshotsFailed++;
      stats.failures++;
    }
    if (src.closed) return;
    if (!ok) src.host.reportUnreachable(m.to);
    src.host.reportSnapshot(m.to, ok);
  }

  async #snapshot(src: SimTransport, m: Message, stats: PeerStats, what: string) {
    if (!this.linkUp(src.host.memberId, m.to)) {
      this.#note(`unreachable ${what}`);
      return false;
    }
    const source = await src.host.openSnapshot(m);
    const progress: SnapshotProgress = { bytes: 0 };
    const body: Uint8Array[] = [];
    try {
      for await (const c of snapshotBody(m, source, progress)) body.push(c.slice());
    } finally {
      source.close();
    }
    stats.snapshotBytesSent += progress.bytes;
    const fault = this.rand.chance(this.#faults.snapshotFaultRate) ? this.rand.int(2) + 1 : 0;
    if (fault !== 0) this.#damage(body, fault === 1);
    await new Promise<void>((r) => this.clock.after(this.#delay(), r));
    const dst = this.#arrive(src, m.to, what);
    if (dst === null) return false;
    const reader = new SnapshotBodyReader(iterate(body));
    const msg = await reader.readMessage();
    this.#note(`deliver snapshot ${what} (${source.size} bytes${fault ? ", damaged" : ""})`);
    let stored = false;
    let damaged = false;
    dst.snapshotReceiving(m.from, 1);
    try {
      await dst.host.receiveSnapshot(msg, reader.payload(source.size));
      stored = reader.verified;
    } catch (e) {
      // as the HTTP handler: a body that cannot be read is the peer's failure too
      damaged = e instanceof SnapshotError || e instanceof FrameError;
      this.#note(`snapshot refused ${what}: ${(e as Error).message}`);
    } finally {
      dst.snapshotReceiving(m.from, -1);
    }
    dst.countSnapshotReceived(m.from, reader.received, stored, damaged);
    if (fault !== 0) {
      this.snapshotDamage.delivered++;
      if (stored) this.snapshotDamage.stored++;
      else this.snapshotDamage.refused++;
    }
    return stored;
  }

  /** Cuts the body short (`cut`) or flips one byte after the message frame. */
  #damage(body: Uint8Array[], cut: boolean): void {
    if (body.length < 2) return;
    const total = body.slice(1).reduce((n, c) => n + c.length, 0);
    if (total === 0) return;
    let at = this.rand.int(total);
    for (let i = 1; i < body.length; i++) {
      if (at < body[i].length) {
        if (cut) body.splice(i, body.length - i, body[i].subarray(0, at));
        else body[i][at] ^= 1 << this.rand.int(8);
        return;
      }
      at -= body[i].length;
    }
  }
}

function ids(list: readonly MemberId[]): string {
  return `[${list.map((x) => x.toString(16)).join(",")}]`;
}

async function* iterate(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield c;
}

/** One member's view of the simulated network. */
class SimTransport implements Transport {
  readonly #peers = new Map<MemberId, { info: PeerInfo; stats: PeerStats }>();
  /** Senders that are not peers (yet): answered as the real transport's remotes. */
  readonly #remotes = new Map<MemberId, PeerStats>();
  /** Peers whose link to this member is up (their stream to us, in the HTTP transport). */
  readonly #inbound = new Set<MemberId>();
  closed = false;

  constructor(readonly net: SimNetwork, readonly host: TransportHost) {}

  call(to: MemberId, method: string, body: Uint8Array, _timeoutMs: number): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new Error("sim transport closed"));
    return this.net.call(this, to, method, body);
  }

  send(msgs: readonly Message[]): void {
    if (this.closed) return;
    // raft is told once per call and peer, not once per message
    let unreachable: Set<MemberId> | null = null;
    for (const m of msgs) {
      const p = this.#peers.get(m.to);
      const remote = p === undefined ? this.#remotes.get(m.to) : undefined;
      if (p === undefined && (remote === undefined || m.type === MessageType.Snap)) {
        continue; // etcd ignores messages to unknown peers too (and sends remotes no snapshot)
      }
      if (m.type === MessageType.Snap) {
        void this.net.sendSnapshot(this, m, p!.stats);
        continue;
      }
      if (!this.net.sendMessage(this, m, p?.stats ?? remote!)) {
        (unreachable ??= new Set()).add(m.to);
      }
    }
    if (unreachable !== null) { for (const id of unreachable) this.host.reportUnreachable(id); }
  }

  /** A message from `from` arrived: a sender that is no peer becomes a remote. */
  heardFrom(from: MemberId): void {
    if (!this.#peers.has(from) && !this.#remotes.has(from)) {
      this.#remotes.set(from, emptyPeerStats(from));
    }
  }

  addPeer(peer: PeerInfo): void {
    if (this.#peers.has(peer.id)) return;
    this.#remotes.delete(peer.id);
    this.#peers.set(peer.id, { info: { ...peer }, stats: emptyPeerStats(peer.id) });
    this.refresh(this.net.clock.now());
  }

  updatePeer(peer: PeerInfo): void {
    const p = this.#peers.get(peer.id);
    if (p !== undefined) p.info = { ...peer };
  }

  removePeer(id: MemberId): void {
    this.#peers.delete(id);
    this.#remotes.delete(id);
    this.#inbound.delete(id);
  }

  activeSince(id: MemberId): number {
    return this.#peers.get(id)?.stats.activeSince ?? 0;
  }

  stats(): PeerStats[] {
    return [...this.#peers.values()].map((p) => ({ ...p.stats }));
  }

  /**
   * Marks peers up (since `now`) or down after a change of the network. A link that goes
   * down while this member runs counts as the HTTP transport's broken streams do: ours to
   * the peer a disconnection, the peer's to us a receive failure.
   */
  refresh(now: number): void {
    const me = this.host.memberId;
    for (const [id, p] of this.#peers) {
      const up = !this.closed && this.net.linkUp(me, id);
      if (!up) {
        if (p.stats.activeSince !== 0 && !this.closed) p.stats.disconnects++;
        p.stats.activeSince = 0;
      } else if (p.stats.activeSince === 0) {
        // Clock time 0 would read as "not active": a link up from the start counts from 1 ms.
        p.stats.activeSince = Math.max(now, 1);
        this.net.dial(this, id);
      }
      const inUp = !this.closed && this.net.linkUp(id, me);
      if (inUp) this.#inbound.add(id);
      else if (this.#inbound.delete(id) && !this.closed) p.stats.receiveFailures++;
    }
  }

  countReceived(from: MemberId, bytes: number): void {
    const s = this.#peers.get(from)?.stats;
    if (s === undefined) return;
    s.messagesReceived++;
    s.bytesReceived += bytes;
  }

  /** A stream from `from` was refused (a damaged frame): a receive failure. */
  countReceiveFailure(from: MemberId): void {
    const s = this.#peers.get(from)?.stats;
    if (s !== undefined) s.receiveFailures++;
  }

  /** A snapshot from `from` stored (ok) or not; `damaged` when its body could not be read. */
  countSnapshotReceived(from: MemberId, bytes: number, ok: boolean, damaged: boolean): void {
    const s = this.#peers.get(from)?.stats;
    if (s === undefined) return;
    s.snapshotBytesReceived += bytes;
    if (ok) s.snapshotsReceived++;
    else s.snapshotReceiveFailures++;
    if (damaged) s.receiveFailures++;
  }

  /** A snapshot from `from` begins (1) or ends (-1) being received. */
  snapshotReceiving(from: MemberId, delta: 1 | -1): void {
    const s = this.#peers.get(from)?.stats;
    if (s !== undefined) s.snapshotsReceiving = Math.max(0, s.snapshotsReceiving + delta);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.net.leave(this);
    this.refresh(this.net.clock.now());
  }
}

export type { SimTransport };
