/**
 * One real-process robustness run (issue 13's real-process variant): three `concord serve`
 * processes whose peer traffic goes through a proxy (`peer_proxy.ts`), KV clients and one
 * watcher per member through lib/client over gRPC, faults from the run's seed
 * (`fault_schedule.ts`: kill -9, SIGSTOP, partitions, drops and delays) and a fault point
 * (`failpoint_arm.ts`: armed at start or over HTTP mid-run; the members snapshot every 100
 * entries so the snapshot points are reached), then everything
 * healed, the members converged (same revision and hashKV), the history of revisions read
 * back from one member (no compaction in a run), and tests/sim's checkers run on the record
 * (`robust_check.ts`). The faults replay from the seed; the timing of a real run does not.
 */
import { Client } from "../../lib/client/mod.ts";
import { ProcessCluster } from "../cluster/processes.ts";
import { freePort } from "../support/etcd.ts";
import { describeFault, inject, planFaults } from "./fault_schedule.ts";
import { HistoryReader } from "./history_reader.ts";
import { LeaseClients } from "./lease_clients.ts";
import { AdminClient } from "./admin_client.ts";
import { unexplainedClosedDefrags } from "./closed_defrags.ts";
import { replaceMember } from "./member_replace.ts";
import { quotaAlarm } from "./quota_alarm.ts";
import { KvClients, Recorder } from "./kv_clients.ts";
import { PeerProxy } from "./peer_proxy.ts";
import { checkRecord, type RunRecord } from "./robust_check.ts";
import { MemberWatcher } from "./watchers.ts";
import { Rand } from "../../lib/base/rand.ts";
import { describePlan, FailpointMonitor, planFailpoint, SNAPSHOT_FLAGS } from "./failpoint_arm.ts";

export interface RunOptions {
  seed: number;
  /** How long faults are injected under load (setup, healing and checks come on top). */
  seconds: number;
  /** KV clients (default 6) and keys they share (default 12). */
  clients?: number;
  keys?: number;
  /** The planted bug of `KvClientsOptions.staleReads` (the checkers must catch it). */
  staleReads?: boolean;
  /** The share of fault steps that replace a member (default 0.08), and one first. */
  replaceShare?: number;
  replaceFirst?: boolean;
  /** The share of fault steps that raise NOSPACE (default 0.05). */
  nospaceShare?: number;
  /** The lease and admin clients' pauses between operations (drawn up to; 500 and 1000 ms). */
  leasePauseMs?: number;
  adminPauseMs?: number;
  /** A fault point armed on one member (failpoint_arm.ts; default true). */
  failpoints?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface RunResult {
  seed: number;
  record: RunRecord;
  violations: string[];
  /** The faults as injected, with when. */
  faults: string[];
  summary: string;
}

/** Runs the cluster under faults and checks the record. */
export async function robustRun(opts: RunOptions): Promise<RunResult> {
  const log = opts.log ?? (() => {});
  const n = 3;
  const listen = Array.from({ length: n }, () => freePort());
  let cluster: ProcessCluster | null = null;
  const proxy = new PeerProxy({
    targets: listen,
    pids: () => cluster?.members.map((m) => m.proc?.pid) ?? [],
  });
  const watchers: MemberWatcher[] = [];
  let kv: KvClients | null = null;
  let admin: Client | null = null;
  let leases: LeaseClients | null = null;
  let adminOps: AdminClient | null = null;
  const faults: string[] = [];
  let progress: ReturnType<typeof setInterval> | undefined;
  let polling: Promise<void> = Promise.resolve();
  let pollStop = false;
  const arm = opts.failpoints === false ? null : planFailpoint(opts.seed, n, opts.seconds);
  let arming: Promise<void> = Promise.resolve();
  const monitor = arm === null
    ? null
    : new FailpointMonitor(arm, () => cluster, () => performance.now());
  try {
    const c = cluster = await ProcessCluster.start("concord", n, {
      // snapshots every 100 entries, catch-up by snapshot past 50: the snapshot points fire
      flags: [...SNAPSHOT_FLAGS],
      listenPeers: listen.map((p) => `http://127.0.0.1:${p}`),
      advertisePeers: proxy.ports.map((p) => `http://127.0.0.1:${p}`),
      // the proxy tells members apart by their pids from the first connection on
      prepare: (pc) => Promise.resolve(void (cluster = pc)),
      env: monitor === null ? undefined : (i, k) => monitor.env(i, k),
      onExit: monitor === null ? undefined : (i, p, e) => monitor.onExit(i, p, e),
    });
    if (arm !== null) log(`  fault point: ${describePlan(arm)}`);
    const endpoints = c.members.map((m) => m.clientUrl);
    admin = new Client({ endpoints, memberDownMs: 500 });
    const a = admin;
    const leaderOf = async () => {
      for (let i = 0; i < n; i++) {
        if (c.members[i].proc === null || c.members[i].paused) continue;
        try {
          const s = await a.maintenance.status({ endpoint: endpoints[i], timeoutMs: 1000 });
          if (s.leader !== 0n && s.leader === s.header?.memberId) return i;
        } catch {
          // down or between leaders
        }
      }
      return -1;
    };
    const wr = new Rand(opts.seed ^ 0x5bd1e995);
    for (let i = 0; i < n; i++) {
      const prevKv = wr.chance(0.5);
      const wopts = { prevKv, noPut: false, noDelete: false };
      // the last one lags 3-6 s at each reopen: compactions pass it (compacted responses)
      const lagMs = i === n - 1 ? wr.range(3000, 6000) : 0;
      watchers.push(new MemberWatcher(endpoints, i, "k/", wopts, wr.range(2000, 6000), lagMs));
    }
    const rec = new Recorder();
    kv = new KvClients(rec, {
      endpoints,
      incarnation: (m) => c.members[m].logs.length,
      seed: opts.seed,
      clients: opts.clients ?? 6,
      keys: opts.keys ?? 12,
      timeoutMs: 2000,
      staleReads: opts.staleReads,
    });
    const reader = new HistoryReader(a);
    leases = new LeaseClients(rec, {
      endpoints,
      seed: opts.seed,
      timeoutMs: 2000,
      pauseMs: opts.leasePauseMs ?? 500,
    });
    adminOps = new AdminClient(rec, reader, {
      endpoints,
      seed: opts.seed,
      timeoutMs: 2000,
      pauseMs: opts.adminPauseMs ?? 1000,
      behind: 50,
    });
    // leader elections, as seen (a new leader gives every lease its TTL again): the term,
    // polled; each fault's start and end count too
    const elections: number[] = [];
    polling = (async () => {
      let term = 0n;
      while (!pollStop) {
        const terms = await Promise.all(
          endpoints.map((endpoint) =>
            a.maintenance.status({ endpoint, timeoutMs: 500 }).then((s) => s.raftTerm, () => 0n)
          ),
        );
        const top = terms.reduce((x, y) => x > y ? x : y, 0n);
        if (top > term) {
          if (term > 0n) elections.push(rec.ms());
          term = top;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    log(
      `seed=${opts.seed}: 3 members up, ${opts.clients ?? 6} clients, 3 watchers, ` +
        `a lease client, an admin client`,
    );

    // progress requests now and then, as a client waiting for its watch to catch up makes
    progress = setInterval(() => {
      for (const w of watchers) w.requestProgress();
    }, 700);
    const deadline = performance.now() + opts.seconds * 1000;
    // an HTTP plan arms its points a while after the traffic started, as etcd's robustness does
    if (monitor !== null) arming = monitor.armOverHttp(performance.now(), deadline);
    const actions = {
      replace: (m: number) => replaceMember(c, a, m, `http://127.0.0.1:${proxy.ports[m]}`),
      nospace: (m: number, ms: number) => quotaAlarm(c, a, m, ms),
    };
    const plan = planFaults(opts.seed, opts.seconds, n, {
      replaceShare: opts.replaceShare,
      replaceFirst: opts.replaceFirst,
      nospaceShare: opts.nospaceShare,
    });
    for (const step of plan) {
      const wait = Math.min(step.gapMs, deadline - performance.now());
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (performance.now() >= deadline) break;
      const at = rec.ms();
      elections.push(at);
      const who = await inject(step.fault, c, proxy, leaderOf, actions);
      elections.push(rec.ms());
      const line = `${at} ms: ${describeFault(step.fault)}${who}, healed by ${rec.ms()} ms`;
      faults.push(line);
      log(`  ${line}`);
    }
    monitor?.endFaults();
    clearInterval(progress);
    await kv.stop();
    log(`  clients stopped at ${rec.ms()} ms`);
    if (arm !== null) {
      await arming;
      const f = monitor!.fired;
      const ms = (t: number) => Math.round(t - rec.t0);
      for (const [i, a] of monitor!.httpArms) {
        const line = "at" in a
          ? `${ms(a.at)} ms: m${i + 1}'s fault point armed over HTTP (${arm.specs[i]})`
          : `m${i + 1}'s fault point never armed over HTTP (${arm.specs[i]}): ${a.failed}`;
        faults.push(line);
        log(`  ${line}`);
      }
      const armedMain = arm.httpAtMs === null || "at" in (monitor!.httpArms.get(arm.member) ?? {});
      const line = !armedMain
        ? `fault point ${arm.point} never armed on m${arm.member + 1}`
        : f === null
        ? `fault point ${arm.point} armed on m${arm.member + 1}, not reached ${arm.after + 1} times`
        : `${ms(f.at)} ms: m${arm.member + 1} died at fault point ${arm.point}, restarted ` +
          (f.restartedAt === null
            ? "by the harness (a fault of the schedule, or the heal)"
            : `at ${ms(f.restartedAt)} ms`);
      faults.push(line);
      log(`  ${line}`);
      // a member that died at a point may have led: its death and restart are fault edges
      if (f !== null) elections.push(ms(f.at), ms(f.restartedAt ?? performance.now()));
    }

    // heal everything, then the members must converge
    proxy.heal();
    for (let i = 0; i < n; i++) {
      if (c.members[i].paused) await c.signal(i, "SIGCONT");
      if (c.members[i].proc === null) c.spawn(i);
    }
    await Promise.all(c.members.map((_, i) => c.waitHealthy(i, 60_000)));
    elections.push(rec.ms());
    // the lease client ends its lease (its keys gone), the admin client its operation
    await leases.stop();
    await adminOps.stop();
    pollStop = true;
    await polling;
    log(`  lease and admin clients stopped at ${rec.ms()} ms`);
    const problems: string[] = [];
    const finalRev = await converge(a, endpoints, 60_000).catch((err) => {
      problems.push(String(err));
      return -1;
    });
    for (const w of watchers) {
      if (finalRev > 0 && !await w.reach(finalRev, 30_000)) {
        problems.push(`${w.log.name} reached only revision ${w.log.lastRev} of ${finalRev}`);
      }
    }
    for (const w of watchers) await w.stop();
    await reader.catchUp(Math.max(finalRev, 1));
    // the members' logs are whole once they stopped: they explain defrags closed under them
    await monitor?.stop();
    await a.close();
    admin = null;
    await c.stop();
    problems.push(
      ...await unexplainedClosedDefrags(adminOps.defragsClosed, (m) => c.members[m].logs),
    );
    const history = reader.history;
    problems.push(...history.defects);
    problems.push(...adminOps.hashMismatches);
    const record: RunRecord = {
      ops: rec.ops,
      revs: rec.revs,
      serial: rec.serial,
      watches: watchers.map((w) => w.log),
      history,
      finalRev,
      problems,
      leases: leases.leases,
      leaseTimings: leases.timings,
      elections,
      answeredWithinMs: Math.max(leases.longestAnsweredMs, 2000),
      electionTimeoutMs: 1000,
      admin: adminOps.records,
    };
    const t = performance.now();
    const violations = checkRecord(record);
    const checkMs = Math.round(performance.now() - t);
    const unknown = rec.ops.filter((o) => o.ret === null).length;
    const events = record.watches.map((w) =>
      `${
        w.responses.reduce((s, r) => s + r.events.length, 0)
      } (${w.resumes} resumed, ${w.reopened} reopened, ${w.compacted.length} compacted, ${w.progress.length} progress)`
    ).join(", ");
    const noSpace = kv.failures.get("etcdserver: mvcc: database space exceeded") ?? 0;
    const summary = `seed=${opts.seed}: ${rec.ops.length} ops (${unknown} unknown, ` +
      `${noSpace} refused as NOSPACE), ` +
      `${rec.serial.length} serializable reads, ${faults.length} faults, final revision ` +
      `${finalRev}, ${elections.length} fault edges and term changes, watch events ${events}, ${
        leaseLine(leases)
      }, ${adminLine(adminOps)}, ` +
      `proxy connections ${proxy.connections} ` +
      `(${proxy.gone} closed at once, ${proxy.unidentified} unidentified), checked in ${checkMs} ms: ` +
      (violations.length === 0 ? "ok" : `${violations.length} violations`);
    log(summary);
    return { seed: opts.seed, record, violations, faults, summary };
  } finally {
    await monitor?.stop();
    // awaited above on the way through; here only after another failure, which is the one told
    await arming.catch(() => {});
    clearInterval(progress);
    pollStop = true;
    await polling;
    await kv?.stop();
    await leases?.stop();
    await adminOps?.stop();
    for (const w of watchers) await w.stop();
    await admin?.close();
    await cluster?.stop();
    await proxy.close();
  }
}

/** The lease client's part of the summary. */
function leaseLine(l: LeaseClients): string {
  const ls = l.leases;
  const renewals = ls.reduce((s, x) => s + x.renewedAtMs.length, 0);
  return `${ls.length} leases (${ls.filter((x) => x.granted).length} granted, ` +
    `${ls.filter((x) => x.revokeRev !== null).length} revoked, ${renewals} keep-alives)`;
}

/** The admin client's part of the summary. */
function adminLine(a: AdminClient): string {
  const r = a.records;
  const ok = r.compactions.filter((c) => c.ret !== null && c.error === null).length;
  const compactedReads = r.reads.filter((x) => "error" in x.outcome).length;
  return `${r.compactions.length} compactions (${ok} ok), ${r.defrags} defrags ` +
    `(${a.defragsUnreachable} unreachable, ${a.defragsClosed.length} closed under them, ` +
    `${a.hashChecks} hashKV checks), ` +
    `${r.reads.length} past reads (${compactedReads} compacted or future)`;
}

/** Waits until every member is at one revision with one hashKV there; returns it. */
async function converge(c: Client, endpoints: string[], timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    const seen: string[] = [];
    try {
      for (const endpoint of endpoints) {
        const s = await c.maintenance.status({ endpoint, timeoutMs: 2000 });
        const rev = s.header!.revision;
        const h = await c.maintenance.hashKV(rev, { endpoint, timeoutMs: 5000 });
        seen.push(`${rev}:${h.hash}`);
      }
      if (new Set(seen).size === 1) return Number(seen[0].split(":")[0]);
      last = seen.join(" ");
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline) throw new Error(`members never converged: ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
