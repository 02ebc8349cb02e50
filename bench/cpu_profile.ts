/**
 * Where a server's CPU goes, per request: starts a member in this process, warms it up with one
 * load-generator run, then takes a V8 CPU profile of the main thread during a second run and
 * prints, per request, the process's CPU (every thread, user + system) and the main thread's
 * busy time split by function (self time) and by source file. The figures of docs/perf.md's
 * "Lease keep-alive, sixth session" come from it; bench:compare's `--cpu-prof` profiles a
 * whole run instead, start-up, grants and the other server's turns included.
 *
 *   deno run -A --v8-flags=--heap-growing-percent=100,--max-semi-space-size=8 \
 *     bench/cpu_profile.ts [--requests=60000] [--top=40] [--save=FILE] [-- <loadgen args>]
 *
 * The workload defaults to bench:compare's lease-keepalive (`--clients=100 --conns=10`); its
 * `--total` is replaced by --requests. The generator runs in its own process, as in
 * bench:compare; its CPU is not counted here.
 */
import { connectInspector } from "./support/inspector.ts";
import process from "node:process";
import { runLoadgen, splitWorkload, withTotal } from "./support/loadgen_process.ts";
import { startInProcessMember } from "./support/inprocess_member.ts";
import { type CpuProfile, summarize } from "./cpuprofile_top.ts";

const { own, workload: given } = splitWorkload(Deno.args);
// without a workload after "--": bench:compare's lease-keepalive, not the profilers' put-1000
const workload = Deno.args.includes("--")
  ? given
  : ["lease-keepalive", "--clients=100", "--conns=10"];
const flag = (name: string) => own.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const requests = Number(flag("requests") ?? 60000);
const top = Number(flag("top") ?? 40);
const save = flag("save");
if (!(requests > 0)) throw new Error("--requests must be > 0");

const member = await startInProcessMember("cpu");

/** Runs the generator for `total` requests; its Requests/sec line. */
async function load(total: number): Promise<string> {
  const out = await runLoadgen({ args: withTotal(workload, total), endpoints: member.endpoint });
  return out.split("\n").find((l) => /Requests\/sec/.test(l)) ?? "";
}

const session = connectInspector();
const post = session.post;
try {
  console.log(`warm-up: ${(await load(Math.max(2000, requests / 4))).trim()}`);
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 100 });
  await post("Profiler.start");
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  console.log(`profiled: ${(await load(requests)).trim()}`);
  const wallUs = (performance.now() - t0) * 1000;
  const cpu = process.cpuUsage(cpu0);
  const { profile } = await post<{ profile: CpuProfile }>("Profiler.stop");
  if (save !== undefined) await Deno.writeTextFile(save, JSON.stringify(profile));
  const { functions, files, idle } = summarize(profile);
  const sampledUs = profile.timeDeltas.reduce((a, b) => a + b, 0);
  const busyUs = sampledUs * (1 - idle) / requests;
  const per = (share: number) => (share * busyUs).toFixed(2).padStart(7);
  console.log(
    `\nper request: process CPU ${((cpu.user + cpu.system) / requests).toFixed(1)} µs ` +
      `(user ${(cpu.user / requests).toFixed(1)}, system ${(cpu.system / requests).toFixed(1)}), ` +
      `main thread busy ${busyUs.toFixed(1)} µs (${((1 - idle) * 100).toFixed(0)}% of ${
        (sampledUs / 1e6).toFixed(1)
      } s sampled over the run's ${(wallUs / 1e6).toFixed(1)} s, the generator's set-up ` +
      `included: its connections, and for lease-keepalive its grants and revokes)`,
  );
  console.log("\nµs per request by file (main thread self time):");
  for (const r of files.slice(0, top)) console.log(`${per(r.share)}  ${r.label}`);
  console.log("\nµs per request by function (main thread self time):");
  for (const r of functions.slice(0, top)) console.log(`${per(r.share)}  ${r.label}`);
} finally {
  session.disconnect();
  await member.close();
}
