/**
 * The client connection's keep-alive, as gRPC-Go's: after `intervalMs` with nothing read, send
 * a PING; if nothing at all is read within `timeoutMs` of it, the connection is dead (a peer
 * that went away without a FIN, a half-open NAT entry) and is torn down so its streams fail
 * and the caller redials. Anything read proves the peer alive, not only the PING's ACK: on a
 * busy event loop the ACK may be read after the deadline timer fires.
 */

/** What the keep-alive needs from its connection. */
export interface KeepAliveConn {
  /** When the connection last read anything (`performance.now()` time). */
  lastRead(): number;
  /** Sends a PING; settles with the round trip when acknowledged, or fails with the connection. */
  ping(): Promise<number>;
  /** Tears the connection down: `timeoutMs` passed with nothing read since the PING. */
  dead(timeoutMs: number): void;
}

/** One connection's keep-alive timers; `stop()` ends them for good. */
export class KeepAlive {
  readonly #conn: KeepAliveConn;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  /** `intervalMs` ≤ 0 turns the keep-alive off. */
  constructor(conn: KeepAliveConn, intervalMs: number, timeoutMs: number) {
    this.#conn = conn;
    this.#intervalMs = intervalMs;
    this.#timeoutMs = timeoutMs;
  }

  /** Waits until `intervalMs` after the last read, then checks. */
  arm(): void {
    if (this.#intervalMs <= 0 || this.#stopped) return;
    clearTimeout(this.#timer);
    const wait = Math.max(0, this.#intervalMs - (performance.now() - this.#conn.lastRead()));
    this.#timer = setTimeout(() => this.#tick(), wait);
  }

  /** Ends both timers (the connection is torn down). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#deadline);
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    if (performance.now() - this.#conn.lastRead() < this.#intervalMs) {
      this.arm();
      return;
    }
    const limit = this.#timeoutMs;
    const expect = (since: number) => {
      this.#deadline = setTimeout(() => {
        if (this.#conn.lastRead() >= since) return expect(performance.now());
        this.#conn.dead(limit);
      }, limit);
    };
    expect(performance.now());
    this.#conn.ping().then(
      () => {
        clearTimeout(this.#deadline);
        this.arm();
      },
      () => clearTimeout(this.#deadline),
    );
  }
}
