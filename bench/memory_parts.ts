/**
 * What a member's memory is made of inside the process, workload by workload: starts a member
 * in this process (as bench/inflight_heap.ts does), runs bench:compare's workloads against it
 * one after another with the load generator, and prints after each the RSS, the V8 heap (used
 * and committed), the external memory (ArrayBuffer backing stores) and how much of it is the
 * page file's cache, and malloc's own figures (glibc mallinfo2: bytes in use and free in the
 * arenas). At the end: V8's heap spaces, the ArrayBuffer backing stores grouped by what holds
 * them (a heap snapshot's retainers), and how long one malloc_trim(0) takes and what it gives
 * back. bench/memory_phases.ts measures the real `concord serve` from outside (its peak and
 * smaps); this says what the external memory and the main arena hold.
 *
 *   deno run -A --v8-flags=--heap-growing-percent=100,--max-semi-space-size=8,--expose-gc \
 *     bench/memory_parts.ts [--only=put-1000,txn-put] [--scale=1]
 *
 * docs/perf.md "Peak RSS, sixth session" has its output.
 */
import { heapSnapshot as takeHeapSnapshot } from "./support/inspector.ts";
import v8 from "node:v8";
import { defaultConfig } from "../lib/server/config.ts";
import { startServer } from "../lib/api/member_server.ts";
import { WORKLOADS } from "./compare.ts";
import { COMMON } from "./support/loadgen_process.ts";

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: (string | string[])[];
      edge_fields: string[];
      edge_types: (string | string[])[];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

function heapSnapshot(): Promise<Snapshot> {
  return takeHeapSnapshot<Snapshot>();
}

/**
 * Bytes and count of the ArrayBuffer backing stores, grouped by the chain of their first
 * strong retainers (`Owner.edge < Owner.edge …`, `depth` links, the ArrayBuffer itself left
 * out), largest first.
 */
export function backingStoresByOwner(s: Snapshot, depth = 4): [string, number, number][] {
  const nf = s.snapshot.meta.node_fields;
  const ef = s.snapshot.meta.edge_fields;
  const NW = nf.length;
  const EW = ef.length;
  const fType = nf.indexOf("type");
  const fName = nf.indexOf("name");
  const fSize = nf.indexOf("self_size");
  const fEdges = nf.indexOf("edge_count");
  const eType = ef.indexOf("type");
  const eName = ef.indexOf("name_or_index");
  const eTo = ef.indexOf("to_node");
  const nodeTypes = s.snapshot.meta.node_types[0] as string[];
  const edgeTypes = s.snapshot.meta.edge_types[0] as string[];
  const n = s.nodes.length / NW;
  const retainer = new Int32Array(n).fill(-1);
  const retainerEdge = new Int32Array(n).fill(-1);
  let e = 0;
  for (let i = 0; i < n; i++) {
    const count = s.nodes[i * NW + fEdges];
    for (let k = 0; k < count; k++, e += EW) {
      const to = s.edges[e + eTo] / NW;
      const type = edgeTypes[s.edges[e + eType]];
      if (type === "weak" || type === "shortcut") continue;
      if (retainer[to] === -1) {
        retainer[to] = i;
        retainerEdge[to] = e;
      }
    }
  }
  const nodeName = (i: number) => {
    const type = nodeTypes[s.nodes[i * NW + fType]];
    const name = s.strings[s.nodes[i * NW + fName]];
    return type === "object" || type === "native" || type === "closure" ? name.slice(0, 40) : type;
  };
  const edgeName = (at: number) => {
    const type = edgeTypes[s.edges[at + eType]];
    const v = s.edges[at + eName];
    return type === "element" || type === "hidden" ? `[${type}]` : s.strings[v].slice(0, 30);
  };
  const groups = new Map<string, [number, number]>();
  for (let i = 0; i < n; i++) {
    if (s.strings[s.nodes[i * NW + fName]] !== "system / JSArrayBufferData") continue;
    const parts: string[] = [];
    let cur = i;
    while (retainer[cur] !== -1 && parts.length < depth) {
      const r = retainer[cur];
      const label = `${nodeName(r)}.${edgeName(retainerEdge[cur])}`;
      if (!/^(Shared)?ArrayBuffer\./.test(label)) parts.push(label);
      cur = r;
    }
    const key = parts.join(" < ");
    const g = groups.get(key) ?? [0, 0];
    g[0] += s.nodes[i * NW + fSize];
    g[1]++;
    groups.set(key, g);
  }
  return [...groups].map(([k, [b, c]]) => [k, b, c] as [string, number, number])
    .sort((a, b) => b[1] - a[1]);
}

const mib = (n: number) => (n / 1048576).toFixed(1);

/** glibc's mallinfo2 (all arenas): [arena bytes from sbrk/heaps, mmapped, in use, free]. */
function mallinfo(lib: Deno.DynamicLibrary<typeof LIBC>): string {
  const raw = lib.symbols.mallinfo2() as Uint8Array;
  const v = new BigUint64Array(raw.buffer, raw.byteOffset, 10);
  const f = (i: number) => mib(Number(v[i]));
  return `malloc arenas ${f(0)} (in use ${f(7)}, free ${f(8)}) mmapped ${f(4)}`;
}

const LIBC = {
  mallinfo2: { parameters: [], result: { struct: Array(10).fill("usize") } },
  malloc_trim: { parameters: ["usize"], result: "i32" },
} as const;

async function main(): Promise<void> {
  let only: Set<string> | undefined;
  let scale = 1;
  for (const a of Deno.args) {
    if (a.startsWith("--only=")) only = new Set(a.slice(7).split(","));
    else if (a.startsWith("--scale=")) scale = Number(a.slice(8));
    else throw new Error(`unknown flag ${a} (--only= --scale=)`);
  }
  const libc = Deno.dlopen("libc.so.6", LIBC);
  const dir = await Deno.makeTempDir({ prefix: "concord-parts-" });
  const cfg = defaultConfig("parts");
  cfg.dataDir = dir;
  cfg.listenClientUrls = [new URL("http://127.0.0.1:0")];
  const server = await startServer(cfg, { log: () => {} });
  const show = (name: string) => {
    const m = Deno.memoryUsage();
    const s = server.member.backend.dbStats();
    const rss = Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))?.[1]);
    console.log(
      `${name}: RSS ${(rss / 1024).toFixed(1)} MiB; V8 heap ${mib(m.heapUsed)} / ${
        mib(m.heapTotal)
      }; external ${mib(m.external)}, of which page cache ${mib(s.cachedBytes)} (file ${
        mib(s.fileBytes)
      }); ${mallinfo(libc)}`,
    );
  };
  try {
    console.log(`load average ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    show("start");
    for (const w of WORKLOADS.filter((w) => !only || only.has(w.name))) {
      const args = w.args.map((a) =>
        a.startsWith("--total=")
          ? `--total=${Math.max(1, Math.round(Number(a.slice(8)) * scale))}`
          : a
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("./loadgen/main.ts", import.meta.url).pathname,
          ...args,
          ...COMMON,
          `--endpoints=${server.clientUrls[0]}`,
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!out.success) throw new Error(`${w.name}: ${new TextDecoder().decode(out.stderr)}`);
      show(w.name);
    }
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc) {
      gc();
      show("after a full GC");
    }
    const t0 = performance.now();
    libc.symbols.malloc_trim(0n);
    console.log(`malloc_trim(0) took ${(performance.now() - t0).toFixed(1)} ms`);
    show("after malloc_trim");
    console.log("\nV8 heap spaces (committed / used MiB):");
    for (const sp of v8.getHeapSpaceStatistics()) {
      if (sp.space_size > 0) {
        console.log(`  ${sp.space_name}: ${mib(sp.space_size)} / ${mib(sp.space_used_size)}`);
      }
    }
    console.log("\nArrayBuffer backing stores by holder (MiB, count):");
    for (const [k, b, c] of backingStoresByOwner(await heapSnapshot()).slice(0, 8)) {
      console.log(`${mib(b).padStart(7)} ${String(c).padStart(7)}  ${k}`);
    }
    console.log(`load average ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  } finally {
    await server.close();
    libc.close();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
