/**
 * Disk footprint: the same workload driven into Debian's etcd 3.4 and into `concord serve`
 * (each a child process on free loopback ports with a temp data dir, started with etcd's
 * flags by bench/cluster.ts), then the size of each page file (`member/snap/db`) printed after
 * the workload and after a defragmentation (the Defragment RPC, which `etcdctl defrag` calls).
 *
 * The workload, per value size: `--count` puts of distinct keys (`fp/0000000`, … with the
 * value's bytes a fixed pattern), `--inflight` calls at a time; every other key deleted;
 * a compaction at the last revision with `physical` (so it returns once the history is gone
 * from the page file); then sizes; then a defragmentation and sizes again. Sizes depend only
 * on the workload and on how each server batches its commits, not on the machine's speed
 * (batches are cut by time, so the figures move by a few pages between runs); the times
 * printed beside them are this machine's at this moment, and noisy.
 *
 *   deno run -A bench/footprint.ts [--count=20000] [--sizes=100,1024,4096] [--inflight=16]
 *                                  [--only=etcd|concord] [--keep] [--save=DIR]
 *
 * The figure was 120,000 puts of 4 KiB; the default count is smaller so that all three
 * sizes on both servers run in a few minutes on a shared 2-core machine (sizes scale with the
 * count: the ratio is what to compare).
 */
import { Client } from "../lib/client/mod.ts";
import { BenchCluster, type ServerKind } from "./cluster.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DENO = Deno.execPath();

interface Flags {
  count: number;
  sizes: number[];
  inflight: number;
  only?: ServerKind;
  keep: boolean;
  /** Copy each page file here before and after the defragmentation (for bench/page_stats.ts). */
  saveDir?: string;
}

function parseFlags(args: string[]): Flags {
  const f: Flags = { count: 20_000, sizes: [100, 1024, 4096], inflight: 16, keep: false };
  for (const a of args) {
    const [name, value] = a.split("=", 2);
    if (name === "--count") f.count = Number(value);
    else if (name === "--sizes") f.sizes = value.split(",").map(Number);
    else if (name === "--inflight") f.inflight = Number(value);
    else if (name === "--only" && (value === "etcd" || value === "concord")) f.only = value;
    else if (name === "--keep") f.keep = true;
    else if (name === "--save") f.saveDir = value;
    else {
      throw new Error(
        `unknown flag ${a} (flags: --count=N --sizes=a,b --inflight=N --only=etcd|concord --keep --save=DIR)`,
      );
    }
  }
  if (!Number.isInteger(f.count) || f.count < 2) throw new Error("--count must be >= 2");
  if (f.sizes.some((s) => !Number.isInteger(s) || s < 0)) throw new Error("bad --sizes");
  return f;
}

/** Sizes of one page file at one moment. */
export interface Sizes {
  /** The file's size on disk (stat). */
  fileBytes: number;
  /** What Status reports: the file's pages (dbSize) and those holding live data. */
  dbSize: number;
  dbSizeInUse: number;
}

/** One server's figures for one value size. */
export interface FootprintResult {
  server: ServerKind;
  valueSize: number;
  count: number;
  loadSeconds: number;
  after: Sizes;
  defragSeconds: number;
  defragged: Sizes;
}

function key(i: number): string {
  return `fp/${String(i).padStart(7, "0")}`;
}

/** Runs `n` calls of `fn` with at most `inflight` outstanding. */
async function pool(n: number, inflight: number, fn: (i: number) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inflight, n) }, worker));
}

async function sizes(client: Client, dbPath: string): Promise<Sizes> {
  const st = await client.maintenance.status();
  return {
    fileBytes: (await Deno.stat(dbPath)).size,
    dbSize: Number(st.dbSize),
    dbSizeInUse: Number(st.dbSizeInUse),
  };
}

async function startServer(kind: ServerKind, logDir: string): Promise<BenchCluster> {
  const { cluster, error } = kind === "etcd"
    ? await BenchCluster.start("etcd", 1, "etcd", [], logDir, ROOT, () => [
      "--logger=zap",
      "--log-level=error",
    ])
    : await BenchCluster.start("concord", 1, DENO, ["run", "-A", "main.ts", "serve"], logDir, ROOT);
  if (error) {
    await cluster.stop();
    throw new Error(`${kind} did not start: ${error}`);
  }
  return cluster;
}

/** Drives the workload into a fresh member of `kind` and measures its page file. */
export async function measure(
  kind: ServerKind,
  valueSize: number,
  count: number,
  inflight: number,
  logDir: string,
  saveDir?: string,
): Promise<FootprintResult> {
  const cluster = await startServer(kind, logDir);
  const client = new Client({ endpoints: cluster.members[0].clientUrl, timeoutMs: 600_000 });
  try {
    const dbPath = `${cluster.dir}/${cluster.members[0].name}/member/snap/db`;
    const value = new Uint8Array(valueSize);
    for (let i = 0; i < valueSize; i++) value[i] = (i * 7 + 1) & 0xff;
    const t0 = performance.now();
    await pool(count, inflight, (i) => client.put(key(i), value));
    await pool(count / 2, inflight, (i) => client.kv.delete(key(2 * i)));
    const rev = (await client.maintenance.status()).header!.revision;
    await client.kv.compact(rev, { physical: true });
    const loadSeconds = (performance.now() - t0) / 1000;
    const after = await sizes(client, dbPath);
    if (saveDir) await Deno.copyFile(dbPath, `${saveDir}/${kind}-${valueSize}.db`);
    const t1 = performance.now();
    await client.maintenance.defragment();
    const defragSeconds = (performance.now() - t1) / 1000;
    const defragged = await sizes(client, dbPath);
    if (saveDir) await Deno.copyFile(dbPath, `${saveDir}/${kind}-${valueSize}-defrag.db`);
    const left = await client.range("fp/", { prefix: true, countOnly: true });
    if (Number(left.count) !== count - Math.ceil(count / 2)) {
      throw new Error(`${kind}: ${left.count} keys left, expected ${count - Math.ceil(count / 2)}`);
    }
    return { server: kind, valueSize, count, loadSeconds, after, defragSeconds, defragged };
  } finally {
    await client.close();
    await cluster.stop();
  }
}

const mb = (b: number) => (b / 1e6).toFixed(2);

if (import.meta.main) {
  const flags = parseFlags(Deno.args);
  const logDir = await Deno.makeTempDir({ prefix: "concord-footprint-logs-" });
  const kinds: ServerKind[] = flags.only ? [flags.only] : ["etcd", "concord"];
  const results: FootprintResult[] = [];
  console.log(
    `${flags.count} puts per value size (every other key then deleted, compacted), ` +
      `${flags.inflight} in flight; sizes in MB (10^6 bytes); times noisy (shared machine)`,
  );
  console.log(
    "| value | server | file | in use | after defrag | in use | load s | defrag s |\n" +
      "|---:|---|---:|---:|---:|---:|---:|---:|",
  );
  try {
    for (const size of flags.sizes) {
      for (const kind of kinds) {
        const r = await measure(kind, size, flags.count, flags.inflight, logDir, flags.saveDir);
        results.push(r);
        console.log(
          `| ${size} B | ${kind} | ${mb(r.after.fileBytes)} | ${mb(r.after.dbSizeInUse)} | ${
            mb(r.defragged.fileBytes)
          } | ${mb(r.defragged.dbSizeInUse)} | ${r.loadSeconds.toFixed(1)} | ${
            r.defragSeconds.toFixed(2)
          } |`,
        );
      }
      const e = results.find((r) => r.server === "etcd" && r.valueSize === size);
      const c = results.find((r) => r.server === "concord" && r.valueSize === size);
      if (e && c) {
        console.log(
          `|  | concord/etcd | ${(c.after.fileBytes / e.after.fileBytes).toFixed(2)}x | ${
            (c.after.dbSizeInUse / e.after.dbSizeInUse).toFixed(2)
          }x | ${(c.defragged.fileBytes / e.defragged.fileBytes).toFixed(2)}x | ${
            (c.defragged.dbSizeInUse / e.defragged.dbSizeInUse).toFixed(2)
          }x |  | ${(c.defragSeconds / e.defragSeconds).toFixed(2)}x |`,
        );
      }
    }
  } finally {
    if (!flags.keep) await Deno.remove(logDir, { recursive: true });
    else console.log(`logs in ${logDir}`);
  }
}
