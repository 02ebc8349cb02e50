/**
 * A fault point armed in a real-process run: one member's first incarnation starts with
 * CONCORD_FAILPOINTS (etcd's GOFAIL_FAILPOINTS terms, lib/base/failpoint_terms.ts) set to
 * `K*off->panic` at a point drawn from the seed, so that process dies exactly at its K+1-th
 * hit there (SIGKILL of itself, as kill -9), whatever else the run is doing; the harness then
 * restarts it without points after 0.3-2.5 s, as after a kill -9. Another member may have a
 * delay point slowed for a count of hits (`N*sleep(ms)`). The arm replays from the seed; when
 * (or whether) the point fires depends on the real run.
 */
import { Rand } from "../../lib/base/rand.ts";
import type { DelayPoint, FaultPoint } from "../../lib/base/fault_points.ts";
import type { ProcessCluster } from "../cluster/processes.ts";

/**
 * The points a run of a few seconds reaches, with the hits let pass first (drawn up to): few,
 * so that a CI run of 12 s mostly gets there (a member that dies while the cluster starts is
 * restarted as well). The snapshot points (raftBeforeSaveSnap, raftAfterWALRelease,
 * applyBeforeOpenSnapshot, …) are not here: a member snapshots every --snapshot-count
 * (100,000) entries, which no CI run reaches.
 */
const REACHED: readonly { point: FaultPoint; from: number; to: number }[] = [
  { point: "raftBeforeSave", from: 5, to: 100 },
  { point: "raftAfterSave", from: 5, to: 100 },
  { point: "beforeApplyOneEntryNormal", from: 5, to: 100 },
  // a new cluster's start applies 3 (its members); a replacement applies 2 more
  { point: "beforeApplyOneConfChange", from: 2, to: 4 },
  { point: "beforeCommit", from: 5, to: 40 },
  { point: "afterCommit", from: 5, to: 40 },
  { point: "raftBeforeLeaderSend", from: 10, to: 150 },
  { point: "raftBeforeFollowerSend", from: 10, to: 150 },
  { point: "beforeSendWatchResponse", from: 5, to: 80 },
  { point: "compactBeforeCommitScheduledCompact", from: 0, to: 2 },
  { point: "compactAfterCommitScheduledCompact", from: 0, to: 2 },
  { point: "compactBeforeCommitBatch", from: 0, to: 2 },
  { point: "compactAfterCommitBatch", from: 0, to: 2 },
  { point: "compactBeforeSetFinishedCompact", from: 0, to: 2 },
  { point: "compactAfterSetFinishedCompact", from: 0, to: 2 },
  { point: "defragBeforeCopy", from: 0, to: 0 },
  { point: "defragBeforeRename", from: 0, to: 0 },
];

/** The delay points another member may have slowed. */
const SLOWED: readonly DelayPoint[] = [
  "raftBeforeLeaderSend",
  "raftBeforeFollowerSend",
  "beforeSendWatchResponse",
];

/** One run's arms, from its seed. */
export interface FailpointPlan {
  /** The member that dies at the point, the point, and the hits let pass before. */
  member: number;
  point: FaultPoint;
  after: number;
  /** How long the harness waits before it restarts the member. */
  downMs: number;
  /** A delay point slowed on another member for some hits, or none. */
  slow: { member: number; point: DelayPoint; ms: number; hits: number } | null;
  /** CONCORD_FAILPOINTS of each member's first incarnation (undefined: none). */
  env: (string | undefined)[];
}

/** The run's arms (a rand of their own: the fault schedule draws as before). */
export function planFailpoint(seed: number, members: number): FailpointPlan {
  const r = new Rand(seed ^ 0xfa17);
  const member = r.int(members);
  const pick = r.pick(REACHED);
  const after = r.range(pick.from, pick.to + 1);
  const downMs = r.range(300, 2500);
  const slow = r.chance(0.5)
    ? {
      member: (member + 1 + r.int(members - 1)) % members,
      point: r.pick(SLOWED),
      ms: r.range(5, 150),
      hits: r.range(20, 200),
    }
    : null;
  const env: (string | undefined)[] = new Array(members).fill(undefined);
  env[member] = `${pick.point}=${after}*off->panic`;
  if (slow !== null) env[slow.member] = `${slow.point}=${slow.hits}*sleep(${slow.ms})`;
  return { member, point: pick.point, after, downMs, slow, env };
}

/** The plan in one line. */
export function describePlan(p: FailpointPlan): string {
  return `m${p.member + 1} dies at ${p.point} after ${p.after} hits (restarted after ` +
    `${p.downMs} ms)` +
    (p.slow === null
      ? ""
      : `; m${p.slow.member + 1}'s ${p.slow.point} slowed ${p.slow.ms} ms for ${p.slow.hits} hits`);
}

/**
 * Watches the armed member: when its process dies at the point (its stderr says so), restarts
 * it after the plan's down time, unless the harness meanwhile killed or restarted it itself.
 */
export class FailpointMonitor {
  readonly #plan: FailpointPlan;
  readonly #cluster: () => ProcessCluster | null;
  readonly #now: () => number;
  #stopping = false;
  readonly #restarts: Promise<void>[] = [];
  /** When the member died at the point and when it was restarted (on `now`). */
  fired: { at: number; restartedAt: number | null } | null = null;

  constructor(plan: FailpointPlan, cluster: () => ProcessCluster | null, now: () => number) {
    this.#plan = plan;
    this.#cluster = cluster;
    this.#now = now;
  }

  /** The environment of member i's incarnation (ProcessClusterOptions.env). */
  env(i: number, incarnation: number): Record<string, string> | undefined {
    const v = incarnation === 0 ? this.#plan.env[i] : undefined;
    return v === undefined ? undefined : { CONCORD_FAILPOINTS: v };
  }

  /** ProcessClusterOptions.onExit. */
  onExit(i: number, proc: Deno.ChildProcess, stderr: Promise<string>): void {
    if (i !== this.#plan.member) return;
    this.#restarts.push((async () => {
      const text = await stderr;
      if (!text.includes(`panic: failpoint panic: ${this.#plan.point}`)) return;
      this.fired = { at: this.#now(), restartedAt: null };
      await new Promise((r) => setTimeout(r, this.#plan.downMs));
      const c = this.#cluster();
      // killed, replaced or restarted by the harness meanwhile: it owns the member now
      if (this.#stopping || c === null || c.members[i].proc !== proc) return;
      c.spawn(i);
      this.fired.restartedAt = this.#now();
    })());
  }

  /** No restart after this; waits for one under way. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#restarts);
  }
}
