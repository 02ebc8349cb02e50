/**
 * How a running member stops serving on its own: a fatal error (a WAL or backend commit that
 * failed: a full disk) fails every wait and ends its watchers at once; learning that it was
 * removed from the cluster (its own removal applied, or a peer refusing it as removed) does the
 * same a second later (etcd's stopWithDelay), so a removal proposed through this member still
 * gets its answer. `concord serve` waits on `failed` and `removed` to exit as etcd does.
 */
import type { Logger } from "../base/log.ts";
import type { MemberId } from "../base/types.ts";
import type { Clock } from "../io/clock.ts";
import { MemberRemovedError } from "./member_calls.ts";
import { formatId } from "./member_id.ts";

/** What the member's fate acts on. */
export interface FateHost {
  readonly id: MemberId;
  readonly clock: Clock;
  readonly log: Logger;
  /** Whether `stop` was called. */
  stopped(): boolean;
  /**
   * Fails every wait (proposals, reads, transfers, the install gate) with etcd's "server
   * stopped", then ends every watcher.
   */
  stopServing(): void;
}

/** The failure and removal of one member. */
export class MemberFate {
  readonly #h: FateHost;
  #fatal: unknown = null;
  /** Stops this member shortly after it applied its own removal. */
  #removalTimer: { cancel(): void } | null = null;
  /** Resolves when the member learns it was removed (it has stopped serving). */
  readonly removed: Promise<void>;
  #markRemoved!: () => void;
  /** Resolves with the error when the member stops serving after a fatal error. */
  readonly failed: Promise<unknown>;
  #markFailed!: (err: unknown) => void;

  constructor(host: FateHost) {
    this.#h = host;
    this.removed = new Promise((r) => (this.#markRemoved = r));
    this.failed = new Promise((r) => (this.#markFailed = r));
  }

  /** Why the member cannot serve, or null. */
  get fatal(): unknown {
    return this.#fatal;
  }

  /** Stops serving after a fatal error (the first one is kept). */
  fail(err: unknown): void {
    if (this.#fatal !== null) return;
    this.#fatal = err;
    this.#h.log.error("member stopped after a fatal error", {
      "local-member-id": formatId(this.#h.id),
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    });
    // its watchers end too: a catch-up would read the failed backend and throw out of the
    // hub's timer (seed 14000123, a lone member on a full disk)
    this.#h.stopServing();
    this.#markFailed(err);
  }

  /**
   * This member is no longer part of the cluster (its own removal was applied, or a peer
   * refused it as removed): it stops serving, with etcd's message.
   */
  removedFromCluster(why: string): void {
    if (this.#fatal !== null || this.#h.stopped() || this.#removalTimer !== null) return;
    this.#h.log.warn("the member has been permanently removed from the cluster", {
      "local-member-id": formatId(this.#h.id),
      reason: why,
    });
    // etcd's stopWithDelay (1 s): a removal proposed through this member still gets its answer
    this.#removalTimer = this.#h.clock.after(1000, () => {
      this.fail(new MemberRemovedError());
      this.#markRemoved();
    });
  }

  /** The member stops: a removal under way no longer fails it. */
  cancel(): void {
    this.#removalTimer?.cancel();
  }
}
