/**
 * `deno task bench:compare`: runs the same etcd-benchmark-style workloads against Debian's etcd
 * 3.4 and against `concord serve` on this machine in one run, and prints Concord/etcd ratios
 * beside the issue's targets, peak RSS (VmHWM) of each server, and the CPU of the load
 * generator and of each server per request, so a reader can tell which side limited a figure.
 *
 *   deno task bench:compare [--scale=0.5] [--only=put-1,range-s] [--etcd-only]
 *                           [--transport=h2|fetch|connect]   (the generator's unary client)
 *                           [--warmup=0.2]   (unmeasured pass first, as a fraction of totals)
 *                           [--rounds=3]     (each workload in N alternating slices)
 *                           [--members=3]    (a cluster of 3 (or 5) members of each server)
 *                           [--cpu-prof=DIR] (Concord's members write V8 CPU profiles there)
 *
 * Cluster mode (`--members=3`): three etcd 3.4 members and three `concord serve` members, each
 * started with etcd's flags (bench/cluster.ts; --initial-cluster naming all three) and all six
 * up for the whole run; every generator gets `--endpoints` with all three client URLs of the
 * server, and spreads its `--conns` over them round-robin. It runs put-1, put-1000, range-l and
 * range-s unless `--only` says otherwise, judges put-1000 and range-l against issue 11's
 * targets (>= 1.0x etcd), and prints the CPU of each member per workload and the peak RSS of
 * each member, naming the leader.
 *
 * Concord runs as `deno task start` runs it: the same `--v8-flags` (read from deno.json's
 * `start` task, so the benchmark cannot drift from what users run).
 *
 * Warm-up: before the measured pass, every selected workload runs once against each server at
 * `--warmup` times its total, unmeasured (etcd first, as in the measured pass). A freshly
 * started V8 runs its first few thousand requests in the interpreter and baseline tiers, so
 * without it the first workload measures Concord's JIT warm-up rather than its steady state;
 * `--warmup=0` measures the cold server. Peak RSS covers the whole run, warm-up included.
 *
 * Rounds: with `--rounds=N` each workload runs as N slices of total/N requests, alternating
 * etcd, Concord, etcd, Concord, … so that drift of the machine during the run (the disk's
 * fsync latency moves by 30% within minutes here) lands on both servers alike. A server's
 * req/s is then all its requests over all its slices' time, its CPU per request likewise
 * summed, and p50/p99 the median of the slices' values.
 *
 * Each workload runs in its own load-generator process (bench/loadgen/main.ts --json): Deno's
 * node:http2 client can abort the process on a server GOAWAY, and a crash there is reported as
 * that workload's failure, not the end of the comparison. The generator exits (closing its
 * sessions) before any server is stopped. Both servers stay up for the whole run and each
 * workload runs against etcd, then Concord, so slow drift of the machine hits both alike.
 */

import { BenchCluster, etcdctl, startTaskEnv, startTaskV8Flags } from "./cluster.ts";
import type { LoadgenResult } from "./loadgen/main.ts";
import {
  COMMON,
  DENO,
  loadgenFailure,
  loadgenResult,
  ROOT,
  scaleTotal,
  spawnLoadgen,
} from "./support/loadgen_process.ts";

/**
 * One workload of the comparison, with the issue's target ratio if it sets one (`target` for
 * one member, `clusterTarget` for `--members=3`; issue 11 sets 1.0 for put-1000 and range-l).
 */
export interface Workload {
  name: string;
  args: string[];
  target?: number;
  clusterTarget?: number;
}

export const WORKLOADS: Workload[] = [
  { name: "put-1", args: ["put", "--clients=1", "--conns=1", "--total=5000"], target: 1.0 },
  {
    name: "put-1000",
    args: ["put", "--clients=1000", "--conns=100", "--total=50000"],
    target: 0.5,
    clusterTarget: 1.0,
  },
  {
    name: "range-l",
    args: ["range", "foo", "--consistency=l", "--clients=100", "--conns=10", "--total=40000"],
    target: 0.5,
    clusterTarget: 1.0,
  },
  {
    name: "range-s",
    args: ["range", "foo", "--consistency=s", "--clients=100", "--conns=10", "--total=40000"],
    target: 0.5,
  },
  {
    name: "txn-put",
    args: ["txn-put", "--txn-ops=4", "--clients=100", "--conns=10", "--total=10000"],
  },
  {
    name: "lease-keepalive",
    args: ["lease-keepalive", "--clients=100", "--conns=10", "--total=20000"],
  },
  {
    name: "watch",
    args: ["watch", "--clients=10", "--watch-per-stream=10", "--conns=10", "--total=500"],
  },
  {
    // the issue's "paced 2,000 puts/s to 100 watchers", as etcd's watch-latency runs it (puts
    // one after another under a limiter whose burst is the rate, so a slice of 1,000 puts is
    // not held back; latency = put answered -> event): req/s = events delivered/s
    name: "watch-paced",
    args: [
      "watch",
      "--clients=10",
      "--watch-per-stream=10",
      "--conns=10",
      "--total=3000",
      "--put-rate=2000",
    ],
  },
];
const RSS_TARGET = 1.5;
/** The workloads `--members=N>1` runs unless `--only` names others. */
const CLUSTER_DEFAULT = ["put-1", "put-1000", "range-l", "range-s"];

/** What a workload's outcome keeps of the generator's result (slices combine into one). */
type GenResult = Pick<
  LoadgenResult,
  | "count"
  | "errors"
  | "errorKinds"
  | "totalSeconds"
  | "rps"
  | "average"
  | "p50"
  | "p99"
  | "cpuPerRequestUs"
  | "cpuShare"
>;

/** Several slices of one workload against one server, combined (see the module comment). */
function combine(slices: Outcome[]): Outcome {
  const bad = slices.find((o) => !o.ok);
  if (bad !== undefined || slices.length === 1) return bad ?? slices[0];
  const ok = slices as Extract<Outcome, { ok: true }>[];
  const sum = (f: (o: Extract<Outcome, { ok: true }>) => number) =>
    ok.reduce((n, o) => n + f(o), 0);
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const count = sum((o) => o.gen.count);
  const seconds = sum((o) => o.gen.totalSeconds);
  const errorKinds: Record<string, number> = {};
  for (const o of ok) {
    for (const [k, v] of Object.entries(o.gen.errorKinds)) errorKinds[k] = (errorKinds[k] ?? 0) + v;
  }
  return {
    ok: true,
    gen: {
      count,
      errors: sum((o) => o.gen.errors),
      errorKinds,
      totalSeconds: seconds,
      rps: count / seconds,
      average: sum((o) => o.gen.average * o.gen.count) / count,
      p50: median(ok.map((o) => o.gen.p50)),
      p99: median(ok.map((o) => o.gen.p99)),
      cpuPerRequestUs: sum((o) => o.gen.cpuPerRequestUs * o.gen.count) / count,
      cpuShare: sum((o) => o.gen.cpuShare * o.gen.totalSeconds) / seconds,
    },
    serverCpuUs: sum((o) => o.serverCpuUs * o.gen.count) / count,
    serverCores: sum((o) => o.serverCores * o.gen.totalSeconds) / seconds,
    memberCores: ok[0].memberCores.map((_, i) =>
      sum((o) => o.memberCores[i] * o.gen.totalSeconds) / seconds
    ),
  };
}

/**
 * A workload's outcome against one server. serverCpuUs and serverCores are summed over its
 * members; memberCores[i] is member i's CPU seconds per wall second.
 */
type Outcome =
  | {
    ok: true;
    gen: GenResult;
    serverCpuUs: number;
    serverCores: number;
    memberCores: number[];
  }
  | { ok: false; why: string };

async function runWorkload(
  s: BenchCluster,
  w: Workload,
  scale: number,
  transport: string,
): Promise<Outcome> {
  const cpu0 = s.cpuSeconds();
  const gen = spawnLoadgen({
    args: [...scaleTotal(w.args, scale), ...COMMON, `--transport=${transport}`],
    endpoints: s.endpoints,
    json: true,
  });
  const timer = setTimeout(() => gen.kill("SIGKILL"), 300_000);
  const out = await gen.output();
  clearTimeout(timer);
  const cpu1 = s.cpuSeconds();
  const failure = loadgenFailure(out);
  if (failure !== undefined) return { ok: false, why: failure };
  let g: GenResult;
  try {
    g = loadgenResult(new TextDecoder().decode(out.stdout));
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  }
  const used = cpu1.map((c, i) => c - cpu0[i]);
  const total = used.reduce((a, b) => a + b, 0);
  return {
    ok: true,
    gen: g,
    serverCpuUs: g.count > 0 ? (total / g.count) * 1e6 : 0,
    serverCores: total / g.totalSeconds,
    memberCores: used.map((u) => u / g.totalSeconds),
  };
}

/** Names the resource that most plausibly limited a run on this 2-core machine. */
function bottleneck(o: Outcome, serverThreads: "one" | "many"): string {
  if (!o.ok) return "-";
  const gen = o.gen.cpuShare;
  const srv = o.serverCores;
  if (gen >= 0.7) return "generator CPU";
  if (serverThreads === "one" && Math.max(...o.memberCores) >= 0.85) {
    return "server CPU (1 thread)";
  }
  if (gen + srv >= 1.7) return "both cores busy";
  return "latency (fsync / round trips)";
}

function fmt(n: number, d = 0): string {
  return Number.isFinite(n) ? n.toFixed(d) : "-";
}

/** bench:compare's command line. */
export interface CompareFlags {
  scale: number;
  only?: Set<string>;
  etcdOnly: boolean;
  transport: string;
  warmup: number;
  rounds: number;
  /** Members per server: 1, or a cluster of 3 (or 5) of each. */
  members: number;
  /** Where Concord's members write V8 CPU profiles (deno --cpu-prof), if anywhere. */
  cpuProfDir?: string;
}

/** Parses bench:compare's flags; throws on unknown flags and bad values. */
export function parseFlags(argv: string[]): CompareFlags {
  let scale = 1;
  let members = 1;
  let cpuProfDir: string | undefined;
  let warmup = 0.2;
  let rounds = 3;
  let transport = "h2";
  let only: Set<string> | undefined;
  let etcdOnly = false;
  for (const a of argv) {
    if (a.startsWith("--scale=")) scale = Number(a.slice(8));
    else if (a.startsWith("--only=")) only = new Set(a.slice(7).split(","));
    else if (a === "--etcd-only") etcdOnly = true;
    else if (a.startsWith("--transport=")) transport = a.slice(12);
    else if (a.startsWith("--warmup=")) warmup = Number(a.slice(9));
    else if (a.startsWith("--rounds=")) rounds = Number(a.slice(9));
    else if (a.startsWith("--members=")) members = Number(a.slice(10));
    else if (a.startsWith("--cpu-prof=")) cpuProfDir = a.slice(11);
    else {
      throw new Error(
        `unknown flag ${a} (flags: --scale=X --only=a,b --etcd-only --transport=h2|fetch|connect --warmup=F --rounds=N --members=1|3|5 --cpu-prof=DIR)`,
      );
    }
  }
  if (![1, 3, 5].includes(members)) throw new Error("--members must be 1, 3 or 5");
  if (cpuProfDir === "") throw new Error("--cpu-prof needs a directory");
  const names = new Set(WORKLOADS.map((w) => w.name));
  for (const n of only ?? []) {
    if (!names.has(n)) throw new Error(`--only: no workload ${n} (${[...names].join(", ")})`);
  }
  if (only === undefined && members > 1) only = new Set(CLUSTER_DEFAULT);
  if (!(scale > 0)) throw new Error("--scale must be > 0");
  if (!(warmup >= 0)) throw new Error("--warmup must be >= 0");
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error("--rounds must be an integer >= 1");
  if (!["h2", "fetch", "connect"].includes(transport)) {
    throw new Error("--transport must be h2, fetch or connect");
  }
  return { scale, only, etcdOnly, transport, warmup, rounds, members, cpuProfDir };
}

/** Starts one server's members; a Concord that does not come up is reported, not fatal. */
async function startSide(
  kind: "etcd" | "concord",
  flags: CompareFlags,
  logDir: string,
  v8Flags: string[],
  started: BenchCluster[],
): Promise<BenchCluster | undefined> {
  const { cluster, error } = kind === "etcd"
    ? await BenchCluster.start("etcd", flags.members, "etcd", [], logDir, ROOT, () => [
      "--logger=zap",
      "--log-level=error",
    ])
    : await BenchCluster.start(
      "concord",
      flags.members,
      DENO,
      [
        "run",
        "-A",
        ...v8Flags,
        ...(flags.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${flags.cpuProfDir}`] : []),
        "main.ts",
        "serve",
      ],
      logDir,
      ROOT,
      undefined,
      startTaskEnv(),
    );
  started.push(cluster);
  if (kind === "etcd" && error) throw new Error(`etcd did not start: ${error}`);
  if (error) {
    console.log(`concord serve not available: ${error}`);
    return undefined;
  }
  const out = await etcdctl(cluster.endpoints, ["put", "foo", "bar"]);
  if (!out.success) throw new Error(`${kind}: put foo failed`);
  return cluster;
}

/** "m1 (leader)" style labels of a cluster's members, or the lone member's name. */
async function memberLabels(c: BenchCluster): Promise<string[]> {
  const leader = c.members.length > 1 ? await c.leader() : -1;
  return c.members.map((m, i) => (i === leader ? `${m.name} (leader)` : m.name));
}

async function main(): Promise<number> {
  const flags = parseFlags(Deno.args);
  const cluster = flags.members > 1;
  const workloads = WORKLOADS.filter((w) => !flags.only || flags.only.has(w.name));
  const ver = await new Deno.Command("etcd", { args: ["--version"], stdout: "piped" }).output();
  const head = await new Deno.Command("git", {
    args: ["rev-parse", "--short", "HEAD"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).output();
  console.log(
    `${new TextDecoder().decode(ver.stdout).split("\n")[0]}; concord at git ${
      new TextDecoder().decode(head.stdout).trim() || "?"
    } (plus uncommitted changes in the tree, if any)`,
  );
  const logDir = await Deno.makeTempDir({ prefix: "concord-compare-logs-" });
  console.log(
    `bench:compare on ${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, ${flags.members} member(s) per server, scale ${flags.scale}, generator client ${flags.transport}, warm-up ${flags.warmup}, rounds ${flags.rounds}; load average at start ${loadAverage()}`,
  );
  const v8Flags = startTaskV8Flags();
  console.log(
    `concord runs as deno.json's start task: ${
      Object.entries(startTaskEnv()).map(([k, v]) => `${k}=${v} `).join("")
    }deno run -A ${v8Flags.join(" ")} main.ts serve`,
  );
  const servers: BenchCluster[] = [];
  try {
    const etcd = (await startSide("etcd", flags, logDir, v8Flags, servers))!;
    const concord = flags.etcdOnly
      ? undefined
      : await startSide("concord", flags, logDir, v8Flags, servers);
    if (flags.etcdOnly) console.log("concord serve not run (--etcd-only)");
    const labels = {
      etcd: await memberLabels(etcd),
      concord: concord ? await memberLabels(concord) : [],
    };
    if (cluster) {
      console.log(
        `members: etcd ${labels.etcd.join(", ")}; concord ${labels.concord.join(", ")}`,
      );
    }
    if (concord && flags.cpuProfDir) {
      console.log(
        `concord CPU profiles go to ${flags.cpuProfDir} (CPU.<time>.<pid>.cpuprofile) when the members stop; pids ${
          concord.members.map((m, i) => `${labels.concord[i]} ${m.proc.pid}`).join(", ")
        }; summarize with deno run -A bench/cpuprofile_top.ts <file>`,
      );
    }
    if (flags.warmup > 0) {
      for (const w of workloads) {
        for (const s of [etcd, concord]) {
          if (!s) continue;
          const o = await runWorkload(s, w, flags.scale * flags.warmup, flags.transport);
          if (!o.ok) console.log(`warm-up ${w.name} on ${s.name}: ${o.why}`);
        }
      }
      console.log(`warm-up done (${flags.warmup} of each total, unmeasured)`);
    }
    const rows: string[] = [];
    const memberRows: string[] = [];
    for (const w of workloads) {
      const es: Outcome[] = [];
      const cs: Outcome[] = [];
      for (let r = 0; r < flags.rounds; r++) {
        const slice = flags.scale / flags.rounds;
        es.push(await runWorkload(etcd, w, slice, flags.transport));
        if (concord) cs.push(await runWorkload(concord, w, slice, flags.transport));
      }
      const e = combine(es);
      const c = concord ? combine(cs) : undefined;
      const ratio = e.ok && c?.ok ? c.gen.rps / e.gen.rps : NaN;
      const target = cluster ? w.clusterTarget : w.target;
      const verdict = target === undefined || !Number.isFinite(ratio)
        ? ""
        : ratio >= target
        ? "met"
        : "MISSED";
      const side = (o: Outcome | undefined, threads: "one" | "many") =>
        !o
          ? "| - | - | - | - | - | - "
          : !o.ok
          ? `| FAILED: ${o.why} | - | - | - | - | - `
          : `| ${fmt(o.gen.rps)}${o.gen.errors ? ` (${o.gen.errors} errors)` : ""} | ${
            fmt(o.gen.p50 * 1e3, 2)
          }/${fmt(o.gen.p99 * 1e3, 2)} | ${fmt(o.gen.cpuPerRequestUs)} µs, ${
            fmt(o.gen.cpuShare * 100)
          }% | ${fmt(o.serverCpuUs)} µs, ${fmt(o.serverCores * 100)}% | ${bottleneck(o, threads)} `;
      rows.push(
        `| ${w.name} ${side(e, "many")}${side(c, "one")}| ${fmt(ratio, 2)} | ${
          target ? `>= ${target}` : ""
        } ${verdict} |`,
      );
      const cores = (o: Outcome | undefined, names: string[]) =>
        o?.ok ? o.memberCores.map((x, i) => `${names[i]} ${fmt(x * 100)}%`).join(", ") : "-";
      memberRows.push(
        `| ${w.name} | ${cores(e, labels.etcd)} | ${cores(c, labels.concord)} |`,
      );
      console.log(
        `${w.name}: etcd ${e.ok ? fmt(e.gen.rps) : e.why} req/s; concord ${
          c ? (c.ok ? fmt(c.gen.rps) : c.why) : "n/a"
        }`,
      );
    }
    const side = "req/s | p50/p99 ms | gen CPU/req, core% | server CPU/req, core% | limited by";
    console.log(`\n| workload | etcd ${side} | concord ${side} | concord/etcd | target |`);
    console.log(`|---${"|---".repeat(12)}|---|`);
    for (const r of rows) console.log(r);
    if (cluster) {
      console.log(`\nCPU of each member (CPU seconds per wall second during the workload):\n`);
      console.log("| workload | etcd members | concord members |\n|---|---|---|");
      for (const r of memberRows) console.log(r);
      if (concord) {
        const now = await memberLabels(concord);
        if (now.join() !== labels.concord.join()) {
          console.log(`concord's leader changed during the run: now ${now.join(", ")}`);
        }
      }
    }
    const eRss = etcd.peakRss();
    const cRss = concord ? concord.peakRss() : [];
    const mib = (kib: number[], names: string[]) =>
      kib.map((k, i) => `${cluster ? `${names[i]} ` : ""}${fmt(k / 1024, 1)} MiB`).join(", ");
    const rssRatio = Math.max(...cRss) / Math.max(...eRss);
    console.log(
      `\nPeak RSS (VmHWM): etcd ${mib(eRss, labels.etcd)}; concord ${
        concord ? mib(cRss, labels.concord) : "n/a"
      }; ${cluster ? "largest member's " : ""}ratio ${fmt(rssRatio, 2)} (target <= ${RSS_TARGET}${
        Number.isFinite(rssRatio) ? (rssRatio <= RSS_TARGET ? " met" : " MISSED") : ""
      })`,
    );
    console.log(
      `gen = the load generator process (one per workload, same 2 cores); core% = CPU seconds per wall second${
        cluster ? ", summed over the members in the main table" : ""
      }. Load average at the end ${loadAverage()}.`,
    );
    return 0;
  } finally {
    for (const s of servers) await s.stop();
    await Deno.remove(logDir, { recursive: true }).catch(() => undefined);
  }
}

/** The 1, 5 and 15 minute load averages from /proc/loadavg. */
function loadAverage(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`bench:compare: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
