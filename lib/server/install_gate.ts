/**
 * Reads wait for a snapshot install here. Installing the leader's snapshot closes the
 * member's old store and backend before the received page file opens as the new one
 * (snapshot_install.ts), so a read served in between would fail with `backend is closed`.
 * etcd's reads take the backend's read lock, which its applySnapshot holds while it swaps
 * the backends, so they wait for the install; Concord's do the same through this gate,
 * bounded by the request timeout and failed when the member stops.
 */
import { Errors } from "../base/errors.ts";
import type { Clock, Timer } from "../io/clock.ts";

interface GateWaiter {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: Timer;
}

/** Open unless a snapshot install is under way; `wait` resolves once it is open again. */
export class InstallGate {
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  #installing = false;
  #closed: Error | null = null;
  #waiters: GateWaiter[] = [];

  constructor(clock: Clock, timeoutMs: number) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  /** True while an install is under way (the store may be closed). */
  get installing(): boolean {
    return this.#installing;
  }

  /** An install starts: reads wait from now on. */
  begin(): void {
    this.#installing = true;
  }

  /** The install is done and the new store open: waiting reads go on. */
  end(): void {
    this.#installing = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      w.timer.cancel();
      w.resolve();
    }
  }

  /**
   * Resolves at once when no install is under way, else when it ends. Fails with etcd's
   * request timeout after `timeoutMs`, or with the close's error when the member stops or
   * fails first.
   */
  wait(): Promise<void> {
    if (this.#closed !== null) return Promise.reject(this.#closed);
    if (!this.#installing) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w: GateWaiter = {
        resolve,
        reject,
        timer: this.#clock.after(this.#timeoutMs, () => {
          this.#waiters = this.#waiters.filter((x) => x !== w);
          reject(Errors.timeout());
        }),
      };
      this.#waiters.push(w);
    });
  }

  /** The member stops or failed (an install that threw leaves no store): waits fail with `err`. */
  close(err: Error): void {
    if (this.#closed !== null) return;
    this.#closed = err;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      w.timer.cancel();
      w.reject(err);
    }
  }
}
