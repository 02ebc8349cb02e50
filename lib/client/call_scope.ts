/**
 * One call's deadline and cancellation as a single signal: the caller's signal, the deadline
 * and the client closing. A call that ends because of it fails with Canceled or
 * DeadlineExceeded, whatever the transport reported.
 */
import type { EtcdError } from "../base/errors.ts";
import { canceled, deadlineExceeded } from "./errors.ts";

/** One call's deadline and cancellation. */
export class CallScope {
  readonly #ctrl = new AbortController();
  readonly #deadline?: number;
  readonly #timer?: ReturnType<typeof setTimeout>;
  readonly #unlink: (() => void)[] = [];

  constructor(timeoutMs: number | undefined, signals: AbortSignal[]) {
    for (const s of signals) {
      if (s.aborted) this.#ctrl.abort(canceled(s.reason));
      const on = () => this.#ctrl.abort(canceled(s.reason));
      s.addEventListener("abort", on, { once: true });
      this.#unlink.push(() => s.removeEventListener("abort", on));
    }
    if (timeoutMs !== undefined && timeoutMs > 0) {
      // whole milliseconds: gRPC's grpc-timeout is an integer, and etcd resets a stream
      // whose timeout is not (PROTOCOL_ERROR)
      timeoutMs = Math.ceil(timeoutMs);
      this.#deadline = Date.now() + timeoutMs;
      this.#timer = setTimeout(() => this.#ctrl.abort(deadlineExceeded()), timeoutMs);
    }
  }

  get signal(): AbortSignal {
    return this.#ctrl.signal;
  }

  /** Milliseconds left before the deadline (undefined: none). */
  remaining(): number | undefined {
    return this.#deadline === undefined ? undefined : Math.max(1, this.#deadline - Date.now());
  }

  /** Throws the scope's Canceled / DeadlineExceeded once it is aborted. */
  check(cause?: unknown): void {
    if (!this.#ctrl.signal.aborted) return;
    const reason = this.#ctrl.signal.reason as EtcdError;
    if (cause !== undefined && reason.cause === undefined) reason.cause = cause;
    throw reason;
  }

  /** Awaits `p`, or fails as soon as the scope is aborted. */
  guard<T>(p: Promise<T>): Promise<T> {
    const s = this.#ctrl.signal;
    if (s.aborted) return Promise.reject(s.reason);
    return new Promise<T>((resolve, reject) => {
      const on = () => reject(s.reason);
      s.addEventListener("abort", on, { once: true });
      p.then(
        (v) => {
          s.removeEventListener("abort", on);
          resolve(v);
        },
        (e) => {
          s.removeEventListener("abort", on);
          reject(s.aborted ? s.reason : e);
        },
      );
    });
  }

  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    for (const u of this.#unlink) u();
  }
}
