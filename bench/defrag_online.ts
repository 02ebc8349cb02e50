/**
 * Defragmentation under traffic: Concord's online defrag beside etcd 3.4's blocking one, on the
 * same data and the same load, each server a separate process started with etcd's flags.
 *
 *   deno run -A bench/defrag_online.ts [--size-mib=512] [--value-bytes=16384] [--rate=200]
 *                                      [--window-s=5] [--servers=etcd,concord]
 *
 * For each server: fill the page file to about --size-mib with values under two prefixes,
 * delete one prefix and compact physically (half the file becomes free pages), then run an
 * open-loop load of puts (new small keys) and serializable gets (of kept keys) at --rate each
 * per second. After --window-s seconds of load a Defragment is sent (the RPC `etcdctl defrag`
 * sends); the load goes on until --window-s seconds after it returns. Each request's latency
 * is measured from the moment it was due (so a server that stops answering for 3 s shows 3 s,
 * not one slow request), and reported for the requests due before the defrag and during it.
 * Every acknowledged put is read back afterwards. The page file's size is sampled every 50 ms
 * during the defrag: its peak is what the old file grew to while the copy was made (copy-on-
 * write keeps the copied snapshot's pages; Concord's writes go on meanwhile). Timings on this
 * shared 2-core machine are noisy: compare the two servers within one run.
 */
import { Client, grpcTransport } from "../lib/client/mod.ts";
import { BenchCluster, procCpuSeconds, startTaskV8Flags } from "./cluster.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const MIB = 1 << 20;

interface Flags {
  sizeMiB: number;
  valueBytes: number;
  rate: number;
  windowS: number;
  servers: ("etcd" | "concord")[];
}

function parseFlags(argv: string[]): Flags {
  const f: Flags = {
    sizeMiB: 512,
    valueBytes: 16384,
    rate: 200,
    windowS: 5,
    servers: ["etcd", "concord"],
  };
  for (const a of argv) {
    const m = /^--([a-z-]+)=(.*)$/.exec(a);
    if (!m) throw new Error(`bad flag ${a}`);
    const [, k, v] = m;
    if (k === "size-mib") f.sizeMiB = Number(v);
    else if (k === "value-bytes") f.valueBytes = Number(v);
    else if (k === "rate") f.rate = Number(v);
    else if (k === "window-s") f.windowS = Number(v);
    else if (k === "servers") {
      f.servers = v.split(",").map((s) => {
        if (s !== "etcd" && s !== "concord") throw new Error(`unknown server ${s}`);
        return s;
      });
    } else throw new Error(`unknown flag --${k}`);
  }
  return f;
}

async function start(kind: "etcd" | "concord", logDir: string): Promise<BenchCluster> {
  const quota = ["--quota-backend-bytes=8589934592"];
  const { cluster, error } = kind === "etcd"
    ? await BenchCluster.start("etcd", 1, "etcd", [], logDir, ROOT, () => [
      "--logger=zap",
      "--log-level=error",
      ...quota,
    ])
    : await BenchCluster.start(
      "concord",
      1,
      Deno.execPath(),
      ["run", "-A", ...startTaskV8Flags(), "main.ts", "serve"],
      logDir,
      ROOT,
      () => quota,
    );
  if (error) {
    await cluster.stop();
    throw new Error(error);
  }
  return cluster;
}

/** A value that does not compress to nothing. */
function valueOf(i: number, bytes: number): Uint8Array {
  const v = new Uint8Array(bytes);
  let x = (i * 2654435761) >>> 0;
  for (let j = 0; j < bytes; j += 4) {
    x = (x * 1664525 + 1013904223) >>> 0;
    v[j] = x & 0xff;
  }
  return v;
}

async function fill(c: Client, f: Flags): Promise<number> {
  const n = Math.ceil((f.sizeMiB * MIB) / f.valueBytes);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      const prefix = i % 2 === 0 ? "keep/" : "drop/";
      await c.put(`${prefix}${String(i).padStart(8, "0")}`, valueOf(i, f.valueBytes));
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return n;
}

interface Sample {
  due: number;
  ms: number;
  kind: "put" | "get";
  ok: boolean;
}

/** Why requests failed, by message (etcd refuses proposals while its apply lags). */
const failures = new Map<string, number>();

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

function summary(samples: Sample[], kind: "put" | "get"): string {
  const ms = samples.filter((s) => s.kind === kind && s.ok).map((s) => s.ms);
  const failed = samples.filter((s) => s.kind === kind && !s.ok).length;
  return `${kind} n=${ms.length} p50=${pct(ms, 50).toFixed(1)} p99=${pct(ms, 99).toFixed(1)} ` +
    `max=${Math.max(...ms).toFixed(1)} ms${failed ? ` failed=${failed}` : ""}`;
}

async function runOne(kind: "etcd" | "concord", f: Flags, logDir: string): Promise<void> {
  const server = await start(kind, logDir);
  const url = server.members[0].clientUrl;
  const c = new Client({ endpoints: [url], transport: grpcTransport(), timeoutMs: 120_000 });
  try {
    const t0 = performance.now();
    const n = await fill(c, f);
    const fillS = (performance.now() - t0) / 1000;
    await c.kv.delete("drop/", { prefix: true });
    const rev = (await c.kv.range("keep/00000000")).header!.revision;
    await c.kv.compact(rev, { physical: true });
    const st = await c.maintenance.status({ endpoint: url });
    console.log(
      `${kind}: filled ${n} x ${f.valueBytes} B in ${fillS.toFixed(0)} s; db ` +
        `${(Number(st.dbSize) / MIB).toFixed(0)} MiB, in use ` +
        `${(Number(st.dbSizeInUse) / MIB).toFixed(0)} MiB`,
    );

    // the open-loop load
    const samples: Sample[] = [];
    const acked: string[] = [];
    const inflight = new Set<Promise<void>>();
    let seq = 0;
    const startAt = performance.now();
    let stopAt = Infinity;
    const period = 1000 / f.rate;
    let dueNext = startAt;
    const issue = (due: number, op: "put" | "get") => {
      const p = (async () => {
        let ok = true;
        try {
          if (op === "put") {
            const key = `load/${String(seq++).padStart(8, "0")}`;
            await c.put(key, "x".repeat(100));
            acked.push(key);
          } else {
            const i = 2 * Math.floor(Math.random() * (n / 2));
            await c.kv.range(`keep/${String(i).padStart(8, "0")}`, { serializable: true });
          }
        } catch (err) {
          ok = false;
          const msg = err instanceof Error ? err.message : String(err);
          failures.set(msg, (failures.get(msg) ?? 0) + 1);
        }
        samples.push({ due, ms: performance.now() - due, kind: op, ok });
      })();
      inflight.add(p);
      p.finally(() => inflight.delete(p));
    };
    const ticker = setInterval(() => {
      const now = performance.now();
      while (dueNext <= now && dueNext < stopAt) {
        issue(dueNext, "put");
        issue(dueNext, "get");
        dueNext += period;
      }
    }, 2);
    const pid = server.members[0].proc.pid;
    const cpu0 = procCpuSeconds(pid);
    await new Promise((r) => setTimeout(r, f.windowS * 1000));
    const d0 = performance.now();
    const cpu1 = procCpuSeconds(pid);
    const dbPath = `${server.dir}/${server.members[0].name}/member/snap/db`;
    const dbBefore = (await Deno.stat(dbPath)).size;
    let dbPeak = dbBefore;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        // (absent for a moment while a copy is renamed over it)
        const st = await Deno.stat(dbPath).catch(() => null);
        if (st !== null && sampling) dbPeak = Math.max(dbPeak, st.size);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await c.maintenance.defragment({ endpoint: url, timeoutMs: 3_600_000 });
    sampling = false;
    await sampler;
    const d1 = performance.now();
    const cpu2 = procCpuSeconds(pid);
    await new Promise((r) => setTimeout(r, f.windowS * 1000));
    stopAt = performance.now();
    clearInterval(ticker);
    while (inflight.size > 0) await Promise.all([...inflight]);
    const after = await c.maintenance.status({ endpoint: url });

    const before = samples.filter((s) => s.due < d0 && s.due >= d0 - f.windowS * 1000);
    const during = samples.filter((s) => s.due >= d0 && s.due < d1);
    console.log(
      `${kind}: defrag took ${((d1 - d0) / 1000).toFixed(2)} s; db after ` +
        `${(Number(after.dbSize) / MIB).toFixed(0)} MiB; peak RSS ` +
        `${(server.peakRss()[0] / 1024).toFixed(0)} MiB; the old file ` +
        `${(dbBefore / MIB).toFixed(1)} MiB before, at most ${(dbPeak / MIB).toFixed(1)} ` +
        `MiB during it`,
    );
    const busy = (cpu: number, ms: number) => `${((100 * cpu) / (ms / 1000)).toFixed(0)}% CPU`;
    console.log(
      `  before defrag (${busy(cpu1 - cpu0, f.windowS * 1000)}): ${summary(before, "put")}; ` +
        summary(before, "get"),
    );
    console.log(
      `  during defrag (${busy(cpu2 - cpu1, d1 - d0)}): ${summary(during, "put")}; ` +
        summary(during, "get"),
    );

    // every acknowledged put is there
    const got = await c.kv.range("load/", { prefix: true, keysOnly: true });
    const have = new Set(got.kvs.map((kv) => new TextDecoder().decode(kv.key)));
    const missing = acked.filter((k) => !have.has(k));
    console.log(`  acknowledged puts: ${acked.length}, missing afterwards: ${missing.length}`);
    for (const [msg, n] of failures) console.log(`  failed ${n} times: ${msg}`);
    failures.clear();
    if (missing.length > 0) throw new Error(`${kind} lost ${missing.length} acknowledged puts`);
  } finally {
    await c.close();
    await server.stop();
  }
}

if (import.meta.main) {
  const f = parseFlags(Deno.args);
  const logDir = await Deno.makeTempDir({ prefix: "concord-defrag-bench-" });
  console.log(
    `defrag under load: ~${f.sizeMiB} MiB page file (${f.valueBytes} B values), ` +
      `${f.rate} puts/s + ${f.rate} gets/s, logs in ${logDir}`,
  );
  for (const kind of f.servers) await runOne(kind, f, logDir);
}
