/**
 * One seeded whole-cluster run: real members over the simulated network, disks and clock;
 * clients issuing puts, linearizable and serializable gets, deletes and compare-and-swap txns
 * through random members with client-side timeouts; network faults (drops, delays, duplicates,
 * reorders, a minority or the leader partitioned, one-way cuts) and member crashes (power loss
 * or kill -9, then a restart on the same disk); everything healed at the end. Then the checks:
 * linearizability of the KV history, durability of acknowledged writes, convergence (same
 * hashKV at the same revision everywhere), serializable reads. Every choice comes from the
 * seed, so a run replays exactly.
 */
import { create } from "@bufbuild/protobuf";
import { Rand } from "../../lib/base/rand.ts";
import type { Member } from "../../lib/server/member.ts";
import { RequestKind } from "../../lib/server/request.ts";
import { PutRequestSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { DEFAULT_SIM_FAULTS } from "../../lib/transport/sim_network.ts";
import { SimCluster } from "../cluster/sim_cluster.ts";
import { describeOp, type KvOp } from "./kv_history.ts";
import { KvClients } from "./kv_workload.ts";
import { checkLinearizable } from "./linearizability.ts";
import {
  checkCompacted,
  checkProgress,
  checkWatch,
  drain,
  referenceEvents,
  watchAll,
  type WatchOptions,
  type WatchRecord,
} from "./watch_check.ts";
import { HistoryArchive } from "./history_archive.ts";
import { errorText, isBackendFailure, type RunContext } from "./run_context.ts";
import { checkLeases, leaseClient, type LeaseRecord } from "./lease_workload.ts";
import { adminClient, type AdminRecords, checkAdmin } from "./compaction_workload.ts";
import { membershipClient, type MembershipRecord } from "./membership_workload.ts";
import { transferClient, type TransferRecord } from "./transfer_workload.ts";
import { simMembersFetcher } from "../cluster/sim_join.ts";
import { BuggyWatchStream, type WatchBug } from "./planted_watch_bug.ts";
import { ArmedFaults, type FaultArm, type FaultFired } from "./armed_faults.ts";
import { DELAY_POINTS, type DelayPoint, FAULT_POINTS } from "../../lib/base/fault_points.ts";
import {
  type AckedRevisions,
  checkDurability,
  checkSerializable,
  dropUnapplied,
} from "./cluster_history.ts";

const enc = new TextEncoder();

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

const WATCH_BUGS: readonly PlantedBug[] = ["watch-drop", "watch-reorder", "watch-early-progress"];

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

const CLIENT_TIMEOUT_MS = 1500;

/** Runs one seed to the end and checks it; violations are returned, not thrown. */
export async function runCluster(o: RunOptions): Promise<RunResult> {
  const r = new Rand(o.seed ^ 0x5eed);
  const progressRand = new Rand(o.seed ^ 0x9e0c);
  /** The planted watch bug's draws, from a rand of their own. */
  const watchBugRand = new Rand(o.seed ^ 0x3b71);
  // how often snapshots are damaged: a rand of its own, so the fault menu's draws are unchanged
  const snapRand = new Rand(o.seed ^ 0x54a9);
  // cut message frames: how often from one rand, which frames from another (the network's)
  const frameFaults = (o.frameFaults ?? true) && (o.faults ?? true);
  const frameSettingRand = new Rand(o.seed ^ 0xf7a3);
  const faults = o.faults ?? true;
  const membership = (o.membership ?? true) && o.size > 1 && faults;
  const transfers = (o.transfers ?? true) && o.size > 1 && faults;
  const failpoints = (o.failpoints ?? true) && faults;
  const armRand = new Rand(o.seed ^ 0xfa17);
  let cluster: SimCluster | null = null;
  /** Whether member i may die at a fault point now (set once the run's state exists). */
  let mayCrash: (i: number) => boolean = () => false;
  const armed = new ArmedFaults({
    mayCrash: (i) => mayCrash(i),
    crash: (i, how) => cluster!.crashNow(i, how),
    note: (f) =>
      cluster!.log.push(
        `fault point ${f.point} fired: ${cluster!.configs[f.member].name} dies (${f.how})`,
      ),
  });
  const c = await SimCluster.start({
    size: o.size,
    seed: o.seed,
    // which frames are cut: a rand of its own (none drawn while the rate is 0)
    network: { frameRand: new Rand(o.seed ^ 0xf4a5) },
    // snapshots and catch-up by snapshot happen within a run
    // --strict-reconfig-check=false: the check wants every voter connected for 5 s, which
    // the fault menu seldom allows (its refusals are tested in tests/cluster); the run's crash
    // budget keeps a quorum up through its own membership changes
    configure: (cfg) => {
      cfg.snapshotCount = 40;
      cfg.strictReconfigCheck = false;
      // with fault points, compactions commit in several batches (each batch's commit is a
      // point's place); without, runs keep the trajectories recorded before the points came
      if (failpoints || o.failpoint !== undefined) cfg.compactionBatchLimit = 10;
    },
    // joining members ask the running ones for the cluster (GET /members)
    member: {
      snapshotCatchUpEntries: 10,
      fetchMembers: simMembersFetcher(() => cluster!),
      // a defrag copies in one go: slices timed on the real clock (a turn of the real event
      // loop between them) made a run vary from one replay to the next (seed 400)
      backendDefrag: { sliceMs: Infinity },
      testOnlyAckBeforeFsync: o.bug === "ack-before-fsync",
      testOnlyLeaseBug: o.bug === "lease-early-revoke"
        ? "early-revoke"
        : o.bug === "lease-keepalive-ignored"
        ? "keepalive-ignored"
        : undefined,
    },
    // every member on one wall clock: request ids must still never collide (they carry the
    // member id, as etcd's idutil makes them; see bug 1 in docs/testing.md)
    // (none without them: a run then keeps the trajectory it had before the points came)
    faults: failpoints || o.failpoint !== undefined ? (i) => armed.forMember(i) : undefined,
  });
  cluster = c;
  /** Members removed from the cluster: stopped, never restarted. */
  const removed = new Set<number>();
  /** Members whose disk was made full (their failing on it is expected). */
  const diskFull = new Set<number>();
  /** Indices of the members of the cluster (running or down), in order. */
  const current = () =>
    c.members.flatMap((m, i) => (removed.has(i) || (m !== null && m.failure !== null) ? [] : [i]));
  /** The running members that have not stopped by themselves (removed members stop so). */
  const running = () => c.live.filter((m) => m.failure === null);
  const trace: string[] = [];
  const note = (s: string) => trace.push(`${c.clock.now()}ms ${s}`);
  const ids = c.members.map((m) => m!.id);
  const incarnation = new Array<number>(o.size).fill(0);
  let seq = 0;
  let crashes = 0;
  let partitions = 0;
  const violations: string[] = [];
  const archive = new HistoryArchive();
  /**
   * One watcher per member incarnation, from its next revision or from a past one, with
   * prev_kv or a filter at random; cancelled and resumed now and then, and resumed from the
   * compact revision after a compacted response (as etcd's clients may).
   */
  const watchers: (WatchRecord | null)[] = new Array(o.size).fill(null);
  const allWatchers: WatchRecord[] = [];
  const watch = (i: number, m: Member, resumeAt?: number) => {
    if (m.failure !== null || c.members[i] !== m) {
      // a member that failed serves no watch (its hub is closed): none until it restarts; nor
      // one that died meanwhile (at a fault point, in the last step of its own restart: seed
      // 19000167 read its store's dead page file here)
      watchers[i] = null;
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
      `watcher on ${m.config.name}#${incarnation[i]}${resumeAt === undefined ? "" : " (resumed)"}` +
        `${opts.prevKv ? " prev_kv" : ""}${opts.noPut ? " noput" : ""}${
          opts.noDelete ? " nodelete" : ""
        }`,
      WATCH_BUGS.includes(o.bug!)
        ? new BuggyWatchStream(
          m.hub.newStream({ bufferSize: 1 << 20 }),
          o.bug as WatchBug,
          watchBugRand,
        )
        : m.hub.newStream({ bufferSize: 1 << 20 }),
      from,
      opts,
    );
    watchers[i] = w;
    allWatchers.push(w);
  };
  c.members.forEach((m, i) => watch(i, m!));
  if (o.slowDiskAtStart === true) {
    for (const d of c.disks) d.slowSync = { clock: c.clock, ms: 2 + r.int(40) };
  }
  /** Takes the watchers' responses and records what the members applied. */
  const drainAll = () => {
    for (const [i, w] of watchers.entries()) {
      if (w === null || w === undefined) continue;
      drain(w);
      if (w.ended && w.compacted !== undefined) watch(i, c.members[i]!, w.compacted);
    }
    observe();
  };
  /** When a member became leader (its lessor then extends every lease: checkLeases). */
  const elections: number[] = [];
  const wasLeader = new Map<Member, boolean>();
  /** Records what the members applied, and leader elections; changes nothing. */
  const observe = () => {
    for (const m of c.live) {
      // a failed member's store is not readable (its backend failed), nor the store a member
      // is replacing with a snapshot's (closed under it); the others record the history
      if (m.failure !== null) continue;
      if (m.isLeader && !wasLeader.get(m)) elections.push(c.clock.now());
      wasLeader.set(m, m.isLeader);
      if (m.applyingSnapshot) continue;
      try {
        archive.observe(m.config.name, m.store, c.clock.now());
      } catch (e) {
        // its backend failed just now and the read threw that failure: the member stops on it
        // (judged by takeOutRemoved) and records nothing more here (the archive takes a
        // revision whole or not at all)
        if (!isBackendFailure(m, e)) throw e;
      }
    }
  };
  /** A client cancels its watch and resumes after the last event it got. */
  const resumeWatch = (i: number) => {
    const w = watchers[i] ?? null;
    const m = c.members[i];
    if (w === null || w.ended || m === null) return;
    drain(w);
    if (w.ended) return;
    w.ended = true;
    w.stream.close();
    const last = w.responses.at(-1)?.events.at(-1)?.rev;
    watch(i, m, last === undefined ? w.startRev : last + 1);
  };
  const restart = async (i: number) => {
    incarnation[i]++;
    // stepped while it starts: on a slow disk its fsyncs wait on the clock
    watch(i, await c.settle(`restart ${c.configs[i].name}`, c.startMember(i), 30_000));
  };
  /**
   * Members that learned they were removed stop serving by themselves (etcd's message): the
   * run stops them for good. Any other failure of a member is a violation.
   */
  const takeOutRemoved = async () => {
    for (const [i, m] of c.members.entries()) {
      if (m === null || removed.has(i)) continue;
      if (m.failure === null) {
        // removed while it was down and knows no one who would tell it (a joiner that
        // never learned its peers): nobody sends it anything again, so it never finds out
        const others = c.live.filter((x) => x !== m && x.failure === null);
        if (!others.some((x) => x.membership.isRemoved(m.id)) || m.appliedIndex > 0) continue;
        note(`${m.config.name} stopped: removed while down, before it learned anything`);
        removed.add(i);
        const w = watchers[i] ?? null;
        if (w !== null) {
          drain(w);
          w.ended = true;
          watchers[i] = null;
        }
        await c.settle("a stop", c.stopMember(i), 30_000);
        continue;
      }
      const why = errorText(m.failure);
      if (diskFull.has(i) && why.includes("no space left on device")) {
        // a member that stopped on a full disk is down, as after a crash: restarted later
        note(`${m.config.name} stopped: ${why}`);
        const w = watchers[i] ?? null;
        if (w !== null) {
          drain(w);
          w.ended = true;
          watchers[i] = null;
        }
        await c.settle("a crash", c.crashMember(i, "process"), 30_000);
        crashes++;
        continue;
      }
      if (why !== "the member has been permanently removed from the cluster") {
        violations.push(`${m.config.name} failed: ${why}`);
      }
      note(`${m.config.name} stopped: ${why}`);
      removed.add(i);
      const w = watchers[i] ?? null;
      if (w !== null) {
        drain(w);
        w.ended = true;
        watchers[i] = null;
      }
      await c.settle("a stop", c.stopMember(i), 30_000);
    }
  };

  const sleep = (ms: number) => new Promise<void>((res) => c.clock.after(ms, res));
  const ctx: RunContext = {
    c,
    r,
    archive,
    tick: () => seq++,
    within: (p) => within(p),
    sleep,
    note,
  };
  /** Resolves with the outcome, or "timeout" when the client stops waiting. */
  const within = <T>(p: Promise<T>): Promise<{ v: T } | { e: unknown } | "timeout"> =>
    new Promise((res) => {
      const t = c.clock.after(CLIENT_TIMEOUT_MS, () => res("timeout"));
      p.then((v) => {
        t.cancel();
        res({ v });
      }, (e) => {
        t.cancel();
        res({ e });
      });
    });

  const clients = o.clients ?? 4;
  const opsPerClient = o.opsPerClient ?? 40;
  const kv = new KvClients(ctx, {
    clients,
    opsPerClient,
    bug: o.bug === "stale-read" || o.bug === "split-txn" ? o.bug : undefined,
    removed: (i) => removed.has(i),
    incarnation: (i) => incarnation[i],
  });
  // at most a minority down (a lone member may be down: it is crashed and restarted)
  const maxDown = o.size === 1 ? 1 : Math.floor((o.size - 1) / 2);
  let done = false;
  mayCrash = (i) => {
    const m = c.members[i];
    return !done && m !== null && m.failure === null && !removed.has(i) &&
      current().filter((j) => c.members[j] === null).length < maxDown;
  };
  /** Members that died at a fault point: their watchers end, and the run waits for them. */
  const reapFired = async () => {
    while (armed.unreaped.length > 0) {
      const f = armed.unreaped.shift()!;
      note(`fault point ${f.point} crashed ${c.configs[f.member].name} (${f.how})`);
      const w = watchers[f.member] ?? null;
      if (w !== null) {
        drain(w);
        w.ended = true;
      }
      watchers[f.member] = null;
      await c.settle("a crash", c.reap(f.member), 30_000);
      crashes++;
    }
  };
  /** Now and then a point is armed for an up member (from its own random source). */
  let armedAt = -Infinity;
  const armStep = () => {
    if (!failpoints || !armRand.chance(0.006)) return;
    // a point seldom reached (a snapshot install, a compaction's end) stays armed 2 s before
    // another takes its place: replaced at once, it almost never fired (300 seeds of 3
    // members saw none of 6 of the points)
    if (armed.armed !== null && c.clock.now() - armedAt < 2000) return;
    armedAt = c.clock.now();
    const up = current().filter((i) => c.members[i] !== null);
    if (up.length === 0) return;
    const a: FaultArm = {
      point: armRand.pick(FAULT_POINTS),
      // half of them for one member, the others for whichever member reaches the point first
      member: armRand.chance(0.5) ? armRand.pick(up) : undefined,
      after: armRand.int(3),
      how: armRand.chance(0.6) ? "power" : "process",
    };
    armed.arm(a);
    note(
      `fault point ${a.point} armed for ${
        a.member === undefined ? "any member" : c.configs[a.member].name
      } (after ${a.after} hits, ${a.how})`,
    );
  };
  if (o.failpoint !== undefined) armed.arm(o.failpoint);
  /**
   * Now and then a point that does not crash (from a rand of its own, so the crash arms and
   * the rest of the run draw as before): a delay point slowed 1-40 ms a hit (the watch's 1-200
   * ms) for one member or all, for 0.3-2 s; or defragOpenFileError armed for the next 1-2
   * defrags of one member or any.
   */
  const slowPoints = failpoints && (o.slowPoints ?? true);
  const slowRand = new Rand(o.seed ^ 0x51e3);
  const slowUntil = new Map<DelayPoint, number>();
  const slowStep = () => {
    if (!slowPoints) return;
    for (const [p, t] of slowUntil) {
      if (c.clock.now() >= t) {
        slowUntil.delete(p);
        armed.unslow(p);
        note(`fault point ${p} no longer slowed`);
      }
    }
    if (!slowRand.chance(0.004)) return;
    const up = current().filter((i) => c.members[i] !== null);
    if (up.length === 0) return;
    const member = slowRand.chance(0.5) ? slowRand.pick(up) : undefined;
    const who = member === undefined ? "every member" : c.configs[member].name;
    if (slowRand.chance(0.25)) {
      const count = 1 + slowRand.int(2);
      armed.failDefrags({ member, count });
      note(`fault point defragOpenFileError armed for ${who}: the next ${count} defrags fail`);
      return;
    }
    const point = slowRand.pick(DELAY_POINTS);
    const ms = point === "beforeSendWatchResponse" ? slowRand.range(1, 200) : slowRand.range(1, 40);
    const forMs = slowRand.range(300, 2000);
    armed.slow({ point, member, ms });
    slowUntil.set(point, c.clock.now() + forMs);
    note(`fault point ${point} slowed for ${who}: ${ms} ms a hit, for ${forMs} ms`);
  };

  const faultStep = async () => {
    // (awaited only when there is one: an await more would move the runs without points)
    if (armed.unreaped.length > 0) await reapFired();
    if (!faults || !r.chance(0.04)) return;
    const down = current().filter((i) => c.members[i] === null);
    switch (r.int(8)) {
      case 0: {
        const f = {
          dropRate: r.chance(0.5) ? r.float() * 0.1 : 0,
          duplicateRate: r.chance(0.3) ? r.float() * 0.05 : 0,
          reorderRate: r.chance(0.3) ? r.float() * 0.2 : 0,
          minDelayMs: 1,
          maxDelayMs: 1 + r.int(30),
          snapshotFaultRate: o.snapshotFaults !== false && snapRand.chance(0.4)
            ? 0.2 + snapRand.float() * 0.6
            : 0,
          frameFaultRate: frameFaults && frameSettingRand.chance(0.3)
            ? 0.002 + frameSettingRand.float() * 0.02
            : 0,
        };
        c.net.setFaults(f);
        note(`network faults ${JSON.stringify(f)}`);
        break;
      }
      case 1: {
        const l = c.leader();
        if (l === null) break;
        c.net.isolate(l.id);
        partitions++;
        note(`leader ${l.config.name} isolated`);
        break;
      }
      case 2: {
        const minority = r.shuffle(current()).slice(0, 1 + r.int(maxDown));
        const rest = current().filter((i) => !minority.includes(i)).map((i) => ids[i]);
        const oneWay = r.chance(0.3);
        c.net.partition(minority.map((i) => ids[i]), rest, oneWay);
        partitions++;
        note(
          `partition ${minority.map((i) => c.configs[i].name)} from the rest${
            oneWay ? " (one way)" : ""
          }`,
        );
        break;
      }
      case 3:
        c.net.heal();
        note("network healed");
        break;
      case 4: {
        if (down.length >= maxDown) break;
        const up = current().filter((i) => c.members[i] !== null);
        if (up.length === 0) break; // (a lone member that failed on its full disk)
        const i = up[r.int(up.length)];
        const how = r.chance(0.6) ? "power" : "process";
        note(`crash ${c.configs[i].name} (${how})`);
        const w = watchers[i] ?? null;
        if (w !== null) {
          drain(w);
          w.ended = true;
        }
        watchers[i] = null;
        await c.settle("a crash", c.crashMember(i, how), 30_000);
        crashes++;
        break;
      }
      case 5: {
        if (down.length === 0) break;
        const i = down[r.int(down.length)];
        note(`restart ${c.configs[i].name}`);
        c.disks[i].capacity = Infinity;
        await restart(i);
        break;
      }
      case 6: {
        // one member's disk turns slow (every fsync waits), or fast again
        if (o.slowDisk === false || current().length === 0) break;
        const i = r.pick(current());
        const ms = r.chance(0.6) ? 2 + r.int(40) : 0;
        c.disks[i].slowSync = ms > 0 ? { clock: c.clock, ms } : null;
        note(`disk of ${c.configs[i].name}: fsync ${ms > 0 ? `takes ${ms} ms` : "fast"}`);
        break;
      }
      case 7: {
        // one member's disk fills up a little after what it holds now: the member must fail
        // (it counts as down) and lose no acknowledged write; its space comes back at restart
        if (down.length >= maxDown || o.diskFull === false) break;
        const up = current().filter((i) => c.members[i] !== null);
        if (up.length === 0) break;
        const i = r.pick(up);
        const d = c.disks[i];
        d.capacity = 0;
        const used = -d.room(); // (room is capacity minus the bytes held)
        d.capacity = used + r.int(16 * 1024);
        diskFull.add(i);
        note(`disk of ${c.configs[i].name} full after ${d.room()} more bytes`);
        break;
      }
    }
  };

  await c.until("a first leader", () => c.leader() !== null);
  let leases: LeaseRecord[] = [];
  let members: MembershipRecord = {
    added: 0,
    promoted: 0,
    removed: 0,
    refused: 0,
    joinWaits: 0,
    joinRetries: 0,
    notStarted: 0,
  };
  let moves: TransferRecord = { asked: 0, moved: 0, refused: 0, timedOut: 0 };
  let admin: AdminRecords = { compactions: [], reads: [], defrags: 0, defragFailures: [] };
  /** What the workloads threw (the first one fails the run). */
  const workErrors: unknown[] = [];
  const work = Promise.all([
    ...kv.start(),
    leaseClient(ctx, Math.max(1, Math.floor(opsPerClient / 8))).then((l) => void (leases = l)),
    adminClient(ctx, Math.floor(opsPerClient / 2)).then((a) => void (admin = a)),
    ...(transfers
      ? [
        transferClient(ctx, new Rand(o.seed ^ 0x7a4f), Math.floor(opsPerClient / 4))
          .then((t) => void (moves = t)),
      ]
      : []),
    ...(membership
      ? [
        membershipClient(ctx, {
          removed,
          started: (i, m) => {
            ids[i] = m.id;
            incarnation[i] = 0;
            watch(i, m);
          },
        }, Math.floor(opsPerClient / 4)).then((m) => void (members = m)),
      ]
      : []),
  ]).then(() => {
    done = true;
  }, (e: unknown) => {
    // a workload that threw ends this run as a failure (rethrown below), never the process:
    // unhandled, its rejection ended a whole sweep without naming the seed (defect 16)
    workErrors.push(e);
    done = true;
  });
  const result = (finalRev: number): RunResult => ({
    seed: o.seed,
    size: o.size,
    violations,
    history: kv.history,
    revisions: kv.revisions,
    serialReads: kv.serial.length,
    serialReadsFailed: kv.serialFailed,
    serialReadsWaited: kv.serialWaited,
    watchEvents: allWatchers.reduce(
      (n, w) => n + w.responses.reduce((m, x) => m + x.events.length, 0),
      0,
    ),
    progressNotifications: allWatchers.reduce((n, w) => n + w.progress.length, 0),
    watchers: allWatchers.length,
    leases: leases.length,
    compactions: admin.compactions.length,
    pastReads: admin.reads.length,
    defrags: admin.defrags,
    membership: members,
    transfers: moves,
    crashes,
    fired: armed.fired,
    faultHits: armed.hits,
    delayedHits: armed.delayedHits,
    defragErrors: armed.defragErrors,
    partitions,
    snapshotsDamaged: c.net.snapshotDamage.delivered,
    snapshotsRefused: c.net.snapshotDamage.refused,
    framesCut: c.net.frameDamage.cut,
    framesRefused: c.net.frameDamage.refused,
    lostWithStreams: c.net.frameDamage.lostWithStream,
    finalRev,
    simMs: c.clock.now(),
    trace: mergeTrace(trace, c.log),
  });
  try {
    const limit = c.clock.now() + 120_000;
    while (!done) {
      if (c.clock.now() > limit) {
        throw new Error("clients did not finish within 120 s of simulated time");
      }
      await c.step(5);
      if (armed.unreaped.length > 0) await reapFired();
      drainAll();
      armStep();
      slowStep();
      await faultStep();
      if (r.chance(0.01)) resumeWatch(r.int(c.members.length));
      // a client asks its watch stream for a progress notification (etcd 3.5's
      // RequestProgress); from a rand of its own, so the rest of a seed's run is unchanged
      if (progressRand.chance(0.02)) {
        const w = watchers[progressRand.int(c.members.length)] ?? null;
        if (w !== null && !w.ended) w.stream.requestProgress();
      }
      await takeOutRemoved();
    }
    await work;
    if (workErrors.length > 0) throw workErrors[0];
    armed.disarm(); // (the heal must not crash anyone: `done` already keeps fired ones out)
    if (armed.unreaped.length > 0) await reapFired();
    // heal everything, then the cluster must converge
    c.net.heal();
    c.net.setFaults(DEFAULT_SIM_FAULTS);
    for (const d of c.disks) {
      d.capacity = Infinity;
      d.slowSync = null;
    }
    await takeOutRemoved();
    for (const i of current()) {
      if (c.members[i] === null) await restart(i);
    }
    await takeOutRemoved();
    note("all healed");
    // a write through the leader commits everything before it in its term; a leader change
    // right after the heal (a restarted member's election) fails it, so it is tried again
    for (let attempt = 1;; attempt++) {
      await c.until("a leader after heal", () => c.leader(running()) !== null, 30_000);
      const err = await c.settle(
        "a final write",
        c.leader(running())!.propose({
          kind: RequestKind.Put,
          req: create(PutRequestSchema, { key: enc.encode("sim/final"), value: enc.encode("1") }),
        }).then(() => null, (e: unknown) => e),
        30_000,
      );
      if (err === null) break;
      note(`final write failed (${err instanceof Error ? err.message : err}), attempt ${attempt}`);
      if (attempt === 10) throw err;
    }
    // every lease expires (none is kept alive any more), its keys deleted through raft
    await c.until("every lease expired", () => {
      observe(); // when each lease's keys go, for the bound on how late a lease may expire
      return running().every((m) => m.lessor.size === 0);
    }, 60_000);
    const target = () => c.leader(running())?.appliedIndex ?? -1;
    await c.until(
      "every member applied everything",
      () =>
        running().length === current().length &&
        running().every((m) => m.appliedIndex === target()),
      30_000,
    );
    drainAll();
    await takeOutRemoved();
    const finalRev = c.leader(running())!.store.rev();
    /** The history each watcher must see, per combination of options. */
    const refs = new Map<string, ReturnType<typeof referenceEvents>>();
    const refOf = (w: WatchRecord) => {
      const k = JSON.stringify(w.opts);
      if (!refs.has(k)) refs.set(k, referenceEvents(archive, w.opts));
      return refs.get(k)!;
    };
    const live = (w: WatchRecord) => watchers.includes(w) && !w.ended;
    const lastWanted = (w: WatchRecord) => Math.max(0, ...[...refOf(w).keys()]);
    await c.until("watchers caught up", () => {
      drainAll();
      return allWatchers.every((w) =>
        !live(w) || (w.responses.at(-1)?.events.at(-1)?.rev ?? 0) >= lastWanted(w)
      );
    }, 5_000).catch(() => {}); // a watcher that never caught up is reported by checkWatch below
    const hashes = running().map((m) =>
      `${m.config.name}: rev ${m.store.rev()} hash ${m.store.hashKV(0).hash}`
    );
    if (new Set(running().map((m) => `${m.store.rev()}/${m.store.hashKV(0).hash}`)).size !== 1) {
      violations.push(`members did not converge: ${hashes.join(", ")}`);
    }
    if (archive.rev() !== finalRev) {
      violations.push(
        `the run recorded revisions up to ${archive.rev()}, the leader has ${finalRev}`,
      );
    }
    violations.push(...archive.violations);
    if (c.net.frameDamage.applied > 0) {
      violations.push(
        `${c.net.frameDamage.applied} message frame(s) cut in transit were decoded as messages`,
      );
    }
    if (c.net.snapshotDamage.stored > 0) {
      violations.push(
        `${c.net.snapshotDamage.stored} snapshot(s) damaged in transit were stored by their receiver`,
      );
    }
    const history = kv.answeredHistory();
    const lin = checkLinearizable(dropUnapplied(history, archive));
    if (!lin.ok) violations.push(`not linearizable on key ${lin.key}: ${lin.reason}`);
    violations.push(...checkDurability(history, kv.revisions, archive));
    violations.push(...checkSerializable(kv.serial, archive));
    violations.push(
      ...checkLeases(leases, archive, {
        elections,
        extendMs: c.configs[0].electionTimeoutMs,
        answeredWithinMs: CLIENT_TIMEOUT_MS,
      }),
    );
    violations.push(...checkAdmin(admin, archive));
    const compactRevs = new Set(admin.compactions.map((x) => x.rev));
    const maxCompacted = Math.max(0, ...compactRevs);
    for (const w of allWatchers) {
      violations.push(...checkWatch(w, refOf(w), live(w) ? finalRev : 0, maxCompacted));
      violations.push(...checkCompacted(w, compactRevs));
      violations.push(...checkProgress(w, refOf(w)));
    }
    return result(finalRev);
  } catch (err) {
    violations.push(`run failed: ${err instanceof Error ? err.message : String(err)}`);
    for (const m of c.live) {
      if (m.appliedIndex < m.snapshotIndex) {
        violations.push(
          `${m.config.name}: applied index ${m.appliedIndex} behind its installed snapshot at ` +
            `${m.snapshotIndex} (reads waiting for an index up to it hang until a new entry applies)`,
        );
      }
    }
    violations.push(
      ...c.members.map((m, i) =>
        m === null
          ? `  ${c.configs[i].name}: down`
          : `  ${m.config.name}: applied ${m.appliedIndex} commit ${m.commitIndex} snapshot ` +
            `${m.snapshotIndex} rev ${m.store.rev()} term ${m.term} leader ${
              m.leader.toString(16)
            }` +
            `${m.failure ? ` failed: ${m.failure}` : ""}`
      ),
    );
    return result(-1);
  } finally {
    // stepped: a member's stop may wait on the simulated clock (a slow fsync); unstepped, a
    // run that failed mid-step hung here for good (seed 13000000 before the watch hub's fix)
    for (let i = 0; i < c.members.length; i++) {
      await c.settle("a stop", c.stopMember(i), 30_000).catch((e) =>
        violations.push(`stopping ${c.configs[i].name}: ${errorText(e)}`)
      );
    }
    await c.stop(); // (no member left: ends the stepping channel)
  }
}

function mergeTrace(faults: string[], log: string[]): string[] {
  return [...faults, ...log.slice(-40)];
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
