/**
 * What a whole-cluster run is asked to do and what it reports: its options (the planted bugs,
 * the fault families turned off, a forced fault point), its result (the history, the checks'
 * violations, the counts a sweep prints, the trace), the command that replays it and the report
 * of a failed run. Kept apart from the run (cluster_run.ts) so the command line, the tests and
 * the run share one definition of each.
 */
import { FAULT_POINTS } from "../../lib/base/fault_points.ts";
import { describeOp, type KvOp } from "./kv_history.ts";
import type { WatchBug } from "./planted_watch_bug.ts";
import type { FaultArm, FaultFired } from "./armed_faults.ts";
import type { MembershipRecord } from "./membership_workload.ts";
import type { TransferRecord } from "./transfer_workload.ts";
import type { AckedRevisions } from "./cluster_history.ts";

/**
 * A bug planted on purpose, to show the checkers catch it: `stale-read` (in the client's
 * path) serves a "linearizable" get from the member's local state without ReadIndex;
 * `ack-before-fsync` (in the members: `MemberOptions.testOnlyAckBeforeFsync`) lets raft
 * acknowledge, apply and answer entries before their WAL save is durable; `split-txn` (in
 * the client's path) applies a multi-key txn in several revisions and answers it as one;
 * `watch-drop`, `watch-reorder` and `watch-early-progress` (between a member's watch hub and
 * the run's watchers: planted_watch_bug.ts) lose an event, swap two responses, or send a
 * progress notification ahead of its events; `lease-early-revoke` and
 * `lease-keepalive-ignored` (in the members: `MemberOptions.testOnlyLeaseBug`) revoke a lease
 * with half its TTL left, or answer keep-alives without renewing.
 */
export type PlantedBug =
  | "stale-read"
  | "ack-before-fsync"
  | "split-txn"
  | WatchBug
  | "lease-early-revoke"
  | "lease-keepalive-ignored";

/** The planted bugs, for the command line. */
export const PLANTED_BUGS: readonly PlantedBug[] = [
  "stale-read",
  "ack-before-fsync",
  "split-txn",
  "watch-drop",
  "watch-reorder",
  "watch-early-progress",
  "lease-early-revoke",
  "lease-keepalive-ignored",
];

/** The planted bugs that sit between a member's watch hub and the run's watchers. */
export const WATCH_BUGS: readonly PlantedBug[] = [
  "watch-drop",
  "watch-reorder",
  "watch-early-progress",
];

/** What one run does. */
export interface RunOptions {
  seed: number;
  size: number;
  clients?: number;
  opsPerClient?: number;
  /** Faults on (default); off gives a clean run. */
  faults?: boolean;
  bug?: PlantedBug;
  /**
   * Learners added, started, promoted and voters removed during the run (default: on for 3
   * and 5 members).
   */
  membership?: boolean;
  /** Leader transfers (etcd's MoveLeader) now and then (default: on for 3 and 5 members). */
  transfers?: boolean;
  /**
   * Disks made full under a member (on by default: the member must fail with its error and
   * lose nothing; docs/testing.md, finding 8).
   */
  diskFull?: boolean;
  /**
   * One member's disk made slow now and then (on by default: slow fsyncs widen the windows a
   * crash can land in; docs/testing.md, findings 9 and 10).
   */
  slowDisk?: boolean;
  /**
   * Snapshot bodies damaged in transit now and then (on by default: a byte flipped or the body
   * cut; the receiver must refuse it and the leader send it again).
   */
  snapshotFaults?: boolean;
  /**
   * Message frames cut in transit now and then (on by default: the stream breaks inside a
   * frame; the receiver must refuse it and drop the stream), from a rand of their own.
   */
  frameFaults?: boolean;
  /**
   * Every member's disk slow from the start (fsyncs of 2 to 41 ms; the fault menu may make it
   * fast again): the planted bug `ack-before-fsync` needs a crash while an fsync runs.
   */
  slowDiskAtStart?: boolean;
  /**
   * Fault points armed now and then, a member dying at one when it fires (on by default;
   * armed from a random source of their own, so the rest of a run's choices stay put).
   */
  failpoints?: boolean;
  /**
   * With `failpoints`, points that do not crash (on by default): a delay point slowed for a
   * while, defragOpenFileError failing the next defrags; from a random source of their own.
   * Off: the runs of seeds recorded before they came.
   */
  slowPoints?: boolean;
  /** One point armed from the start (tests reach every point so), menu or not. */
  failpoint?: FaultArm;
}

/** What one run found. */
export interface RunResult {
  seed: number;
  size: number;
  violations: string[];
  history: KvOp[];
  /** The header revision each answered op got, by op id. */
  revisions: AckedRevisions;
  serialReads: number;
  /** Serializable reads dropped: their member had failed (or stopped while they waited). */
  serialReadsFailed: number;
  /** Serializable reads served after waiting for their member's snapshot install. */
  serialReadsWaited: number;
  /** Events the run's watchers received (all of them checked), and how many watchers. */
  watchEvents: number;
  /** Progress notifications the watchers got (each checked against the events before it). */
  progressNotifications: number;
  watchers: number;
  leases: number;
  compactions: number;
  pastReads: number;
  defrags: number;
  membership: MembershipRecord;
  transfers: TransferRecord;
  crashes: number;
  /** The fault points that fired (each one a crash, counted in `crashes` too). */
  fired: FaultFired[];
  /** Hits of each fault point over the run (all members). */
  faultHits: Map<string, number>;
  /** Hits that waited at a slowed delay point, and defrags failed at defragOpenFileError. */
  delayedHits: number;
  defragErrors: number;
  partitions: number;
  /** Snapshot bodies damaged in transit that reached a member, and how many it refused. */
  snapshotsDamaged: number;
  snapshotsRefused: number;
  /** Message frames cut in transit, refused by their receiver, and messages lost with them. */
  framesCut: number;
  framesRefused: number;
  lostWithStreams: number;
  finalRev: number;
  simMs: number;
  /** The run's events (faults, member logs) in order, for the trace printed on a failure. */
  trace: string[];
}

/** The command that replays a run. */
export function replayCommand(o: RunOptions): string {
  return `deno task sim:cluster --seed ${o.seed} --size ${o.size}` +
    (o.faults === false ? " --no-faults" : "") +
    (o.opsPerClient !== undefined ? ` --ops ${o.opsPerClient}` : "") +
    (o.bug ? ` --bug ${o.bug}` : "") + (o.membership === false ? " --no-membership" : "") +
    (o.transfers === false ? " --no-transfers" : "") +
    (o.diskFull === false ? " --no-disk-full" : "") +
    (o.slowDisk === false ? " --no-slow-disk" : "") +
    (o.snapshotFaults === false ? " --no-snapshot-faults" : "") +
    (o.frameFaults === false ? " --no-frame-faults" : "") +
    (o.slowDiskAtStart === true ? " --slow-disk-at-start" : "") +
    (o.failpoints === false ? " --no-failpoints" : "") +
    (o.slowPoints === false ? " --no-slow-points" : "") +
    (o.failpoint ? ` --failpoint ${formatArm(o.failpoint)}` : "");
}

/** A forced arm as `--failpoint` takes it: point[:after[:power|process[:member index]]]. */
export function formatArm(a: FaultArm): string {
  return [a.point, a.after ?? 0, a.how ?? "power", ...(a.member === undefined ? [] : [a.member])]
    .join(":");
}

/** Reads `--failpoint`'s value (formatArm's form). */
export function parseArm(s: string): FaultArm {
  const [point, after, how, member] = s.split(":");
  const p = FAULT_POINTS.find((x) => x === point);
  if (p === undefined) {
    throw new Error(`--failpoint: no point ${point}; the points: ${FAULT_POINTS.join(", ")}`);
  }
  const n = (v: string | undefined, what: string) => {
    if (v === undefined) return undefined;
    const x = Number(v);
    if (!Number.isInteger(x) || x < 0) {
      throw new Error(`--failpoint: ${what} must be a non-negative integer`);
    }
    return x;
  };
  if (how !== undefined && how !== "power" && how !== "process") {
    throw new Error("--failpoint: a crash is power or process");
  }
  return { point: p, after: n(after, "after"), how, member: n(member, "member") };
}

/** The report of a failed run: seed, replay command, the violations and the trace. */
export function describeFailure(o: RunOptions, res: RunResult): string {
  return [
    `seed=${o.seed} size=${o.size}: ${res.violations.length} violation(s)`,
    `replay: ${replayCommand(o)}`,
    ...res.violations.slice(0, 10),
    "trace (faults, then the members' last log lines):",
    ...res.trace.slice(-60).map((l) => `  ${l}`),
    `history: ${res.history.length} ops; last ones:`,
    ...res.history.slice(-10).map((op) => `  ${describeOp(op)}`),
  ].join("\n");
}
