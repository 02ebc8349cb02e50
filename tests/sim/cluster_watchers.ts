/**
 * The watchers of a whole-cluster run: one per member incarnation, from its next revision or
 * from a past one, with prev_kv or a filter at random; cancelled and resumed now and then, and
 * resumed from the compact revision after a compacted response (as etcd's clients may); ended
 * when their member crashes, fails or is removed. Every watcher the run ever had stays in
 * `all`, for the checks at the end (cluster_final_checks.ts). Its draws come from the run's
 * random source, in the order the run asks for watches.
 */
import type { Rand } from "../../lib/base/rand.ts";
import type { Member } from "../../lib/server/member.ts";
import type { SimCluster } from "../cluster/sim_cluster.ts";
import { drain, watchAll, type WatchOptions, type WatchRecord } from "./watch_check.ts";
import { BuggyWatchStream, type WatchBug } from "./planted_watch_bug.ts";
import { type PlantedBug, WATCH_BUGS } from "./cluster_run_options.ts";

/** What the watchers need from the run. */
export interface RunWatchersOptions {
  c: SimCluster;
  /** The run's random source (where each watch starts, its options). */
  r: Rand;
  size: number;
  /** The planted bug, if any: a watch bug wraps every watcher's stream. */
  bug?: PlantedBug;
  /** The planted watch bug's draws, from a rand of their own. */
  watchBugRand: Rand;
  /** Member i's incarnation (how many times it restarted), for the watcher's name. */
  incarnation(i: number): number;
}

/** The run's current watcher of each member, and every watcher it had. */
export class RunWatchers {
  /** The current watcher of each member (null: none, as while it is down). */
  readonly current: (WatchRecord | null)[];
  /** Every watcher of the run, ended or not, in the order they started. */
  readonly all: WatchRecord[] = [];
  readonly #o: RunWatchersOptions;

  constructor(o: RunWatchersOptions) {
    this.#o = o;
    this.current = new Array(o.size).fill(null);
  }

  /** Member i's current watcher, or null. */
  of(i: number): WatchRecord | null {
    return this.current[i] ?? null;
  }

  /** Starts member i's watcher (on `m`), at `resumeAt` or a revision drawn at random. */
  watch(i: number, m: Member, resumeAt?: number): void {
    const { c, r, bug } = this.#o;
    if (m.failure !== null || c.members[i] !== m) {
      // a member that failed serves no watch (its hub is closed): none until it restarts; nor
      // one that died meanwhile (at a fault point, in the last step of its own restart: seed
      // 19000167 read its store's dead page file here)
      this.current[i] = null;
      return;
    }
    const rev = m.store.rev();
    const from = resumeAt ?? (r.chance(0.5) ? rev + 1 : 1 + r.int(rev + 1));
    const filter = r.int(5);
    const opts: WatchOptions = {
      prevKv: r.chance(0.5),
      noPut: filter === 0,
      noDelete: filter === 1,
    };
    const w = watchAll(
      `watcher on ${m.config.name}#${this.#o.incarnation(i)}${
        resumeAt === undefined ? "" : " (resumed)"
      }` +
        `${opts.prevKv ? " prev_kv" : ""}${opts.noPut ? " noput" : ""}${
          opts.noDelete ? " nodelete" : ""
        }`,
      WATCH_BUGS.includes(bug!)
        ? new BuggyWatchStream(
          m.hub.newStream({ bufferSize: 1 << 20 }),
          bug as WatchBug,
          this.#o.watchBugRand,
        )
        : m.hub.newStream({ bufferSize: 1 << 20 }),
      from,
      opts,
    );
    this.current[i] = w;
    this.all.push(w);
  }

  /**
   * Takes every current watcher's responses; a watcher ended by a compacted response is
   * resumed from the compact revision.
   */
  drainAll(): void {
    for (const [i, w] of this.current.entries()) {
      if (w === null || w === undefined) continue;
      drain(w);
      if (w.ended && w.compacted !== undefined) this.watch(i, this.#o.c.members[i]!, w.compacted);
    }
  }

  /**
   * Ends member i's watcher (its member crashed, failed or left): what it received is taken
   * first, and it gets no more.
   */
  end(i: number): void {
    const w = this.of(i);
    if (w !== null) {
      drain(w);
      w.ended = true;
    }
    this.current[i] = null;
  }

  /** A client cancels its watch and resumes after the last event it got. */
  resume(i: number): void {
    const w = this.of(i);
    const m = this.#o.c.members[i];
    if (w === null || w.ended || m === null) return;
    drain(w);
    if (w.ended) return;
    w.ended = true;
    w.stream.close();
    const last = w.responses.at(-1)?.events.at(-1)?.rev;
    this.watch(i, m, last === undefined ? w.startRev : last + 1);
  }
}
