/**
 * `deno task sim:cluster`: whole-cluster simulation runs from the command line.
 *
 *   --seeds N      how many seeds (default 10), from --first (default: a fresh random one)
 *   --seed S       one seed (replays a failure)
 *   --size 3|5     members (default: both, alternating)
 *   --bug NAME     plant a bug (stale-read, ack-before-fsync, split-txn, watch-drop, watch-reorder,
 *                  watch-early-progress, lease-early-revoke, lease-keepalive-ignored) to see the
 *                  checkers catch it
 *   --verbose      one line per run
 *   --keep-going   on a failure print its seed, first violation and replay, and go on
 *   --no-faults    a clean run: no network, crash or disk fault, no membership change or transfer
 *   --no-membership  no learners added, promoted or voters removed during the runs
 *   --no-transfers   no leader transfers (MoveLeader) during the runs
 *   --no-disk-full   no member's disk made full (on by default since finding 8's fix)
 *   --no-slow-disk   no member's fsyncs made slow (on by default since finding 10's fix)
 *   --no-snapshot-faults   no snapshot body damaged in transit (replays seeds recorded before)
 *   --no-frame-faults   no message frame cut in transit (replays seeds recorded before)
 *   --slow-disk-at-start  every member's fsyncs slow from the start (for ack-before-fsync)
 *   --ops N        operations per KV client (default 40)
 *   --no-failpoints  no fault points armed (members die at named points: on by default)
 *   --no-slow-points  with fault points, none slowed and no defrag failed at
 *                  defragOpenFileError (replays seeds recorded before they came)
 *   --failpoint P[:K[:power|process[:I]]]  arm point P from the start: the member (index I,
 *                  or any) dies at its hit after K others (lib/base/fault_points.ts names them)
 *
 * Exits 1 on the first failing seed, after printing it with its replay command and trace. A run
 * that throws is its seed's failure (printed with its replay command), never the process's end.
 */
import { runCluster } from "./cluster_run.ts";
import {
  describeFailure,
  parseArm,
  PLANTED_BUGS,
  replayCommand,
  type RunOptions,
  type RunResult,
} from "./cluster_run_options.ts";
import { errorText } from "./run_context.ts";
import type { KvOp } from "./kv_history.ts";

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = Deno.args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new Error(`--${name} needs a value`);
  return v;
}

function int(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

const known = new Set([
  "seeds",
  "seed",
  "first",
  "size",
  "bug",
  "verbose",
  "keep-going",
  "no-faults",
  "no-membership",
  "no-transfers",
  "no-disk-full",
  "no-slow-disk",
  "no-snapshot-faults",
  "no-frame-faults",
  "slow-disk-at-start",
  "no-failpoints",
  "no-slow-points",
  "ops",
  "failpoint",
]);
for (const a of Deno.args) {
  if (a.startsWith("--") && !known.has(a.slice(2))) throw new Error(`unknown flag ${a}`);
}
const one = flag("seed");
const seeds = one !== undefined ? 1 : int("seeds", flag("seeds"), 10);
const first = one !== undefined
  ? int("seed", one, 0)
  : int("first", flag("first"), crypto.getRandomValues(new Uint32Array(1))[0] >>> 1);
const sizeFlag = flag("size");
if (sizeFlag !== undefined && sizeFlag !== "3" && sizeFlag !== "5" && sizeFlag !== "1") {
  throw new Error("--size must be 1, 3 or 5");
}
const bugFlag = flag("bug");
const bug = PLANTED_BUGS.find((b) => b === bugFlag);
if (bugFlag !== undefined && bug === undefined) {
  throw new Error(`--bug must be one of ${PLANTED_BUGS.join(", ")}`);
}
const armFlag = flag("failpoint");
const failpoint = armFlag === undefined ? undefined : parseArm(armFlag);
const verbose = Deno.args.includes("--verbose");
const keepGoing = Deno.args.includes("--keep-going");
const failed: number[] = [];

/** How many multi-key ops a history has, and how many of its txns took their then branch. */
function multiKey(h: readonly KvOp[]): string {
  const multi = h.filter((op) => op.input.kind === "txn" || op.input.kind === "range");
  const then = multi.filter((op) => op.output?.kind === "txn" && op.output.succeeded).length;
  const unknown = multi.filter((op) => op.output === null).length;
  return `${multi.length} multi-key: ${then} txns took then, ${unknown} unknown`;
}

/**
 * Rejections nothing handled (a workload's promise nobody awaited yet): each fails the run it
 * came from instead of ending the process (the default), which lost a sweep's seed once.
 */
const stray: unknown[] = [];
globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  stray.push(e.reason);
});

const start = performance.now();
let passed = 0;
for (let s = 0; s < seeds; s++) {
  const seed = first + s;
  const size = sizeFlag !== undefined ? Number(sizeFlag) : s % 2 === 0 ? 3 : 5;
  const o: RunOptions = {
    seed,
    size,
    bug,
    faults: !Deno.args.includes("--no-faults"),
    membership: !Deno.args.includes("--no-membership"),
    transfers: !Deno.args.includes("--no-transfers"),
    diskFull: !Deno.args.includes("--no-disk-full"),
    slowDisk: !Deno.args.includes("--no-slow-disk"),
    slowDiskAtStart: Deno.args.includes("--slow-disk-at-start"),
    snapshotFaults: !Deno.args.includes("--no-snapshot-faults"),
    frameFaults: !Deno.args.includes("--no-frame-faults"),
    opsPerClient: flag("ops") === undefined ? undefined : int("ops", flag("ops"), 40),
    failpoints: !Deno.args.includes("--no-failpoints"),
    slowPoints: !Deno.args.includes("--no-slow-points"),
    failpoint,
  };
  let res: RunResult;
  try {
    res = await runCluster(o);
  } catch (e) {
    // a run that threw (outside the run's own catch: its start, its first election, its
    // stop) is that seed's failure, never the end of a sweep without its seed
    failed.push(seed);
    console.log(`FAILED seed=${seed} size=${size}: the run threw: ${errorText(e)}`);
    if (e instanceof Error && e.stack !== undefined) console.log(e.stack);
    console.log(`  replay: ${replayCommand(o)}`);
    if (keepGoing) continue;
    Deno.exit(1);
  }
  // (dispatched after the turn it happened in: during this run, or at the end of the last)
  res.violations.push(
    ...stray.splice(0).map((e) => `unhandled rejection during the run: ${errorText(e)}`),
  );
  if (res.violations.length > 0 && keepGoing) {
    failed.push(seed);
    console.log(`FAILED seed=${seed} size=${size}: ${res.violations[0].split("\n")[0]}`);
    console.log(`  replay: ${replayCommand(o)}`);
    continue;
  }
  if (res.violations.length > 0) {
    console.log(describeFailure(o, res));
    console.log(`${passed} seeds passed before seed ${seed} failed`);
    Deno.exit(1);
  }
  passed++;
  if (verbose) {
    console.log(
      `seed=${seed} size=${size}: ${res.history.length} ops (${multiKey(res.history)}), ` +
        `${res.serialReads} serializable reads ` +
        `(${res.serialReadsFailed} failed, ${res.serialReadsWaited} waited for an install), ` +
        `${res.watchEvents} watch events (${res.watchers} watchers, ` +
        `${res.progressNotifications} progress notifications), ${res.leases} leases, ` +
        `${res.compactions} compactions, ${res.pastReads} past reads, ${res.defrags} defrags, ` +
        `membership ${JSON.stringify(res.membership)}, transfers ${
          JSON.stringify(res.transfers)
        }, ` +
        `${res.crashes} crashes (fault points: ${
          res.fired.map((f) => f.point).join(" ") || "none"
        }), ${res.delayedHits} hits delayed, ${res.defragErrors} defrags failed at a point, ` +
        `${res.partitions} partitions, ` +
        `${res.snapshotsDamaged} snapshots damaged (${res.snapshotsRefused} refused), ` +
        `${res.framesCut} frames cut (${res.framesRefused} refused, ${res.lostWithStreams} ` +
        `lost with their streams), final rev ${res.finalRev}, ${res.simMs} sim ms`,
    );
  }
}
if (failed.length > 0) {
  console.log(`${failed.length} of ${seeds} seeds failed: ${failed.join(" ")}`);
  Deno.exit(1);
}
console.log(
  `${passed} seeds passed (${first}..${first + seeds - 1}) in ${
    ((performance.now() - start) / 1000).toFixed(1)
  } s`,
);
