/**
 * `deno task bench:generators`: does our load generator decide the ratios `bench:compare`
 * reports? The same workloads run against Debian's etcd 3.4 and `concord serve` (one member
 * each, both up for the whole run) from two generators: ours (bench/loadgen, Deno, a real gRPC
 * client over our HTTP/2 client) and h2load (nghttp2's C load generator, which sends a fixed
 * gRPC request body on every stream and spends a few µs of CPU per request). Each prints its
 * Concord/etcd ratio; if ours takes more of the 2 cores from the servers than h2load does, the
 * two ratios part. The issue asks for agreement with a Go clientv3 generator within 10 %; no Go
 * toolchain is installed here, so the light C generator is the reference (docs/perf.md,
 * "Generator check").
 *
 *   deno task bench:generators [--rounds=3] [--scale=1] [--only=put-1000,range-s]
 *                              [--baseline=DIR]  (also DIR's bench/loadgen, e.g. an older tree,
 *                                                 in the same alternation: a before/after)
 *
 * Every workload repeats one request, as etcd's benchmark does by default (`--key-space-size=1`):
 * a put of the 8-byte key etcd's benchmark writes first (zeroes) with a 256-byte value, or a
 * Range of "foo" (linearizable or serializable). h2load counts a response with HTTP status 200
 * as a success whatever its grpc-status, so each put slice is checked against the revision the
 * server reports after it (every put adds one); a mismatch fails the run.
 *
 * Rounds alternate etcd and Concord, h2load then ours, so drift of the machine lands on all
 * four alike. Server CPU comes from /proc/<pid>/stat; a generator's from this process's
 * waited-for children's CPU (cutime + cstime), read around its run. For ours that includes
 * Deno's start-up and module loading (about 0.3 s of CPU, before the timed run and so not
 * competing with the server), so the table shows our generator's own figure for the timed run
 * (process.cpuUsage around it) and, beside it, the whole process's.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { PutRequestSchema, RangeRequestSchema } from "../proto/gen/etcdserverpb/rpc_pb.ts";
import { BenchCluster, etcdctl, startTaskEnv, startTaskV8Flags } from "./cluster.ts";
import {
  DENO,
  loadgenResult,
  ROOT,
  runLoadgen as runGenerator,
} from "./support/loadgen_process.ts";

/** One workload, as both generators run it. */
interface Workload {
  name: string;
  /** The gRPC method path. */
  path: string;
  /** The request message h2load sends on every stream. */
  body: Uint8Array;
  /** Connections, and streams in flight on each (h2load -c, -m). */
  conns: number;
  streams: number;
  total: number;
  /** bench/loadgen/main.ts's arguments for the same workload. */
  loadgen: string[];
  /** Each request adds a revision (checked after every h2load slice). */
  writes: boolean;
}

const VALUE = new Uint8Array(256).fill(0x61);
const ZERO_KEY = new Uint8Array(8);
const FOO = new TextEncoder().encode("foo");

const WORKLOADS: Workload[] = [
  {
    name: "put-1000",
    path: "/etcdserverpb.KV/Put",
    body: toBinary(PutRequestSchema, create(PutRequestSchema, { key: ZERO_KEY, value: VALUE })),
    conns: 100,
    streams: 10,
    total: 50000,
    loadgen: ["put", "--clients=1000", "--conns=100", "--key-size=8", "--val-size=256"],
    writes: true,
  },
  {
    name: "range-l",
    path: "/etcdserverpb.KV/Range",
    body: toBinary(RangeRequestSchema, create(RangeRequestSchema, { key: FOO })),
    conns: 10,
    streams: 10,
    total: 40000,
    loadgen: ["range", "foo", "--consistency=l", "--clients=100", "--conns=10"],
    writes: false,
  },
  {
    name: "range-s",
    path: "/etcdserverpb.KV/Range",
    body: toBinary(
      RangeRequestSchema,
      create(RangeRequestSchema, { key: FOO, serializable: true }),
    ),
    conns: 10,
    streams: 10,
    total: 40000,
    loadgen: ["range", "foo", "--consistency=s", "--clients=100", "--conns=10"],
    writes: false,
  },
];

/** One generator's run against one server. */
interface Slice {
  count: number;
  seconds: number;
  serverCpu: number;
  /** The generator's CPU during the timed run (h2load: the whole process). */
  genCpu: number;
  /** The generator process's CPU, start-up included. */
  genProcessCpu: number;
}

/** CPU seconds of this process's waited-for children (fields 16 and 17 of /proc/self/stat). */
function childrenCpuSeconds(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // after the command: state is f[0], so field n (1-based) is f[n - 3]
  return (Number(f[13]) + Number(f[14])) / 100;
}

/** The gRPC length-prefixed message h2load sends. */
function grpcFrame(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + msg.length);
  new DataView(out.buffer).setUint32(1, msg.length);
  out.set(msg, 5);
  return out;
}

/** The server's current revision, from a serializable get (etcdctl's JSON header). */
async function revision(s: BenchCluster): Promise<number> {
  const out = await etcdctl(s.endpoints, ["get", "foo", "--consistency=s", "-w", "json"]);
  if (!out.success) throw new Error(`etcdctl get: ${new TextDecoder().decode(out.stderr)}`);
  const m = /"revision":(\d+)/.exec(new TextDecoder().decode(out.stdout));
  if (m === null) throw new Error("etcdctl get: no revision in the answer");
  return Number(m[1]);
}

async function runH2load(s: BenchCluster, w: Workload, total: number, file: string) {
  const before = w.writes ? await revision(s) : 0;
  const cpu0 = s.cpuSeconds()[0];
  const gen0 = childrenCpuSeconds();
  const url = `${s.members[0].clientUrl}${w.path}`;
  const args = [
    "-n",
    String(total),
    "-c",
    String(w.conns),
    "-m",
    String(w.streams),
    "-d",
    file,
    "-H",
    "content-type: application/grpc",
    "-H",
    "te: trailers",
    url,
  ];
  const out = await new Deno.Command("h2load", { args, stdout: "piped", stderr: "piped" })
    .output();
  const genCpu = childrenCpuSeconds() - gen0;
  const serverCpu = s.cpuSeconds()[0] - cpu0;
  const text = new TextDecoder().decode(out.stdout);
  const done = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(
    text,
  );
  const fin = /finished in ([\d.]+)(m?s),/.exec(text);
  if (!out.success || done === null || fin === null || Number(done[1]) !== total) {
    throw new Error(`h2load ${args.join(" ")} against ${s.name}:\n${text}`);
  }
  if (w.writes) {
    const added = (await revision(s)) - before;
    if (added !== total) throw new Error(`${s.name}: ${total} puts answered, ${added} applied`);
  }
  const seconds = Number(fin[1]) / (fin[2] === "ms" ? 1000 : 1);
  return { count: total, seconds, serverCpu, genCpu, genProcessCpu: genCpu };
}

async function runLoadgen(
  s: BenchCluster,
  w: Workload,
  total: number,
  root = ROOT,
): Promise<Slice> {
  const cpu0 = s.cpuSeconds()[0];
  const gen0 = childrenCpuSeconds();
  const out = await runGenerator({
    args: [...w.loadgen, `--total=${total}`],
    endpoints: s.endpoints,
    root,
    json: true,
  }).catch((e) => {
    throw new Error(`loadgen against ${s.name}: ${(e as Error).message}`);
  });
  const genCpu = childrenCpuSeconds() - gen0;
  const serverCpu = s.cpuSeconds()[0] - cpu0;
  const r = loadgenResult(out);
  if (r.errors > 0) throw new Error(`loadgen against ${s.name}: ${r.errors} errors`);
  return {
    count: r.count,
    seconds: r.totalSeconds,
    serverCpu,
    genCpu: r.cpuSeconds,
    genProcessCpu: genCpu,
  };
}

function parseFlags(args: string[]) {
  let rounds = 3, scale = 1;
  let only: string[] | undefined;
  let baseline: string | undefined;
  for (const a of args) {
    const [k, v] = a.split("=", 2);
    if (k === "--baseline") baseline = `${v.replace(/\/+$/, "")}/`;
    else if (k === "--rounds") rounds = Number(v);
    else if (k === "--scale") scale = Number(v);
    else if (k === "--only") only = v.split(",");
    else throw new Error(`unknown flag ${a} (--rounds=N --scale=X --only=a,b --baseline=DIR)`);
  }
  if (!(rounds >= 1) || !(scale > 0)) throw new Error("--rounds >= 1 and --scale > 0");
  const names = WORKLOADS.map((w) => w.name);
  for (const n of only ?? []) {
    if (!names.includes(n)) throw new Error(`unknown workload ${n} (${names.join(", ")})`);
  }
  if (baseline !== undefined && !existsFile(`${baseline}bench/loadgen/main.ts`)) {
    throw new Error(`--baseline: no ${baseline}bench/loadgen/main.ts`);
  }
  return { rounds, scale, only, baseline };
}

function existsFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function sum(slices: Slice[]): Slice {
  return slices.reduce((a, b) => ({
    count: a.count + b.count,
    seconds: a.seconds + b.seconds,
    serverCpu: a.serverCpu + b.serverCpu,
    genCpu: a.genCpu + b.genCpu,
    genProcessCpu: a.genProcessCpu + b.genProcessCpu,
  }), { count: 0, seconds: 0, serverCpu: 0, genCpu: 0, genProcessCpu: 0 });
}

const flags = parseFlags(Deno.args);
const logDir = await Deno.makeTempDir({ prefix: "concord-generators-" });
const tmp = await Deno.makeTempDir({ prefix: "concord-h2load-" });
const started: BenchCluster[] = [];
try {
  const etcd = await BenchCluster.start("etcd", 1, "etcd", [], logDir, ROOT, () => [
    "--logger=zap",
    "--log-level=error",
  ]);
  started.push(etcd.cluster);
  if (etcd.error) throw new Error(etcd.error);
  const concord = await BenchCluster.start(
    "concord",
    1,
    DENO,
    ["run", "-A", ...startTaskV8Flags(), "main.ts", "serve"],
    logDir,
    ROOT,
    undefined,
    startTaskEnv(),
  );
  started.push(concord.cluster);
  if (concord.error) throw new Error(concord.error);
  const servers = [etcd.cluster, concord.cluster];
  for (const s of servers) {
    const out = await etcdctl(s.endpoints, ["put", "foo", "bar"]);
    if (!out.success) throw new Error(`${s.name}: put foo failed`);
  }

  const load = Deno.loadavg()[0];
  console.log(`load average ${load.toFixed(2)} at the start; ${flags.rounds} rounds\n`);
  console.log(
    "| workload | generator | etcd req/s | concord req/s | concord/etcd | gen CPU/req etcd, concord (whole process) | server CPU/req etcd, concord |",
  );
  console.log("|---|---|---|---|---|---|---|");
  const ratios: Record<string, Record<string, number>> = {};
  for (const w of WORKLOADS.filter((w) => flags.only?.includes(w.name) ?? true)) {
    const file = `${tmp}/${w.name}.bin`;
    await Deno.writeFile(file, grpcFrame(w.body));
    const slice = Math.max(1, Math.round((w.total * flags.scale) / flags.rounds));
    const got: Record<string, Slice[]> = {};
    const add = (k: string, s: Slice) => (got[k] ??= []).push(s);
    // warm both JITs (and etcd's caches) first, unmeasured
    for (const s of servers) await runLoadgen(s, w, Math.round(slice / 5));
    for (let r = 0; r < flags.rounds; r++) {
      for (const s of servers) add(`h2load/${s.name}`, await runH2load(s, w, slice, file));
      for (const s of servers) add(`loadgen/${s.name}`, await runLoadgen(s, w, slice));
      if (flags.baseline === undefined) continue;
      for (const s of servers) {
        add(`baseline/${s.name}`, await runLoadgen(s, w, slice, flags.baseline));
      }
    }
    ratios[w.name] = {};
    for (const gen of ["h2load", "loadgen", ...(flags.baseline ? ["baseline"] : [])]) {
      const e = sum(got[`${gen}/etcd`]), c = sum(got[`${gen}/concord`]);
      const rps = (x: Slice) => x.count / x.seconds;
      const us = (cpu: number, x: Slice) => ((cpu / x.count) * 1e6).toFixed(0);
      ratios[w.name][gen] = rps(c) / rps(e);
      console.log(
        `| ${w.name} | ${gen} | ${rps(e).toFixed(0)} | ${rps(c).toFixed(0)} | ${
          (rps(c) / rps(e)).toFixed(2)
        } | ${us(e.genCpu, e)}, ${us(c.genCpu, c)} µs${
          gen !== "h2load" ? ` (${us(e.genProcessCpu, e)}, ${us(c.genProcessCpu, c)})` : ""
        } | ${us(e.serverCpu, e)}, ${us(c.serverCpu, c)} µs |`,
      );
    }
  }
  if (flags.baseline) console.log(`\nbaseline = ${flags.baseline}bench/loadgen`);
  console.log(
    `\n| workload | ours / h2load's ratio |${
      flags.baseline ? " baseline / h2load's |" : ""
    }\n|---|---|${flags.baseline ? "---|" : ""}`,
  );
  for (const [name, r] of Object.entries(ratios)) {
    console.log(
      `| ${name} | ${(r.loadgen / r.h2load).toFixed(2)} |${
        flags.baseline ? ` ${(r.baseline / r.h2load).toFixed(2)} |` : ""
      }`,
    );
  }
  console.log(`\nload average ${Deno.loadavg()[0].toFixed(2)} at the end`);
} finally {
  for (const s of started) await s.stop();
  await Deno.remove(tmp, { recursive: true });
  await Deno.remove(logDir, { recursive: true });
}
