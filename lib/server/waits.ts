/**
 * Everything a caller of the member can wait on, in one place so that one `close(err)` fails
 * every wait: proposals waiting for their apply (by request id, with a deadline), and callers
 * waiting for the applied index to reach an index (linearizable reads after their ReadIndex
 * round). etcd keeps the same two (its `wait.Wait` and `applyWait`) and fails them on stop.
 */
import type { CountSink } from "../base/metric_sink.ts";
import { Errors } from "../base/errors.ts";

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
  /** Clock time after which the proposer gets etcd's timeout. */
  deadline: number;
}

interface IndexWaiter {
  index: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Proposal waits keyed by request id, and applied-index waits. */
export class Waits<T> {
  #byId = new Map<bigint, Waiter<T>>();
  #applied = 0;
  /** Waiters for an applied index, kept sorted by index (most are appended in order). */
  #indexWaits: IndexWaiter[] = [];
  #closed: unknown = null;

  readonly #failed: CountSink | undefined;

  /** `failed` counts proposal waits that end in failure without an apply (etcd's failed). */
  constructor(appliedIndex: number, failed?: CountSink) {
    this.#applied = appliedIndex;
    this.#failed = failed;
  }

  /** Proposals waiting for their apply (etcd_server_proposals_pending). */
  get pending(): number {
    return this.#byId.size;
  }

  /** Waits for the apply of request `id`; fails with etcd's timeout after `deadline`. */
  register(id: bigint, deadline: number): Promise<T> {
    if (this.#closed !== null) return Promise.reject(this.#closed);
    return new Promise<T>((resolve, reject) => {
      this.#byId.set(id, { resolve, reject, deadline });
    });
  }

  /** True while request `id` has a waiter (it was proposed by this member). */
  has(id: bigint): boolean {
    return this.#byId.has(id);
  }

  /** Answers the waiter of `id`, if any, with its apply's outcome. */
  settle(id: bigint, outcome: { value: T } | { error: unknown }): void {
    const w = this.#byId.get(id);
    if (w === undefined) return;
    this.#byId.delete(id);
    if ("value" in outcome) w.resolve(outcome.value);
    else w.reject(outcome.error);
  }

  /** Fails the waiter of `id` (its proposal never entered the log). */
  fail(id: bigint, err: unknown): void {
    if (this.#byId.has(id)) this.#failed?.add();
    this.settle(id, { error: err });
  }

  /**
   * Fails proposals whose deadline passed with etcd's timeout. Every waiter has the same
   * timeout, so insertion order is deadline order: the scan stops at the first in time.
   */
  expire(now: number): void {
    for (const [id, w] of this.#byId) {
      if (w.deadline > now) break;
      this.#byId.delete(id);
      this.#failed?.add();
      w.reject(Errors.timeout());
    }
  }

  /** Fails every proposal wait (a leader change: their entries may never commit). */
  failProposals(err: unknown): void {
    const all = [...this.#byId.values()];
    this.#byId.clear();
    if (all.length > 0) this.#failed?.add(all.length);
    for (const w of all) w.reject(err);
  }

  /** The applied index the waits know of. */
  get appliedIndex(): number {
    return this.#applied;
  }

  /** Resolves once the applied index reaches `index`; fails on close. */
  waitApplied(index: number): Promise<void> {
    if (this.#applied >= index) return Promise.resolve();
    if (this.#closed !== null) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      const w = { index, resolve, reject };
      const q = this.#indexWaits;
      let i = q.length;
      while (i > 0 && q[i - 1].index > index) i--;
      q.splice(i, 0, w);
    });
  }

  /** The applied index moved to `index`: wake the waits it satisfies. */
  applied(index: number): void {
    if (index <= this.#applied) return;
    this.#applied = index;
    const q = this.#indexWaits;
    let n = 0;
    while (n < q.length && q[n].index <= index) n++;
    if (n === 0) return;
    const due = q.splice(0, n);
    for (const w of due) w.resolve();
  }

  /** Fails every wait, now and later, with `err`. Safe to call twice (the first error wins). */
  close(err: unknown): void {
    if (this.#closed === null) this.#closed = err;
    this.failProposals(this.#closed);
    const idx = this.#indexWaits;
    this.#indexWaits = [];
    for (const w of idx) w.reject(this.#closed);
  }
}
