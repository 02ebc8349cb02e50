/**
 * Where `concord serve`'s resident memory goes, workload by workload: starts one member as
 * `deno task start` runs it (its `--v8-flags`), runs bench:compare's workloads against it one
 * after another with the same generator, and prints for each the highest RSS seen (sampled
 * every 50 ms from /proc), the V8 heap used and committed and the external memory at that
 * moment (from the member's /metrics), and at its end what the resident pages are made of:
 * file-backed (the deno binary's touched pages), malloc's main arena (`[heap]`), malloc's
 * other arenas (64 MiB-aligned anonymous heaps) and the rest of the anonymous memory (V8's
 * heap pages, thread stacks, other mmaps).
 *
 *   deno run -A bench/memory_phases.ts [--only=put-1000,watch] [--scale=1]
 *                                      [--arena-max=2]   (MALLOC_ARENA_MAX for the member;
 *                                                         else the start task's environment)
 *                                      [--tree=/work/main] (run that checkout's main.ts)
 *                                      [--v8-flags=…]     (instead of the start task's)
 *
 * This is what docs/perf.md's "Memory per request, fifth session" used to find which workload
 * reaches bench:compare's peak RSS and how much of it is malloc's arenas.
 */
import {
  BenchCluster,
  etcdctl,
  peakRssKiB,
  procCpuSeconds,
  startTaskEnv,
  startTaskV8Flags,
} from "./cluster.ts";
import { type Workload, WORKLOADS } from "./compare.ts";
import {
  COMMON,
  DENO,
  loadgenFailure,
  loadgenResult,
  ROOT,
  scaleTotal,
  spawnLoadgen,
} from "./support/loadgen_process.ts";
const HEAP_MAX = 64 * 1024 * 1024; // glibc's HEAP_MAX_SIZE on 64-bit: one non-main arena

/** Resident KiB of one process by kind of mapping (see the module comment). */
export interface SmapsBreakdown {
  rss: number;
  file: number;
  mainArena: number;
  otherArenas: number;
  otherAnon: number;
  arenaCount: number;
}

/**
 * Sums /proc/PID/smaps' Rss by kind. A glibc non-main arena is a 64 MiB-aligned anonymous
 * read-write mapping followed by the inaccessible rest of its 64 MiB reservation (or filling
 * all of it), which is how glibc's new_heap lays one out.
 */
export function smapsBreakdown(text: string): SmapsBreakdown {
  const out: SmapsBreakdown = {
    rss: 0,
    file: 0,
    mainArena: 0,
    otherArenas: 0,
    otherAnon: 0,
    arenaCount: 0,
  };
  interface Mapping {
    start: bigint;
    end: bigint;
    perms: string;
    path: string;
    rss: number;
  }
  const maps: Mapping[] = [];
  for (const line of text.split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      maps.push({
        start: BigInt(`0x${head[1]}`),
        end: BigInt(`0x${head[2]}`),
        perms: head[3],
        path: head[4],
        rss: 0,
      });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && maps.length > 0) maps[maps.length - 1].rss = Number(rss[1]);
  }
  const max = BigInt(HEAP_MAX);
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i];
    out.rss += m.rss;
    if (m.path.startsWith("/")) out.file += m.rss;
    else if (m.path === "[heap]") out.mainArena += m.rss;
    else if (m.path !== "") out.otherAnon += m.rss; // [stack], [vvar], …
    else {
      const next = maps[i + 1];
      const aligned = m.start % max === 0n && m.perms.startsWith("rw");
      const reservation = m.end - m.start === max ||
        (next !== undefined && next.start === m.end && next.perms.startsWith("---") &&
          next.end - m.start === max);
      if (aligned && reservation) {
        out.otherArenas += m.rss;
        out.arenaCount++;
      } else out.otherAnon += m.rss;
    }
  }
  return out;
}

interface HeapFigures {
  heapUsed: number;
  heapTotal: number;
  external: number;
}

async function heapFigures(clientUrl: string): Promise<HeapFigures | undefined> {
  const res = await fetch(`${clientUrl}/metrics`);
  const text = await res.text();
  const num = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
  const f = {
    heapUsed: num("nodejs_heap_size_used_bytes"),
    heapTotal: num("nodejs_heap_size_total_bytes"),
    external: num("nodejs_external_memory_bytes"),
  };
  return Number.isFinite(f.heapUsed) ? f : undefined;
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) : NaN;
}

interface PhaseResult {
  name: string;
  rps: number;
  /** The member's CPU (user + system) per request, µs. */
  cpuPerReq: number;
  maxRss: number;
  heapAtMax: HeapFigures | undefined;
  hwm: number;
  smaps: SmapsBreakdown;
}

async function runPhase(
  c: BenchCluster,
  w: Workload,
  scale: number,
): Promise<PhaseResult> {
  const pid = c.members[0].proc.pid;
  const url = c.members[0].clientUrl;
  const cpu0 = procCpuSeconds(pid);
  const gen = spawnLoadgen({
    args: [...scaleTotal(w.args, scale), ...COMMON],
    endpoints: url,
    json: true,
  });
  let maxRss = 0;
  let heapAtMax: HeapFigures | undefined;
  let heap: HeapFigures | undefined;
  let done = false;
  const output = gen.output().finally(() => (done = true));
  let tick = 0;
  while (!done) {
    const rss = rssKiB(pid);
    if (tick++ % 5 === 0) heap = await heapFigures(url).catch(() => heap);
    if (rss > maxRss) {
      maxRss = rss;
      heapAtMax = heap;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const out = await output;
  const cpu = procCpuSeconds(pid) - cpu0;
  const failure = loadgenFailure(out);
  if (failure !== undefined) throw new Error(`${w.name}: ${failure}`);
  const res = loadgenResult(new TextDecoder().decode(out.stdout));
  const rps = res.rps;
  const cpuPerReq = (cpu / res.count) * 1e6;
  const smaps = smapsBreakdown(await Deno.readTextFile(`/proc/${pid}/smaps`));
  return { name: w.name, rps, cpuPerReq, maxRss, heapAtMax, hwm: peakRssKiB(pid), smaps };
}

const mb = (bytes: number | undefined) => bytes === undefined ? "-" : (bytes / 1048576).toFixed(1);
const kb = (kib: number) => (kib / 1024).toFixed(1);

async function main(): Promise<void> {
  let only: Set<string> | undefined;
  let scale = 1;
  let arenaMax: string | undefined;
  let tree = ROOT;
  let v8 = startTaskV8Flags();
  for (const a of Deno.args) {
    if (a.startsWith("--only=")) only = new Set(a.slice(7).split(","));
    else if (a.startsWith("--scale=")) scale = Number(a.slice(8));
    else if (a.startsWith("--arena-max=")) arenaMax = a.slice(12);
    else if (a.startsWith("--tree=")) tree = a.slice(7).replace(/\/?$/, "/");
    else if (a.startsWith("--v8-flags=")) v8 = [a];
    else throw new Error(`unknown flag ${a} (--only= --scale= --arena-max= --tree= --v8-flags=)`);
  }
  const workloads = WORKLOADS.filter((w) => !only || only.has(w.name));
  // the tree's start task's environment (MALLOC_ARENA_MAX), unless --arena-max says otherwise
  const env = startTaskEnv(tree);
  if (arenaMax !== undefined) env.MALLOC_ARENA_MAX = arenaMax;
  const logDir = await Deno.makeTempDir({ prefix: "concord-memphases-" });
  const { cluster, error } = await BenchCluster.start(
    "concord",
    1,
    DENO,
    ["run", "-A", ...v8, "main.ts", "serve"],
    logDir,
    tree,
    undefined,
    env,
  );
  try {
    if (error) throw new Error(`concord did not start: ${error}`);
    const put = await etcdctl(cluster.endpoints, ["put", "foo", "bar"]);
    if (!put.success) throw new Error("put foo failed");
    console.log(
      `tree ${tree} ${v8.join(" ")} ${JSON.stringify(env)}; ` +
        `load average ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`,
    );
    console.log(
      "| workload | req/s | CPU/req µs | max RSS MiB | heap used / committed MiB at max | external MiB | " +
        "VmHWM after | file-backed | main arena | other arenas (n) | other anon |",
    );
    console.log("|---|---|---|---|---|---|---|---|---|---|---|");
    for (const w of workloads) {
      const r = await runPhase(cluster, w, scale);
      const s = r.smaps;
      console.log(
        `| ${r.name} | ${r.rps.toFixed(0)} | ${r.cpuPerReq.toFixed(0)} | ${kb(r.maxRss)} | ${
          mb(r.heapAtMax?.heapUsed)
        } / ${mb(r.heapAtMax?.heapTotal)} | ${mb(r.heapAtMax?.external)} | ${kb(r.hwm)} | ${
          kb(s.file)
        } | ${kb(s.mainArena)} | ${kb(s.otherArenas)} (${s.arenaCount}) | ${kb(s.otherAnon)} |`,
      );
    }
    console.log(`load average at the end ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  } finally {
    await cluster.stop();
    await Deno.remove(logDir, { recursive: true }).catch(() => undefined);
  }
}

if (import.meta.main) await main();
