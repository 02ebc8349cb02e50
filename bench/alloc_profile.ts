/**
 * Where a server's allocation goes, per request: starts a member in this process, warms it up
 * with one load-generator run, then samples V8's heap allocations (HeapProfiler sampling,
 * objects later collected included) during a second run and prints bytes allocated per request
 * by allocating function (self) and by call subtree (inclusive).
 *
 *   deno run -A bench/alloc_profile.ts [--requests=20000] [-- <loadgen workload args>]
 *   deno run -A bench/alloc_profile.ts --requests=2000 -- watch --clients=10 \
 *     --watch-per-stream=10 --conns=10 --total=2000
 *
 * The workload defaults to put-1000 (bench:compare's `put --clients=1000 --conns=100`); its
 * `--total` is replaced by --requests. Allocation drives GC time and peak RSS, which is what
 * this is for: the figures in docs/perf.md ("allocation per put") come from it.
 */
import { connectInspector } from "./support/inspector.ts";
import { runLoadgen, splitWorkload, withTotal } from "./support/loadgen_process.ts";
import { startInProcessMember } from "./support/inprocess_member.ts";

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const { own, workload } = splitWorkload(Deno.args);
const requests = Number(own.find((a) => a.startsWith("--requests="))?.slice(11) ?? 20000);
if (!(requests > 0)) throw new Error("--requests must be > 0");

const member = await startInProcessMember("alloc");

/** Runs `total` requests of the workload; returns the report's Requests/sec line. */
async function load(total: number): Promise<string> {
  const out = await runLoadgen({ args: withTotal(workload, total), endpoints: member.endpoint });
  return out.split("\n").find((l) => /Requests\/sec/.test(l)) ?? "";
}

const session = connectInspector();
const post = session.post;
try {
  console.log(`warm-up: ${(await load(Math.max(1000, requests / 4))).trim()}`);
  await post("HeapProfiler.enable");
  await post("HeapProfiler.startSampling", {
    samplingInterval: 512,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  console.log(`sampled: ${(await load(requests)).trim()}`);
  const { profile } = await post<{ profile: { head: ProfileNode } }>("HeapProfiler.stopSampling");
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const name = (n: ProfileNode) =>
    `${n.callFrame.functionName || "(anonymous)"} ${
      n.callFrame.url.replace(/^.*\/(node_modules|lib|ext:)/, "$1")
    }:${n.callFrame.lineNumber + 1}`;
  const walk = (n: ProfileNode, open: Set<string>): number => {
    const k = name(n);
    self.set(k, (self.get(k) ?? 0) + n.selfSize);
    let total = n.selfSize;
    const first = !open.has(k);
    open.add(k);
    for (const c of n.children) total += walk(c, open);
    if (first) {
      open.delete(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + total);
    }
    return total;
  };
  const all = walk(profile.head, new Set());
  const top = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, 30).map(([k, v]) =>
      `${(v / requests).toFixed(0).padStart(8)}  ${k}`
    ).join("\n");
  console.log(`\n${(all / requests).toFixed(0)} bytes allocated per request (sampled)`);
  console.log(`\nbytes per request, by allocating function:\n${top(self)}`);
  console.log(`\nbytes per request, by call subtree:\n${top(inclusive)}`);
} finally {
  session.disconnect();
  await member.close();
}
