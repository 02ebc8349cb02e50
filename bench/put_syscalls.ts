/**
 * System calls per put on each member of a 3-member Concord cluster under put-1000 (1,000
 * clients over 100 connections to all members; `--clients=1 --conns=1` for put-1), counted by
 * `strace -c -f` attached to every member for the measured run: socket writes, reads,
 * fdatasyncs, futex wake-ups and the rest, per put; and each member's CPU per put. Counts
 * do not depend on how busy the machine is, unlike rates and CPU time, so they compare two
 * trees measured at different moments on a shared machine. (strace slows the members down:
 * the rate it prints is not a benchmark.)
 *
 *   deno run -A bench/put_syscalls.ts [--total=20000] [--members=3] [--clients=1000]
 *                                      [--conns=100] [--etcd] [--no-strace]
 *
 * `--no-strace` measures CPU per put only (strace's own overhead lands in the members' CPU).
 *
 * `--etcd` counts a Debian etcd 3.4 cluster's members instead.
 */
import { BenchCluster, etcdctl, startTaskV8Flags } from "./cluster.ts";
import type { LoadgenResult } from "./loadgen/main.ts";
import { COMMON, DENO, loadgenResult, ROOT, runLoadgen } from "./support/loadgen_process.ts";

function flag(name: string, dflt: number): number {
  const a = Deno.args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? dflt : Number(a.slice(name.length + 3));
}

const total = flag("total", 20000);
const n = flag("members", 3);
const etcd = Deno.args.includes("--etcd");
const clients = flag("clients", 1000);
const conns = flag("conns", 100);
const trace = !Deno.args.includes("--no-strace");

async function loadgen(endpoints: string, puts: number): Promise<LoadgenResult> {
  const args = ["put", `--clients=${clients}`, `--conns=${conns}`, `--total=${puts}`, ...COMMON];
  return loadgenResult(await runLoadgen({ args, endpoints, json: true }));
}

/** strace -c's table: syscall name -> calls. */
function parseCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors], syscall
    if (f.length >= 5 && /^\d/.test(f[0]) && /^\d+$/.test(f[3]) && f[f.length - 1] !== "total") {
      counts.set(f[f.length - 1], Number(f[3]));
    }
  }
  return counts;
}

const logDir = await Deno.makeTempDir({ prefix: "put-syscalls-" });
const { cluster, error } = etcd
  ? await BenchCluster.start("etcd", n, "etcd", [], logDir, ROOT, () => ["--log-level=error"])
  : await BenchCluster.start(
    "concord",
    n,
    DENO,
    ["run", "-A", ...startTaskV8Flags(), "main.ts", "serve"],
    logDir,
    ROOT,
  );
try {
  if (error) throw new Error(error);
  await etcdctl(cluster.endpoints, ["put", "foo", "bar"]);
  await loadgen(cluster.endpoints, Math.round(total / 4)); // warm-up
  const leader = await cluster.leader();
  const tracers = (trace ? cluster.members : []).map((m) =>
    new Deno.Command("strace", {
      args: ["-c", "-f", "-p", String(m.proc.pid)],
      stdout: "null",
      stderr: "piped",
    }).spawn()
  );
  if (trace) await new Promise((r) => setTimeout(r, 1000)); // attached
  const cpu0 = cluster.cpuSeconds();
  const g = await loadgen(cluster.endpoints, total);
  const cpu = cluster.cpuSeconds().map((c, i) => ((c - cpu0[i]) / total) * 1e6);
  for (const t of tracers) t.kill("SIGINT");
  const tables = await Promise.all(tracers.map(async (t) => {
    const o = await t.output();
    return parseCounts(new TextDecoder().decode(o.stderr));
  }));
  // the calls that matter most, by count over all members
  const sum = new Map<string, number>();
  for (const t of tables) for (const [k, v] of t) sum.set(k, (sum.get(k) ?? 0) + v);
  const names = [...sum.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k]) => k);
  console.log(
    `${
      etcd ? "etcd" : "concord"
    }, ${n} members, ${total} puts, ${clients} clients over ${conns} connections, ${
      g.rps.toFixed(0)
    } req/s${trace ? " under strace" : ""}; load average ${
      Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
    }`,
  );
  const head = trace ? ` ${names.join(" | ")} | all |` : "";
  console.log(`| member | CPU µs/put |${head}`);
  console.log(`|---|---:|${trace ? `${names.map(() => "---:").join("|")}|---:|` : ""}`);
  cluster.members.forEach((_, i) => {
    const t = tables[i] ?? new Map<string, number>();
    let all = 0;
    for (const v of t.values()) all += v;
    const cell = (k: string) => ((t.get(k) ?? 0) / total).toFixed(2);
    const calls = trace ? ` ${names.map(cell).join(" | ")} | ${(all / total).toFixed(2)} |` : "";
    console.log(
      `| ${cluster.members[i].name}${i === leader ? " (leader)" : ""} | ${
        cpu[i].toFixed(0)
      } |${calls}`,
    );
  });
} finally {
  await cluster.stop();
  await Deno.remove(logDir, { recursive: true }).catch(() => undefined);
}
