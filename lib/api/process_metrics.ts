/**
 * The process and runtime metrics. process_* are the Prometheus client's standard families
 * (what etcd exports through Go's process collector), read when scraped from /proc/self on
 * Linux as that collector reads them; os_fd_* are etcd's own names for the same descriptor
 * counts. In place of Go's go_* runtime families, the V8 heap under prom-client's nodejs_*
 * names (so Node.js dashboards read them) and the Deno version.
 *
 * Elsewhere than Linux there is no /proc: CPU time and resident memory come from the runtime,
 * and the descriptor, virtual memory and limit families are not exported.
 *
 * GC pauses are not exported: under Deno 2.9 `PerformanceObserver` accepts `gc` entries but
 * never delivers one (measured: 0 entries while V8 ran scavenges and mark-compacts), and
 * `monitorEventLoopDelay` takes almost no samples.
 */
import process from "node:process";
import v8 from "node:v8";
import type { MetricsRegistry } from "./metrics.ts";

/** Linux's USER_HZ, which Go's procfs also assumes for /proc/self/stat times. */
const USER_HZ = 100;

/** What /proc/self/stat holds that the process families need (fields 14, 15, 22, 23). */
interface ProcStat {
  cpuSeconds: number;
  startTicks: number;
  virtualBytes: number;
}

function readProcStat(): ProcStat {
  const text = Deno.readTextFileSync("/proc/self/stat");
  // the command name (field 2) is in parentheses and may hold spaces: count after it
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return {
    cpuSeconds: (Number(f[11]) + Number(f[12])) / USER_HZ,
    startTicks: Number(f[19]),
    virtualBytes: Number(f[20]),
  };
}

/** A soft limit from /proc/self/limits; "unlimited" is 2^64 as Go's collector reports it. */
function readLimit(limits: string, name: string): number | undefined {
  const line = limits.split("\n").find((l) => l.startsWith(name));
  if (line === undefined) return undefined;
  const soft = line.slice(name.length).trim().split(/\s+/)[0];
  return soft === "unlimited" ? 2 ** 64 : Number(soft);
}

function countOpenFds(): number {
  let n = 0;
  for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
  return n;
}

/** True where /proc/self can be read (Linux, with read permission). */
function hasProc(): boolean {
  try {
    readProcStat();
    return true;
  } catch {
    return false;
  }
}

/** Registers process_*, os_fd_* and the runtime families on `registry`. */
export function registerProcessMetrics(registry: MetricsRegistry): void {
  const r = registry;
  const cpu = r.counter(
    "process_cpu_seconds_total",
    "Total user and system CPU time spent in seconds.",
  );
  const rss = r.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  const start = r.gauge(
    "process_start_time_seconds",
    "Start time of the process since unix epoch in seconds.",
  );
  const heapTotal = r.gauge(
    "nodejs_heap_size_total_bytes",
    "Process heap size from Node.js in bytes.",
  );
  const heapUsed = r.gauge(
    "nodejs_heap_size_used_bytes",
    "Process heap size used from Node.js in bytes.",
  );
  const external = r.gauge(
    "nodejs_external_memory_bytes",
    "Node.js external memory size in bytes.",
  );
  const spaceLabels = ["space"];
  const spaceTotal = r.gauge(
    "nodejs_heap_space_size_total_bytes",
    "Process heap space size total from Node.js in bytes.",
    spaceLabels,
  );
  const spaceUsed = r.gauge(
    "nodejs_heap_space_size_used_bytes",
    "Process heap space size used from Node.js in bytes.",
    spaceLabels,
  );
  const spaceAvailable = r.gauge(
    "nodejs_heap_space_size_available_bytes",
    "Process heap space size available from Node.js in bytes.",
    spaceLabels,
  );
  const [major, minor, patch] = process.version.slice(1).split(".");
  r.gauge(
    "nodejs_version_info",
    "Node.js version info (the Node.js API level Deno provides).",
    ["version", "major", "minor", "patch"],
  ).set(1, { version: process.version, major, minor, patch });
  r.gauge(
    "deno_version_info",
    "The Deno runtime serving (in place of etcd's Go version). 1 for the labels' versions.",
    ["version", "v8", "typescript"],
  ).set(1, {
    version: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
  });

  const linux = hasProc();
  let startSeconds = (Date.now() - performance.now()) / 1000;
  if (linux) {
    const btimeLine = Deno.readTextFileSync("/proc/stat").split("\n").find((l) =>
      l.startsWith("btime ")
    );
    if (btimeLine !== undefined) {
      startSeconds = Number(btimeLine.slice(6)) + readProcStat().startTicks / USER_HZ;
    }
  }
  start.set(startSeconds);
  const linuxOnly = linux ? registerLinuxFamilies(r) : () => {};

  r.onCollect(() => {
    const mem = Deno.memoryUsage();
    rss.set(mem.rss);
    heapTotal.set(mem.heapTotal);
    heapUsed.set(mem.heapUsed);
    external.set(mem.external);
    for (const s of v8.getHeapSpaceStatistics()) {
      const space = s.space_name.replace(/_space$/, "");
      spaceTotal.set(s.space_size, { space });
      spaceUsed.set(s.space_used_size, { space });
      spaceAvailable.set(s.space_available_size, { space });
    }
    let seconds: number;
    if (linux) seconds = readProcStat().cpuSeconds;
    else {
      const u = process.cpuUsage();
      seconds = (u.user + u.system) / 1e6;
    }
    const by = seconds - cpu.get();
    if (by > 0) cpu.add(by);
    linuxOnly();
  });
}

/** The families only /proc gives; returns their collector. */
function registerLinuxFamilies(r: MetricsRegistry): () => void {
  const virtual = r.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.");
  const virtualMax = r.gauge(
    "process_virtual_memory_max_bytes",
    "Maximum amount of virtual memory available in bytes.",
  );
  const openFds = r.gauge("process_open_fds", "Number of open file descriptors.");
  const maxFds = r.gauge("process_max_fds", "Maximum number of open file descriptors.");
  const fdUsed = r.gauge("os_fd_used", "The number of used file descriptors.");
  const fdLimit = r.gauge("os_fd_limit", "The file descriptor limit.");
  return () => {
    virtual.set(readProcStat().virtualBytes);
    const limits = Deno.readTextFileSync("/proc/self/limits");
    const maxOpen = readLimit(limits, "Max open files") ?? 0;
    virtualMax.set(readLimit(limits, "Max address space") ?? 0);
    const open = countOpenFds();
    openFds.set(open);
    maxFds.set(maxOpen);
    fdUsed.set(open);
    fdLimit.set(maxOpen);
  };
}
