/**
 * A fault point armed in a real-process run, one of two ways drawn from the seed: at start
 * (one member starts with CONCORD_FAILPOINTS, etcd's GOFAIL_FAILPOINTS terms:
 * lib/base/failpoint_terms.ts, and starts with it again after a kill or a replacement until
 * it died at the point), or at run time over gofail's HTTP endpoint (every
 * member runs with CONCORD_FAILPOINTS_HTTP, and the harness PUTs the terms to one member a
 * drawn time after the traffic started, as etcd's robustness suite arms its failpoints). The
 * terms are `K*off->panic` at a point drawn from the seed, so that process dies exactly at its
 * K+1-th hit there (SIGKILL of itself, as kill -9), whatever else the run is doing; the harness
 * then restarts it without points after 0.3-2.5 s, as after a kill -9. Another member may have
 * a delay point slowed for a count of hits (`N*sleep(ms)`), armed the same way. The arm replays
 * from the seed; when (or whether) the point fires depends on the real run.
 */
import { Rand } from "../../lib/base/rand.ts";
import type { DelayPoint, FaultPoint } from "../../lib/base/fault_points.ts";
import type { ProcessCluster } from "../cluster/processes.ts";
import { freePort } from "../support/etcd.ts";

/**
 * The members' --snapshot-count and --experimental-snapshot-catchup-entries in a run: low, so
 * that every member takes a raft snapshot (and releases its WAL) several times in a run of a
 * few seconds, and a member down or cut off for a second or two falls behind the leader's
 * compacted log and catches up by a snapshot: the snapshot points are reached.
 */
export const SNAPSHOT_FLAGS = [
  "--snapshot-count=100",
  "--experimental-snapshot-catchup-entries=50",
] as const;

/**
 * The points a run of a few seconds reaches, with the hits let pass first (drawn up to): few,
 * so that a CI run of 12 s mostly gets there (a member that dies while the cluster starts is
 * restarted as well). The snapshot points come in two kinds: a snapshot taken (every 100
 * applied entries, SNAPSHOT_FLAGS: raftBeforeWALSaveSnaphot between its file and its WAL
 * record, raftAfterWALRelease after the WAL release), reached by every member; and a snapshot
 * received from the leader (the other six), reached only by a member that fell behind the
 * leader's log (killed, stopped, cut off or replaced): often not reached.
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
  // a snapshot taken (every member, every 100 entries)
  { point: "raftBeforeWALSaveSnaphot", from: 0, to: 1 },
  { point: "raftAfterWALRelease", from: 0, to: 1 },
  // a snapshot received (a member behind the leader's log)
  { point: "raftBeforeSaveSnap", from: 0, to: 0 },
  { point: "raftAfterSaveSnap", from: 0, to: 0 },
  { point: "raftBeforeApplySnap", from: 0, to: 0 },
  { point: "raftAfterApplySnap", from: 0, to: 0 },
  { point: "applyBeforeOpenSnapshot", from: 0, to: 0 },
  { point: "applyAfterOpenSnapshot", from: 0, to: 0 },
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
  /**
   * null: armed at start, by CONCORD_FAILPOINTS of the members' first incarnations; a number:
   * armed over HTTP that many ms after the traffic started (counts start there).
   */
  httpAtMs: number | null;
  /** Each member's terms, `name=terms` (undefined: none). */
  specs: (string | undefined)[];
}

/**
 * The run's arms (a rand of their own: the fault schedule draws as before); an HTTP arm comes
 * within the first half of the run's `seconds` of faults.
 */
export function planFailpoint(seed: number, members: number, seconds: number): FailpointPlan {
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
  const httpAtMs = r.chance(0.5) ? r.range(500, Math.max(1000, seconds * 500)) : null;
  const specs: (string | undefined)[] = new Array(members).fill(undefined);
  specs[member] = `${pick.point}=${after}*off->panic`;
  if (slow !== null) specs[slow.member] = `${slow.point}=${slow.hits}*sleep(${slow.ms})`;
  return { member, point: pick.point, after, downMs, slow, httpAtMs, specs };
}

/** The plan in one line. */
export function describePlan(p: FailpointPlan): string {
  return `m${p.member + 1} dies at ${p.point} after ${p.after} hits (restarted after ` +
    `${p.downMs} ms)` +
    (p.slow === null
      ? ""
      : `; m${
        p.slow.member + 1
      }'s ${p.slow.point} slowed ${p.slow.ms} ms for ${p.slow.hits} hits`) +
    (p.httpAtMs === null
      ? "; armed at start (CONCORD_FAILPOINTS, again at each start until it fires)"
      : `; armed over HTTP ${p.httpAtMs} ms after the traffic started (CONCORD_FAILPOINTS_HTTP)`);
}

/**
 * Arms the plan and watches the armed member: arms over HTTP when the plan says so; when the
 * member's process dies at the point (its stderr says so), restarts it after the plan's down
 * time, unless the harness meanwhile killed or restarted it itself.
 */
export class FailpointMonitor {
  readonly #plan: FailpointPlan;
  readonly #cluster: () => ProcessCluster | null;
  readonly #now: () => number;
  /** Each member's port for gofail's endpoint (every incarnation listens on the same one). */
  readonly #httpPorts: number[];
  #stopping = false;
  #faultsOver = false;
  readonly #restarts: Promise<void>[] = [];
  /** When the member died at the point and when it was restarted (on `now`). */
  fired: { at: number; restartedAt: number | null } | null = null;
  /**
   * An HTTP plan's arms, per member armed: when the PUT was answered 204 (on `now`), or why
   * it never was before the deadline.
   */
  readonly httpArms = new Map<number, { at: number } | { failed: string }>();

  constructor(plan: FailpointPlan, cluster: () => ProcessCluster | null, now: () => number) {
    this.#plan = plan;
    this.#cluster = cluster;
    this.#now = now;
    this.#httpPorts = plan.httpAtMs === null ? [] : plan.specs.map(() => freePort());
  }

  /**
   * The environment of member i's incarnation (ProcessClusterOptions.env). A plan armed at
   * start: the terms for each member's first incarnation, and for every later start of the
   * member that is to die, until it died at the point or the faults are over (`endFaults`):
   * a member killed, or replaced by a fresh learner, before it got there starts armed again,
   * and a learner or a member restarted behind the leader's log installs the leader's
   * snapshot, where the received-snapshot points are. An HTTP plan: gofail's endpoint for
   * every incarnation of every member (the points then exist, none armed until the PUT).
   */
  env(i: number, incarnation: number): Record<string, string> | undefined {
    if (this.#plan.httpAtMs !== null) {
      const port = this.#httpPorts[i];
      return port === undefined ? undefined : { CONCORD_FAILPOINTS_HTTP: `127.0.0.1:${port}` };
    }
    const again = i === this.#plan.member && this.fired === null && !this.#faultsOver;
    const v = incarnation === 0 || again ? this.#plan.specs[i] : undefined;
    return v === undefined ? undefined : { CONCORD_FAILPOINTS: v };
  }

  /** The faults are over: a member started from now on (the heal) starts without points. */
  endFaults(): void {
    this.#faultsOver = true;
  }

  /**
   * An HTTP plan's arms: at `startAt` + the plan's httpAtMs (on `now`), `PUT /failpoints` with
   * each armed member's terms, retried every 250 ms while the member is down, stopped or
   * starting (1 s a try), until `deadline`; `httpArms` says what came of each. Nothing for a
   * plan armed at start.
   */
  async armOverHttp(startAt: number, deadline: number): Promise<void> {
    const at = this.#plan.httpAtMs;
    if (at === null) return;
    const wait = startAt + at - this.#now();
    if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, deadline - this.#now())));
    await Promise.all(this.#plan.specs.map(async (spec, i) => {
      if (spec === undefined) return;
      let last = "deadline before the first try";
      while (!this.#stopping && this.#now() < deadline) {
        // a member that died at the point meanwhile was armed (its answer lost): not again
        if (i === this.#plan.member && this.fired !== null) {
          this.httpArms.set(i, { at: this.fired.at });
          return;
        }
        try {
          const r = await fetch(`http://127.0.0.1:${this.#httpPorts[i]}/failpoints`, {
            method: "PUT",
            body: spec,
            signal: AbortSignal.timeout(1000),
          });
          const body = await r.text();
          if (r.status === 204) {
            this.httpArms.set(i, { at: this.#now() });
            return;
          }
          // a refusal is the harness's defect: the terms are drawn from a menu of valid ones
          throw new Error(`m${i + 1} refused "${spec}": ${r.status} ${body.trim()}`);
        } catch (err) {
          if (!(err instanceof TypeError || (err instanceof DOMException))) throw err;
          last = err.message.slice(0, 80);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      this.httpArms.set(i, { failed: last });
    }));
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
