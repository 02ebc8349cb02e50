/**
 * One seeded whole-cluster run: real members over the simulated network, disks and clock;
 * clients issuing puts, linearizable and serializable gets, deletes and compare-and-swap txns
 * through random members with client-side timeouts; network faults (drops, delays, duplicates,
 * reorders, a minority or the leader partitioned, one-way cuts) and member crashes (power loss
 * or kill -9, then a restart on the same disk); everything healed at the end. Then the checks:
 * linearizability of the KV history, durability of acknowledged writes, convergence (same
 * hashKV at the same revision everywhere), serializable reads. Every choice comes from the
 * seed, so a run replays exactly.
 *
 * This file is the run loop; its options and result are in cluster_run_options.ts, its
 * watchers in cluster_watchers.ts, its fault menu in cluster_fault_menu.ts and its checks at
 * the end in cluster_final_checks.ts.
 */
import { create } from "@bufbuild/protobuf";
import { Rand } from "../../lib/base/rand.ts";
import type { Member } from "../../lib/server/member.ts";
import { RequestKind } from "../../lib/server/request.ts";
import { PutRequestSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { DEFAULT_SIM_FAULTS } from "../../lib/transport/sim_network.ts";
import { SimCluster } from "../cluster/sim_cluster.ts";
import { KvClients } from "./kv_workload.ts";
import type { WatchRecord } from "./watch_check.ts";
import { HistoryArchive } from "./history_archive.ts";
import { errorText, isBackendFailure, type RunContext } from "./run_context.ts";
import { leaseClient, type LeaseRecord } from "./lease_workload.ts";
import { adminClient, type AdminRecords } from "./compaction_workload.ts";
import { membershipClient, type MembershipRecord } from "./membership_workload.ts";
import { transferClient, type TransferRecord } from "./transfer_workload.ts";
import { simMembersFetcher } from "../cluster/sim_join.ts";
import { ArmedFaults } from "./armed_faults.ts";
import type { RunOptions, RunResult } from "./cluster_run_options.ts";
import { RunWatchers } from "./cluster_watchers.ts";
import { type FaultCounts, FaultMenu } from "./cluster_fault_menu.ts";
import { describeMembers, finalChecks, watchReferences } from "./cluster_final_checks.ts";

const enc = new TextEncoder();

const CLIENT_TIMEOUT_MS = 1500;

/** Runs one seed to the end and checks it; violations are returned, not thrown. */
export async function runCluster(o: RunOptions): Promise<RunResult> {
  const r = new Rand(o.seed ^ 0x5eed);
  const progressRand = new Rand(o.seed ^ 0x9e0c);
  /** The planted watch bug's draws, from a rand of their own. */
  const watchBugRand = new Rand(o.seed ^ 0x3b71);
  const faults = o.faults ?? true;
  const membership = (o.membership ?? true) && o.size > 1 && faults;
  const transfers = (o.transfers ?? true) && o.size > 1 && faults;
  const failpoints = (o.failpoints ?? true) && faults;
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
  const counts: FaultCounts = { crashes: 0, partitions: 0 };
  const violations: string[] = [];
  const archive = new HistoryArchive();
  const watchers = new RunWatchers({
    c,
    r,
    size: o.size,
    bug: o.bug,
    watchBugRand,
    incarnation: (i) => incarnation[i],
  });
  const watch = (i: number, m: Member, resumeAt?: number) => watchers.watch(i, m, resumeAt);
  c.members.forEach((m, i) => watch(i, m!));
  if (o.slowDiskAtStart === true) {
    for (const d of c.disks) d.slowSync = { clock: c.clock, ms: 2 + r.int(40) };
  }
  /** Takes the watchers' responses and records what the members applied. */
  const drainAll = () => {
    watchers.drainAll();
    observe();
  };
  /**
   * When a leader's lessor became primary (it extends every lease then: checkLeases). A new
   * leader promotes its lessor when it applies its own term's first entry, as etcd's does, so
   * a leader elected without a quorum expires nothing until it has one again (seed 41004706).
   */
  const promotions: number[] = [];
  /** Spans with no primary lessor on any live member (see LeaseTimes.unprimary). */
  const unprimary: [number, number][] = [];
  let unprimarySince: number | null = 0;
  const wasPrimary = new Map<Member, boolean>();
  /** Records what the members applied, and lessor promotions; changes nothing. */
  const observe = () => {
    let anyPrimary = false;
    for (const m of c.live) {
      // a failed member's store is not readable (its backend failed), nor the store a member
      // is replacing with a snapshot's (closed under it); the others record the history
      if (m.failure !== null) continue;
      const primary = m.isLeader && m.lessor.isPrimary;
      if (primary && !wasPrimary.get(m)) promotions.push(c.clock.now());
      wasPrimary.set(m, primary);
      anyPrimary ||= primary;
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
    const now = c.clock.now();
    if (anyPrimary && unprimarySince !== null) {
      unprimary.push([unprimarySince, now]);
      unprimarySince = null;
    } else if (!anyPrimary && unprimarySince === null) unprimarySince = now;
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
        watchers.end(i);
        await c.settle("a stop", c.stopMember(i), 30_000);
        continue;
      }
      const why = errorText(m.failure);
      if (diskFull.has(i) && why.includes("no space left on device")) {
        // a member that stopped on a full disk is down, as after a crash: restarted later
        note(`${m.config.name} stopped: ${why}`);
        watchers.end(i);
        await c.settle("a crash", c.crashMember(i, "process"), 30_000);
        counts.crashes++;
        continue;
      }
      if (why !== "the member has been permanently removed from the cluster") {
        violations.push(`${m.config.name} failed: ${why}`);
      }
      note(`${m.config.name} stopped: ${why}`);
      removed.add(i);
      watchers.end(i);
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
  const menu = new FaultMenu({
    c,
    o,
    r,
    armed,
    watchers,
    counts,
    diskFull,
    ids,
    maxDown,
    current,
    restart,
    note,
  });
  if (o.failpoint !== undefined) armed.arm(o.failpoint);

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
    watchEvents: watchers.all.reduce(
      (n, w) => n + w.responses.reduce((m, x) => m + x.events.length, 0),
      0,
    ),
    progressNotifications: watchers.all.reduce((n, w) => n + w.progress.length, 0),
    watchers: watchers.all.length,
    leases: leases.length,
    compactions: admin.compactions.length,
    pastReads: admin.reads.length,
    defrags: admin.defrags,
    membership: members,
    transfers: moves,
    crashes: counts.crashes,
    fired: armed.fired,
    faultHits: armed.hits,
    delayedHits: armed.delayedHits,
    defragErrors: armed.defragErrors,
    partitions: counts.partitions,
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
      if (armed.unreaped.length > 0) await menu.reapFired();
      drainAll();
      menu.armStep();
      menu.slowStep();
      await menu.faultStep();
      if (r.chance(0.01)) watchers.resume(r.int(c.members.length));
      // a client asks its watch stream for a progress notification (etcd 3.5's
      // RequestProgress); from a rand of its own, so the rest of a seed's run is unchanged
      if (progressRand.chance(0.02)) {
        const w = watchers.of(progressRand.int(c.members.length));
        if (w !== null && !w.ended) w.stream.requestProgress();
      }
      await takeOutRemoved();
    }
    await work;
    if (workErrors.length > 0) throw workErrors[0];
    armed.disarm(); // (the heal must not crash anyone: `done` already keeps fired ones out)
    if (armed.unreaped.length > 0) await menu.reapFired();
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
    const refOf = watchReferences(archive);
    const live = (w: WatchRecord) => watchers.current.includes(w) && !w.ended;
    const lastWanted = (w: WatchRecord) => Math.max(0, ...[...refOf(w).keys()]);
    await c.until("watchers caught up", () => {
      drainAll();
      return watchers.all.every((w) =>
        !live(w) || (w.responses.at(-1)?.events.at(-1)?.rev ?? 0) >= lastWanted(w)
      );
    }, 5_000).catch(() => {}); // a watcher that never caught up is reported by checkWatch below
    finalChecks({
      c,
      running,
      archive,
      finalRev,
      kv,
      leases,
      admin,
      promotions,
      unprimary: unprimarySince === null ? unprimary : [...unprimary, [unprimarySince, Infinity]],
      clientTimeoutMs: CLIENT_TIMEOUT_MS,
      watchers: watchers.all,
      refOf,
      live,
    }, violations);
    return result(finalRev);
  } catch (err) {
    violations.push(`run failed: ${err instanceof Error ? err.message : String(err)}`);
    violations.push(...describeMembers(c));
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
