/**
 * The time seam. Servers read time and wait only through a `Clock`, so a whole cluster can run
 * under a simulated clock that tests advance explicitly (raft itself sees only ticks).
 */

/** A cancellable timer. */
export interface Timer {
  cancel(): void;
}

/** Wall and monotonic time plus timers. */
export interface Clock {
  /** Monotonic milliseconds, for measuring intervals and deadlines. */
  now(): number;
  /** Wall-clock milliseconds since the epoch, for timestamps shown to people. */
  wallNow(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  after(ms: number, fn: () => void): Timer;
  /** Calls `fn` every `ms` milliseconds until cancelled. */
  every(ms: number, fn: () => void): Timer;
}

/** The host's clock. */
export class RealClock implements Clock {
  now(): number {
    return performance.now();
  }
  wallNow(): number {
    return Date.now();
  }
  after(ms: number, fn: () => void): Timer {
    const id = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(id) };
  }
  every(ms: number, fn: () => void): Timer {
    const id = setInterval(fn, ms);
    return { cancel: () => clearInterval(id) };
  }
}

interface Scheduled {
  at: number;
  seq: number;
  fn: () => void;
  interval: number;
  cancelled: boolean;
}

/** A clock that moves only when a test calls `advance()`; timers fire in time order. */
export class SimClock implements Clock {
  #now: number;
  #seq = 0;
  #queue: Scheduled[] = [];
  /** Offset added to `now()` for `wallNow()`. */
  readonly wallBase: number;

  constructor(start = 0, wallBase = 1_700_000_000_000) {
    this.#now = start;
    this.wallBase = wallBase;
  }

  now(): number {
    return this.#now;
  }
  wallNow(): number {
    return this.wallBase + this.#now;
  }

  #schedule(ms: number, fn: () => void, interval: number): Timer {
    const item: Scheduled = {
      at: this.#now + ms,
      seq: this.#seq++,
      fn,
      interval,
      cancelled: false,
    };
    this.#queue.push(item);
    return { cancel: () => (item.cancelled = true) };
  }

  after(ms: number, fn: () => void): Timer {
    return this.#schedule(ms, fn, 0);
  }
  every(ms: number, fn: () => void): Timer {
    return this.#schedule(ms, fn, Math.max(1, ms));
  }

  /** Moves time forward by `ms`, firing due timers in order (a timer may schedule more). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      this.#queue = this.#queue.filter((t) => !t.cancelled);
      let next: Scheduled | undefined;
      for (const t of this.#queue) {
        if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) {
          next = t;
        }
      }
      if (!next) break;
      this.#now = next.at;
      if (next.interval > 0) next.at += next.interval;
      else next.cancelled = true;
      next.fn();
    }
    this.#now = end;
  }
}
