/**
 * Watch bugs planted on purpose between a member's watch hub and the run's watcher, to show
 * the watch checker (watch_check.ts) catches them inside whole runs: each wraps the stream a
 * member serves and breaks one guarantee now and then, drawing from a rand of its own.
 *
 * - `watch-drop`: one event of a response is lost (reliable: a gap in what the watcher saw).
 * - `watch-reorder`: two responses with events swap places (ordered).
 * - `watch-early-progress`: a progress notification at a response's revision arrives before
 *   that response's events (bookmarkable: a notification ran ahead of the events).
 */
import type { Rand } from "../../lib/base/rand.ts";
import type { WatchStream } from "../../lib/mvcc/watch_hub.ts";
import {
  PROGRESS_ALL_WATCH_ID,
  type WatchResponse,
  watchResponse,
} from "../../lib/mvcc/watch_types.ts";

/** The planted watch bugs. */
export type WatchBug = "watch-drop" | "watch-reorder" | "watch-early-progress";

/** What a run's watcher uses of a member's watch stream. */
export type WatchSource = Pick<WatchStream, "watch" | "tryNext" | "close" | "requestProgress">;

/** How often a response with events is broken. */
const RATE = 0.05;

/** A member's watch stream with `bug` planted in what it hands out. */
export class BuggyWatchStream implements WatchSource {
  /** Responses held back, handed out before the inner stream's next ones. */
  #held: WatchResponse[] = [];

  constructor(
    readonly inner: WatchStream,
    readonly bug: WatchBug,
    readonly rand: Rand,
  ) {}

  watch(req: Parameters<WatchStream["watch"]>[0]): number {
    return this.inner.watch(req);
  }

  close(): void {
    this.inner.close();
  }

  requestProgress(): void {
    this.inner.requestProgress();
  }

  tryNext(): WatchResponse | undefined {
    const held = this.#held.shift();
    if (held !== undefined) return held;
    const r = this.inner.tryNext();
    if (r === undefined || r.events.length === 0 || !this.rand.chance(RATE)) return r;
    switch (this.bug) {
      case "watch-drop": {
        const drop = this.rand.int(r.events.length);
        return { ...r, events: r.events.filter((_, i) => i !== drop) };
      }
      case "watch-reorder": {
        const next = this.inner.tryNext();
        if (next === undefined) return r;
        if (next.events.length === 0) {
          this.#held.push(next);
          return r;
        }
        this.#held.push(r);
        return next;
      }
      case "watch-early-progress":
        this.#held.push(r);
        return watchResponse({ watchId: PROGRESS_ALL_WATCH_ID, revision: r.revision });
    }
  }
}
