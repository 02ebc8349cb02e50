/**
 * What a server's heap holds per request in flight: starts a member in this process, warms it
 * up, takes a heap snapshot idle, then, while a load generator keeps many requests in flight,
 * takes snapshots at moments when at least --pending proposals wait for their commit, and
 * prints the live heap over idle per open HTTP/2 stream (H2Stream objects), and by constructor.
 *
 *   deno run -A bench/inflight_heap.ts [--requests=60000] [--samples=3] [--pending=300]
 *     [--top=30] [-- <loadgen workload args>]
 *
 * The workload defaults to put-1000 (bench:compare's `put --clients=1000 --conns=100`).
 * Objects held while a request waits for its commit survive the young generation under
 * load, are promoted and make the old generation's garbage; this measures them directly, where
 * bench/alloc_profile.ts measures everything allocated. docs/perf.md "Memory per request,
 * fifth session" has its figures.
 */
import { heapSnapshot as takeHeapSnapshot } from "./support/inspector.ts";
import { runLoadgen, spawnLoadgen, splitWorkload, withTotal } from "./support/loadgen_process.ts";
import { startInProcessMember } from "./support/inprocess_member.ts";

const { own, workload } = splitWorkload(Deno.args);
const flag = (name: string, def: number) =>
  Number(own.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def);
const requests = flag("requests", 60000);
const samples = flag("samples", 3);
const topN = flag("top", 30);
const threshold = flag("pending", 300);

const member = await startInProcessMember("inflight");
const server = member.server;

function loadgen(total: number): Deno.ChildProcess {
  return spawnLoadgen({
    args: withTotal(workload, total),
    endpoints: member.endpoint,
    stdout: "null",
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: (string | string[])[] } };
  nodes: number[];
  strings: string[];
}

/** Self size and count by "type:name" of every node of a heap snapshot. */
function byConstructor(s: Snapshot): Map<string, { count: number; size: number }> {
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0] as string[];
  const width = fields.length;
  const fType = fields.indexOf("type");
  const fName = fields.indexOf("name");
  const fSize = fields.indexOf("self_size");
  const out = new Map<string, { count: number; size: number }>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + fType]];
    const name = type === "string" || type === "concatenated string" || type === "sliced string"
      ? "(string)"
      : s.strings[s.nodes[i + fName]];
    const size = s.nodes[i + fSize];
    // backing stores by size class (powers of 4), to tell request bodies from buffers
    const cls = name === "system / JSArrayBufferData"
      ? ` [${size === 0 ? 0 : 4 ** Math.floor(Math.log(size) / Math.log(4))}+ B]`
      : "";
    const k = `${type}:${name.length > 60 ? name.slice(0, 60) + "…" : name}${cls}`;
    const e = out.get(k) ?? { count: 0, size: 0 };
    e.count++;
    e.size += size;
    out.set(k, e);
  }
  return out;
}

function sizeOf(m: Map<string, { count: number; size: number }>): number {
  let n = 0;
  for (const v of m.values()) n += v.size;
  return n;
}

function heapSnapshot(): Promise<Snapshot> {
  return takeHeapSnapshot<Snapshot>();
}

try {
  const warmTotal = Math.max(5000, requests / 6);
  await runLoadgen({
    args: withTotal(workload, warmTotal),
    endpoints: member.endpoint,
    stdout: "null",
  });
  const gen = loadgen(requests);
  let exited = false;
  const status = gen.status.finally(() => (exited = true));
  await sleep(1000);
  // A snapshot collects garbage first, so it holds what is live at the moment it is taken:
  // taken when many proposals wait for their commit, it shows what a request in flight holds.
  let best: Map<string, { count: number; size: number }> | undefined;
  let bestStreams = 0;
  for (let i = 0; i < samples; i++) {
    const until = Date.now() + 10_000;
    while (server.member.proposalsPending < threshold && !exited && Date.now() < until) {
      await sleep(1);
    }
    if (exited) throw new Error("the load ended before the samples: raise --requests");
    const pending = server.member.proposalsPending;
    const snap = byConstructor(await heapSnapshot());
    const streams = snap.get("object:H2Stream")?.count ?? 0;
    console.log(
      `sample ${i}: ${pending} proposals pending, ${streams} H2Stream objects, live heap ${
        sizeOf(snap)
      } bytes`,
    );
    if (streams > bestStreams) {
      best = snap;
      bestStreams = streams;
    }
    await sleep(200);
  }
  gen.kill("SIGKILL");
  await status;
  // The baseline is the heap right after the load: the same data in the store (but for the
  // puts that were in flight at the sample, which commit after it), no request in flight.
  const quiet = Date.now() + 10_000;
  while (server.member.proposalsPending > 0 && Date.now() < quiet) await sleep(10);
  await sleep(300);
  const idleSnap = byConstructor(await heapSnapshot());
  const idleTotal = sizeOf(idleSnap);
  console.log(`load average ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  if (best === undefined) throw new Error("no sample had an open stream");
  const snap = best;
  const streams = bestStreams;
  const over = sizeOf(snap) - idleTotal;
  console.log(
    `live heap ${sizeOf(snap)} bytes with ${streams} streams open, ${idleTotal} after the ` +
      `load: ${over} bytes, ${(over / streams).toFixed(0)} per stream in flight`,
  );
  const rows = [...snap].map(([k, v]) => {
    const base = idleSnap.get(k) ?? { count: 0, size: 0 };
    return { k, count: v.count - base.count, size: v.size - base.size };
  }).filter((r) => r.size > 0).sort((a, b) => b.size - a.size);
  const big = [...snap].filter(([k]) => /JSArrayBufferData \[(16384|65536|262144|1048576)/.test(k))
    .reduce((a, [k, v]) => a + v.size - (idleSnap.get(k)?.size ?? 0), 0);
  console.log(
    `without backing stores of 16 KiB or more (connection buffers): ${
      ((over - big) / streams).toFixed(0)
    } per stream`,
  );
  console.log(
    `\nthe sample with the most streams (${streams}), over idle, by constructor ` +
      `(count and bytes per stream):`,
  );
  for (const r of rows.slice(0, topN)) {
    const per = (x: number) => (x / streams).toFixed(2);
    console.log(`${per(r.count).padStart(8)} ${per(r.size).padStart(10)}  ${r.k}`);
  }
} finally {
  await member.close();
}
