/**
 * In-process members for the HTTP transport tests: each a RecordingHost, an HttpTransport and
 * its peer listener on 127.0.0.1, plus a byte-counting TCP proxy that can cut a connection or
 * flip a byte in transit.
 */
import type { ClusterId, MemberId } from "../../lib/base/types.ts";
import type { HttpServer } from "../../lib/http/server.ts";
import { HttpTransport, type HttpTransportOptions } from "../../lib/transport/http_transport.ts";
import { RecordingHost } from "./recording_host.ts";

export interface TestMember {
  id: MemberId;
  host: RecordingHost;
  transport: HttpTransport;
  server: HttpServer | null;
  url: string;
  logs: string[];
}

/** Options that keep the tests quick: short backoff and drain. */
export const FAST: Partial<HttpTransportOptions> = { backoffMaxMs: 200 };

export async function startMember(
  id: MemberId,
  cid: ClusterId,
  opts: Partial<HttpTransportOptions> & { port?: number; scheme?: string } = {},
): Promise<TestMember> {
  const host = new RecordingHost(id, cid);
  const logs: string[] = [];
  const transport = new HttpTransport({ ...FAST, log: (l) => logs.push(l), ...opts, host });
  const server = await transport.serve({ port: opts.port, limits: { drainTimeoutMs: 500 } });
  const url = `${opts.scheme ?? "http"}://127.0.0.1:${server.port}`;
  return { id, host, transport, server, url, logs };
}

/** Every member knows every other. */
export function connectAll(members: TestMember[]): void {
  for (const a of members) {
    for (const b of members) if (a !== b) a.transport.addPeer({ id: b.id, urls: [b.url] });
  }
}

/** Transports first (their streams end), then listeners. */
export async function stopAll(members: TestMember[]): Promise<void> {
  await Promise.all(members.map((m) => m.transport.close()));
  await Promise.all(members.map((m) => m.server?.close()));
}

/** Polls `cond` until it holds; fails after `timeoutMs` naming `what`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port nothing listens on (bound, then released; never one handed out before). */
export { freePort } from "../support/etcd.ts";

/**
 * A TCP proxy to `target`. Client-to-server bytes are counted from `arm()`; at `flipAt` one
 * byte is flipped, at `cutAt` every connection is closed. `frozen` drops everything silently.
 */
export class Proxy {
  readonly #listener: Deno.Listener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #pumps = new Set<Promise<void>>();
  #accepting: Promise<void>;
  #armed = false;
  #count = 0;
  flipAt = -1;
  cutAt = -1;
  flipped = false;
  cut = false;
  /** While true, bytes both ways are read and discarded (a black hole, no RST). */
  frozen = false;

  constructor(readonly target: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  arm(opts: { flipAt?: number; cutAt?: number }): void {
    this.#armed = true;
    this.#count = 0;
    this.flipAt = opts.flipAt ?? -1;
    this.cutAt = opts.cutAt ?? -1;
  }

  async #accept(): Promise<void> {
    for (;;) {
      let c: Deno.Conn;
      try {
        c = await this.#listener.accept();
      } catch {
        return;
      }
      let s: Deno.Conn;
      try {
        s = await Deno.connect({ hostname: "127.0.0.1", port: this.target });
      } catch {
        c.close();
        continue;
      }
      this.#conns.add(c);
      this.#conns.add(s);
      this.#track(this.#pump(c, s, true));
      this.#track(this.#pump(s, c, false));
    }
  }

  #track(p: Promise<void>): void {
    this.#pumps.add(p);
    p.finally(() => this.#pumps.delete(p));
  }

  async #pump(from: Deno.Conn, to: Deno.Conn, upstream: boolean): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        const chunk = buf.subarray(0, n);
        if (this.frozen) continue;
        if (upstream && this.#armed) {
          const start = this.#count;
          this.#count += n;
          if (this.flipAt >= start && this.flipAt < this.#count) {
            chunk[this.flipAt - start] ^= 0x20;
            this.flipped = true;
          }
          if (this.cutAt >= start && this.cutAt < this.#count) {
            let off = 0;
            const keep = chunk.subarray(0, this.cutAt - start);
            while (off < keep.length) off += await to.write(keep.subarray(off));
            this.cut = true;
            this.#closeAll();
            return;
          }
        }
        let off = 0;
        while (off < chunk.length) off += await to.write(chunk.subarray(off));
      }
    } catch {
      // a side closed
    }
    this.#close(from);
    this.#close(to);
  }

  #close(c: Deno.Conn): void {
    if (!this.#conns.delete(c)) return;
    try {
      c.close();
    } catch {
      // already closed
    }
  }

  /** Closes every proxied connection now (both sides see the TCP connection end). */
  cutAll(): void {
    this.#closeAll();
  }

  #closeAll(): void {
    for (const c of [...this.#conns]) this.#close(c);
  }

  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    this.#closeAll();
    await Promise.allSettled([...this.#pumps]);
  }
}
