/**
 * The whole-cluster simulation's fault points (lib/base/fault_points.ts): a point armed for a
 * member (or for any member) fires at its k-th hit there, and the member dies at that instant
 * (power loss or kill -9: `SimCluster.crashNow`), so nothing after the point reaches its disk,
 * its peers or its clients. The run then reaps the member and restarts it later, as after any
 * crash. Every hit is counted per point, so a test can tell which points a run reached.
 *
 * Beside the crash arm, points that do not crash: a delay point (raftBeforeLeaderSend,
 * raftBeforeFollowerSend, beforeSendWatchResponse) slowed for a member (or all), each hit
 * waiting some ms on the simulated clock; and defragOpenFileError failing a member's next
 * defrags. The run arms and disarms them (from a random source of its own) and logs each.
 */
import {
  type DelayPoint,
  type FaultPoint,
  FaultPointError,
  type FaultPoints,
} from "../../lib/base/fault_points.ts";

/** One armed point. */
export interface FaultArm {
  point: FaultPoint;
  /** The member index it is armed for; undefined: whichever member reaches it first. */
  member?: number;
  /** Hits let pass first (default 0: it fires at the first hit). */
  after?: number;
  /** Power loss (unsynced writes kept, dropped or torn) or kill -9 (default power). */
  how?: "power" | "process";
}

/** A point that fired. */
export interface FaultFired {
  point: FaultPoint;
  member: number;
  how: "power" | "process";
}

/** A delay point slowed: every hit by a matching member waits `ms`. */
export interface SlowArm {
  point: DelayPoint;
  /** The member index; undefined: every member. */
  member?: number;
  ms: number;
}

/** defragOpenFileError armed: the next `count` defrags of the member (or any) fail there. */
export interface DefragErrorArm {
  member?: number;
  count: number;
}

/** The message of a defrag failed at defragOpenFileError by the simulation. */
export const SIM_DEFRAG_ERROR = "failpoint defragOpenFileError: armed by the simulation";

/** What the arms need from the run. */
export interface ArmedFaultsHooks {
  /** May member i die now? (The run's budget of members down; a member that still runs.) */
  mayCrash(i: number): boolean;
  /** Member i dies now, synchronously (`SimCluster.crashNow`). */
  crash(i: number, how: "power" | "process"): void;
  /** Notes the firing in the run's trace. */
  note(f: FaultFired): void;
}

/** The points armed in one run, and what they did. */
export class ArmedFaults {
  readonly #hooks: ArmedFaultsHooks;
  #arm: (FaultArm & { left: number }) | null = null;
  /** Slowed delay points, at most one arm per point. */
  readonly #slow = new Map<DelayPoint, SlowArm>();
  #defragError: DefragErrorArm | null = null;
  /** Defrags failed at defragOpenFileError, and hits that waited at a delay point. */
  defragErrors = 0;
  delayedHits = 0;
  /** Hits of each point over the run, all members together. */
  readonly hits = new Map<FaultPoint, number>();
  /** Points that fired, in order; the run reaps each member once. */
  readonly fired: FaultFired[] = [];
  /** Fired and not yet reaped by the run. */
  readonly unreaped: FaultFired[] = [];

  constructor(hooks: ArmedFaultsHooks) {
    this.#hooks = hooks;
  }

  /** Arms `a` in place of whatever was armed. */
  arm(a: FaultArm): void {
    this.#arm = { ...a, left: a.after ?? 0 };
  }

  /** Nothing armed any more (the run's work is done: the heal must not crash anyone). */
  disarm(): void {
    this.#arm = null;
    this.#slow.clear();
    this.#defragError = null;
  }

  /** Slows `a.point` in place of its previous arm. */
  slow(a: SlowArm): void {
    this.#slow.set(a.point, { ...a });
  }

  /** `point` no longer slowed. */
  unslow(point: DelayPoint): void {
    this.#slow.delete(point);
  }

  /** The delay points slowed now. */
  get slowed(): SlowArm[] {
    return [...this.#slow.values()];
  }

  /** Fails the next defrags (see DefragErrorArm), in place of the previous arm. */
  failDefrags(a: DefragErrorArm | null): void {
    this.#defragError = a === null ? null : { ...a };
  }

  get armed(): FaultArm | null {
    return this.#arm;
  }

  /** The latest incarnation of each member (what a dead one left running must not fire). */
  readonly #incarnations = new Map<number, number>();

  /** The fault points of member i's next incarnation (one call per start). */
  forMember(i: number): FaultPoints {
    const n = (this.#incarnations.get(i) ?? 0) + 1;
    this.#incarnations.set(i, n);
    return {
      hit: (point) => this.#hit(i, n, point),
      delay: (point) => {
        const a = this.#slow.get(point);
        if (a === undefined || (a.member !== undefined && a.member !== i)) return 0;
        if (this.#incarnations.get(i) !== n) return 0;
        this.delayedHits++;
        return a.ms;
      },
    };
  }

  #hit(i: number, incarnation: number, point: FaultPoint): void {
    this.hits.set(point, (this.hits.get(point) ?? 0) + 1);
    if (this.#incarnations.get(i) !== incarnation) return;
    if (point === "defragOpenFileError") {
      const e = this.#defragError;
      if (e !== null && (e.member === undefined || e.member === i) && e.count > 0) {
        if (--e.count === 0) this.#defragError = null;
        this.defragErrors++;
        throw new FaultPointError(point, SIM_DEFRAG_ERROR);
      }
    }
    const a = this.#arm;
    if (a === null || a.point !== point || (a.member !== undefined && a.member !== i)) return;
    if (a.left > 0) {
      a.left--;
      return;
    }
    // over the run's crash budget now: the point stays armed for a later hit
    if (!this.#hooks.mayCrash(i)) return;
    this.#arm = null;
    const f: FaultFired = { point, member: i, how: a.how ?? "power" };
    this.fired.push(f);
    this.unreaped.push(f);
    this.#hooks.note(f);
    this.#hooks.crash(i, f.how);
  }
}
