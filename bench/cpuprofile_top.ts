/**
 * Summarizes a V8 CPU profile (`deno run --cpu-prof`, e.g. the members of
 * `deno task bench:compare --cpu-prof=DIR`): the functions with the most self time and the
 * source files with the most self time, as shares of the sampled time, so "where does the
 * leader's time go" is one command rather than a DevTools session.
 *
 *   deno run -A bench/cpuprofile_top.ts <file.cpuprofile> [--top=25]
 */

/** The parts of a .cpuprofile this reads (Chrome DevTools protocol Profiler.Profile). */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }[];
  samples: number[];
  timeDeltas: number[];
}

/** One row of the summary: a label and its share of the samples. */
export interface Share {
  label: string;
  share: number;
}

/**
 * Self time per function and per file, largest first, as shares of the busy samples (all but
 * V8's "(idle)"), and the idle share of all samples.
 */
export function summarize(p: CpuProfile): { functions: Share[]; files: Share[]; idle: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let idle = 0;
  for (const id of p.samples) {
    const f = byId.get(id);
    if (f === undefined) throw new Error(`sample names node ${id}, which the profile lacks`);
    if (f.functionName === "(idle)" && f.url === "") {
      idle++;
      continue;
    }
    const url = f.url.replace(/^file:\/\/.*?\/(lib|bench|node_modules)\//, "$1/");
    const where = url === "" ? "(native)" : url;
    const name = `${f.functionName || "(anonymous)"} ${where}${
      url === "" ? "" : `:${f.lineNumber + 1}`
    }`;
    fn.set(name, (fn.get(name) ?? 0) + 1);
    const fileKey = url === ""
      ? f.functionName || "(native)"
      : url.replace(/^ext:.*/, "(deno runtime)");
    file.set(fileKey, (file.get(fileKey) ?? 0) + 1);
  }
  const busy = p.samples.length - idle;
  const rank = (m: Map<string, number>) =>
    [...m].map(([label, n]) => ({ label, share: n / busy })).sort((a, b) => b.share - a.share);
  return { functions: rank(fn), files: rank(file), idle: idle / p.samples.length };
}

if (import.meta.main) {
  const path = Deno.args.find((a) => !a.startsWith("--"));
  const top = Number(Deno.args.find((a) => a.startsWith("--top="))?.slice(6) ?? 25);
  if (path === undefined) {
    console.error("usage: cpuprofile_top.ts <file.cpuprofile> [--top=25]");
    Deno.exit(2);
  }
  const p = JSON.parse(await Deno.readTextFile(path)) as CpuProfile;
  const seconds = p.timeDeltas.reduce((a, b) => a + b, 0) / 1e6;
  const { functions, files, idle } = summarize(p);
  console.log(
    `${p.samples.length} samples over ${seconds.toFixed(1)} s, ${
      (idle * 100).toFixed(1)
    }% idle; shares below are of the busy samples\n\nself time by file:`,
  );
  for (const r of files.slice(0, top)) console.log(`${(r.share * 100).toFixed(1)}%  ${r.label}`);
  console.log("\nself time by function:");
  for (const r of functions.slice(0, top)) {
    console.log(`${(r.share * 100).toFixed(1)}%  ${r.label}`);
  }
}
