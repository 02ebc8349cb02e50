/**
 * A TCP proxy in front of every member's peer listener, as etcd's robustness suite puts one
 * in front of each member: member j listens for peers on its own port and advertises the
 * proxy's port `ports[j]`, so every byte between two members passes here. Peer traffic is
 * HTTP/2 over TCP, so the faults are TCP's: per link and direction (bytes from member a to
 * member b, whichever of them dialed) the proxy passes, delays, blackholes (holds the bytes
 * until healed: the connection stalls, as behind a dropped route), or drops them (the bytes
 * are lost: HTTP/2's framing breaks and the members reconnect); `cut` closes the
 * connections between two members and refuses new ones until healed.
 *
 * Who dialed is read from /proc (`socket_owner.ts`): members reach a peer through the same
 * URL, so the accepted connection says nothing else. A connection from a process that is not
 * a member is forwarded unfaulted and counted in `unidentified`.
 */
import { dialer } from "./socket_owner.ts";

/** What happens to the bytes on one link in one direction. */
export type LinkFault =
  | { kind: "pass" }
  | { kind: "delay"; ms: number }
  | { kind: "blackhole" }
  | { kind: "drop" };

const PASS: LinkFault = { kind: "pass" };
/** A direction reads no more while this much is held (a blackhole holds at most this). */
const MAX_HELD = 8 << 20;

export interface PeerProxyOptions {
  /** The port each member listens for peers on (index = member). */
  targets: readonly number[];
  /** Each member's current process id (undefined while down), to tell who dialed. */
  pids: () => readonly (number | undefined)[];
}

interface Proxied {
  a: number;
  b: number;
  conns: Deno.Conn[];
}

/** Proxies for every member's peer port, with faults per link and direction. */
export class PeerProxy {
  /** The port member j is advertised at (its peer URL is `http://127.0.0.1:${ports[j]}`). */
  readonly ports: number[];
  /**
   * Connections accepted; of those, whose dialer's socket was gone when looked up, and whose
   * dialer was no member: both are forwarded unfaulted.
   */
  connections = 0;
  gone = 0;
  unidentified = 0;
  readonly #opts: PeerProxyOptions;
  readonly #listeners: Deno.TcpListener[];
  readonly #faults = new Map<string, LinkFault>();
  readonly #cut = new Set<string>();
  readonly #live = new Set<Proxied>();
  readonly #tasks = new Set<Promise<void>>();
  #changed = Promise.withResolvers<void>();
  #closed = false;

  constructor(opts: PeerProxyOptions) {
    this.#opts = opts;
    this.#listeners = opts.targets.map(() => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
    this.ports = this.#listeners.map((l) => l.addr.port);
    this.#listeners.forEach((l, j) => this.#track(this.#accept(l, j)));
  }

  /** Sets what happens to bytes from member `from` to member `to`. */
  set(from: number, to: number, fault: LinkFault): void {
    this.#faults.set(`${from}>${to}`, fault);
    this.#wake();
  }

  /** What happens to bytes from `from` to `to` now. */
  fault(from: number, to: number): LinkFault {
    return this.#faults.get(`${from}>${to}`) ?? PASS;
  }

  /** Sets `fault` on every link into and out of member `m` (it is cut off from the rest). */
  isolate(m: number, fault: LinkFault = { kind: "blackhole" }): void {
    for (let o = 0; o < this.#opts.targets.length; o++) {
      if (o === m) continue;
      this.set(m, o, fault);
      this.set(o, m, fault);
    }
  }

  /** Closes every connection between members a and b; new ones are refused until healed. */
  cut(a: number, b: number): void {
    this.#cut.add(pair(a, b));
    for (const p of this.#live) if (pair(p.a, p.b) === pair(a, b)) closeAll(p.conns);
  }

  /** Every link passes again; held bytes flow on. */
  heal(): void {
    this.#faults.clear();
    this.#cut.clear();
    this.#wake();
  }

  /** Closes the listeners and every connection, and waits for the proxy's tasks. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const l of this.#listeners) l.close();
    for (const p of this.#live) closeAll(p.conns);
    this.#wake();
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
  }

  #wake(): void {
    this.#changed.resolve();
    this.#changed = Promise.withResolvers<void>();
  }

  #track(p: Promise<void>): void {
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p));
  }

  async #accept(l: Deno.TcpListener, to: number): Promise<void> {
    for (;;) {
      let inbound: Deno.TcpConn;
      try {
        inbound = await l.accept();
      } catch (err) {
        if (this.#closed) return;
        throw err;
      }
      this.#track(this.#serve(inbound, l.addr.port, to));
    }
  }

  async #serve(inbound: Deno.TcpConn, ourPort: number, to: number): Promise<void> {
    this.connections++;
    const theirPort = (inbound.remoteAddr as Deno.NetAddr).port;
    const from = await dialer(ourPort, theirPort, this.#opts.pids());
    if (from === -1) this.gone++;
    if (from === -2) this.unidentified++;
    if (this.#closed || (from >= 0 && this.#cut.has(pair(from, to)))) {
      closeAll([inbound]);
      return;
    }
    let outbound: Deno.TcpConn;
    try {
      outbound = await Deno.connect({ hostname: "127.0.0.1", port: this.#opts.targets[to] });
    } catch {
      closeAll([inbound]); // the member is down: as if the proxy were it
      return;
    }
    const p: Proxied = { a: from, b: to, conns: [inbound, outbound] };
    this.#live.add(p);
    try {
      await Promise.all([
        this.#pump(inbound, outbound, from, to, p),
        this.#pump(outbound, inbound, to, from, p),
      ]);
    } finally {
      this.#live.delete(p);
    }
  }

  /** Forwards src to dst under the link's fault; either side ending closes both. */
  async #pump(src: Deno.Conn, dst: Deno.Conn, from: number, to: number, p: Proxied) {
    const held: { data: Uint8Array; at: number }[] = [];
    let heldBytes = 0;
    let ended = false;
    let more = Promise.withResolvers<void>();
    let room = Promise.withResolvers<void>();
    const reader = (async () => {
      try {
        for (;;) {
          while (heldBytes > MAX_HELD) await room.promise;
          const buf = new Uint8Array(64 * 1024);
          const n = await src.read(buf);
          if (n === null) break;
          held.push({ data: buf.subarray(0, n), at: performance.now() });
          heldBytes += n;
          more.resolve();
        }
      } catch {
        // closed or reset: the connection ends
      } finally {
        ended = true;
        more.resolve();
      }
    })();
    const readerDone = reader.then(() => {});
    const writer = (async () => {
      try {
        for (;;) {
          if (held.length === 0) {
            if (ended) break;
            await more.promise;
            more = Promise.withResolvers<void>();
            continue;
          }
          const f = from < 0 ? PASS : this.fault(from, to);
          if (f.kind === "blackhole") {
            // held until the link changes, or the connection is closed under it
            await Promise.race([this.#changed.promise, readerDone]);
            if (ended && this.fault(from, to).kind === "blackhole") break;
            continue;
          }
          const chunk = held.shift()!;
          heldBytes -= chunk.data.length;
          room.resolve();
          room = Promise.withResolvers<void>();
          if (f.kind === "drop") continue;
          if (f.kind === "delay") {
            const wait = chunk.at + f.ms - performance.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          }
          for (let off = 0; off < chunk.data.length;) {
            off += await dst.write(chunk.data.subarray(off));
          }
        }
      } catch {
        // the other side is gone
      }
    })();
    await writer;
    closeAll(p.conns);
    room.resolve();
    await reader;
  }
}

function pair(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

function closeAll(conns: Deno.Conn[]): void {
  for (const c of conns) {
    try {
      c.close();
    } catch {
      // already closed
    }
  }
}
