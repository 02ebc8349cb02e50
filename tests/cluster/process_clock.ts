/**
 * One simulated process's view of the shared simulated clock: its own wall time (hosts' wall
 * clocks differ; monotonic time is shared) and its own timers, which end with the process.
 * A process killed at any instant (a fault point, a power loss, kill -9) runs no timer after
 * it: `kill` cancels every timer the process holds, and any it asks for later never fires.
 * Without this, a crashed member's timers (its watch hub's catch-up, its backend's batch
 * commit) went on firing while the harness reaped it, read the dead disk and threw out of
 * `SimClock.advance` (docs/testing.md, harness defect 15).
 */
import type { Clock, SimClock, Timer } from "../../lib/io/clock.ts";

/** A timer that never fires (asked for by a dead process). */
const NEVER: Timer = { cancel: () => {} };

/** A process's clock over the shared `SimClock`; `kill` ends its timers at once. */
export class ProcessClock implements Clock {
  readonly #timers = new Set<Timer>();
  #dead = false;

  /** `skewMs`: how far this host's wall clock runs ahead of the shared one. */
  constructor(readonly base: SimClock, readonly skewMs = 0) {}

  now(): number {
    return this.base.now();
  }
  wallNow(): number {
    return this.base.wallNow() + this.skewMs;
  }
  after(ms: number, fn: () => void): Timer {
    return this.#track((t) =>
      this.base.after(ms, () => {
        this.#timers.delete(t);
        fn();
      })
    );
  }
  every(ms: number, fn: () => void): Timer {
    return this.#track(() => this.base.every(ms, fn));
  }

  /** The process died: none of its timers fires again, and it gets no new one. */
  kill(): void {
    this.#dead = true;
    for (const t of this.#timers) t.cancel();
    this.#timers.clear();
  }

  /** Whether `kill` ended this process. */
  get dead(): boolean {
    return this.#dead;
  }

  /** Timers the process holds now (scheduled, not fired or cancelled). */
  get pending(): number {
    return this.#timers.size;
  }

  #track(schedule: (handle: Timer) => Timer): Timer {
    if (this.#dead) return NEVER;
    let inner: Timer | null = null;
    const handle: Timer = {
      cancel: () => {
        this.#timers.delete(handle);
        inner?.cancel();
      },
    };
    inner = schedule(handle);
    this.#timers.add(handle);
    return handle;
  }
}
