/**
 * The whole-cluster simulation's fault points (lib/base/fault_points.ts): a point armed for a
 * member (or for any member) fires at its k-th hit there, and the member dies at that instant
 * (power loss or kill -9: `SimCluster.crashNow`), so nothing after the point reaches its disk,
 * its peers or its clients. The run then reaps the member and restarts it later, as after any
 * crash. Every hit is counted per point, so a test can tell which points a run reached.
 */
import type { FaultPoint, FaultPoints } from "../../lib/base/fault_points.ts";

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
    return { hit: (point) => this.#hit(i, n, point) };
  }

  #hit(i: number, incarnation: number, point: FaultPoint): void {
    this.hits.set(point, (this.hits.get(point) ?? 0) + 1);
    if (this.#incarnations.get(i) !== incarnation) return;
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
