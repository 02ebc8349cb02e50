/**
 * Restart time (issue 17): how long a member with a large data dir takes from its process
 * starting to its first answered linearizable Range, for `concord serve` and Debian's etcd 3.4
 * on the same data, in alternating rounds.
 *
 * Each server is filled through its API with the same workload: `--puts` puts of `--val-size`
 * byte values over `--keys` keys (`rs/0000000`, … in a shuffled order, `--inflight` at a time),
 * every tenth key deleted, a compaction at the revision half-way through the puts (so the page
 * file holds history and free pages), then `--tail` more puts after it (the WAL's tail past
 * the last snapshot). It is stopped with SIGTERM, then restarted `--rounds` times per server,
 * alternating etcd and Concord, each round timed from spawn to the first linearizable Range
 * answered (polled every 10 ms through lib/client), and stopped cleanly again. Then the kill
 * variant: the server is started, `--tail` more puts are made, it is killed with SIGKILL, and
 * the next start (which replays the WAL's tail into the page file) is timed, `--rounds` times.
 *
 *   deno task bench:restart [--size-mb=512] [--val-size=2000] [--keys=N] [--inflight=128]
 *                           [--tail=5000] [--rounds=3] [--only=etcd|concord] [--keep]
 *                           [--baseline=/work/main] [--reuse=DIR]
 *
 * `--size-mb` sets `--puts` (size-mb MiB / val-size) unless given. Data dirs are under /tmp and
 * removed at the end unless `--keep`. Concord runs as `deno task start` runs it (the same
 * --v8-flags) with `--log-level=info`, so its log (kept beside the data dir with `--keep`)
 * shows where its start-up time goes (docs/perf.md, "Restart time"). `--baseline=DIR` also
 * restarts the Concord of another checkout (e.g. /work/main) on the same data dir, in the same
 * alternation: before and after a change in one run. `--reuse=DIR` restarts the data dirs a
 * `--keep` run left (filled with the same flags) instead of filling new ones. Times are this machine's
 * at this moment: the machine is shared, so the load average is printed with them.
 */
import { Client } from "../lib/client/mod.ts";
import {
  freePort,
  memberAddrs,
  memberArgs,
  peakRssKiB,
  type ServerKind,
  startTaskV8Flags,
  stopProcess,
} from "./cluster.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DENO = Deno.execPath();

interface Flags {
  puts: number;
  valSize: number;
  keys: number;
  inflight: number;
  tail: number;
  rounds: number;
  only?: ServerKind;
  keep: boolean;
  /** A checkout of Concord to restart beside this one, on the same data (before/after). */
  baseline?: string;
  /** A data dir left by `--keep` with the same fill flags: restart it, skip the fill. */
  reuse?: string;
}

function parseFlags(args: string[]): Flags {
  let sizeMb = 512;
  let valSize = 2000;
  let puts: number | undefined;
  let keys: number | undefined;
  const f = { inflight: 128, tail: 5000, rounds: 3, keep: false } as Omit<
    Flags,
    "puts" | "keys" | "valSize"
  >;
  for (const a of args) {
    const [name, value] = a.split("=", 2);
    const n = Number(value);
    if (name === "--size-mb") sizeMb = n;
    else if (name === "--val-size") valSize = n;
    else if (name === "--puts") puts = n;
    else if (name === "--keys") keys = n;
    else if (name === "--inflight") f.inflight = n;
    else if (name === "--tail") f.tail = n;
    else if (name === "--rounds") f.rounds = n;
    else if (name === "--only" && (value === "etcd" || value === "concord")) f.only = value;
    else if (name === "--keep") f.keep = true;
    else if (name === "--baseline" && value) f.baseline = value;
    else if (name === "--reuse" && value) f.reuse = value;
    else {
      throw new Error(
        `unknown flag ${a} (flags: --size-mb=N --val-size=N --puts=N --keys=N --inflight=N ` +
          `--tail=N --rounds=N --only=etcd|concord --keep --baseline=DIR --reuse=DIR)`,
      );
    }
  }
  const p = puts ?? Math.ceil(sizeMb * 1024 * 1024 / valSize);
  const full = { ...f, valSize, puts: p, keys: keys ?? Math.ceil(p / 2) };
  for (const [k, v] of Object.entries(full)) {
    if (typeof v === "number" && (!Number.isInteger(v) || v < 0)) {
      throw new Error(`--${k} must be a non-negative integer`);
    }
  }
  if (full.keys < 10 || full.puts < 2 || full.rounds < 1) {
    throw new Error("need --keys >= 10, --puts >= 2, --rounds >= 1");
  }
  return full;
}

/** One server's data dir and the addresses it always runs on. */
interface Server {
  kind: ServerKind;
  /** What the tables call it: etcd, concord, or concord-baseline (--baseline's checkout). */
  label: string;
  /** The checkout Concord runs from (its main.ts and deno.json). */
  root: string;
  dir: string;
  args: string[];
  clientUrl: string;
  logPath: string;
}

function newServer(kind: ServerKind, base: string, label: string = kind, root = ROOT): Server {
  const addrs = memberAddrs(1, freePort);
  const dir = `${base}/${kind}`;
  return {
    kind,
    label,
    root,
    dir,
    // etcd's default 2 GiB quota would stop a 2 GiB fill: both get 8 GiB
    args: [...memberArgs(addrs, 0, dir), `--quota-backend-bytes=${8 * 2 ** 30}`],
    clientUrl: addrs[0].clientUrl,
    logPath: `${base}/${label}.log`,
  };
}

/** Spawns the server on its data dir, its stderr appended to its log. */
async function spawn(s: Server): Promise<Deno.ChildProcess> {
  const log = await Deno.open(s.logPath, { write: true, create: true, append: true });
  const [cmd, args] = s.kind === "etcd"
    ? ["etcd", [...s.args, "--logger=zap", "--log-level=info"]]
    : [DENO, [
      "run",
      "-A",
      ...startTaskV8Flags(s.root),
      "main.ts",
      "serve",
      ...s.args,
      "--log-level=info",
    ]];
  const proc = new Deno.Command(cmd, {
    args,
    cwd: s.root,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  void proc.stderr.pipeTo(log.writable).catch(() => undefined);
  return proc;
}

/**
 * Polls with a linearizable Range until one is answered; returns the milliseconds since
 * `t0`. Throws when the process exits or `limitMs` pass.
 */
async function untilServing(
  s: Server,
  proc: Deno.ChildProcess,
  t0: number,
  limitMs: number,
): Promise<number> {
  let exited: Deno.CommandStatus | undefined;
  proc.status.then((st) => (exited = st));
  let last = "";
  while (performance.now() - t0 < limitMs) {
    if (exited) throw new Error(`${s.label} exited with code ${exited.code} (log ${s.logPath})`);
    const client = new Client({ endpoints: s.clientUrl, timeoutMs: 2000 });
    try {
      await client.range("rs/probe");
      return performance.now() - t0;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    } finally {
      await client.close();
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${s.label} not serving within ${limitMs} ms: ${last} (log ${s.logPath})`);
}

/** Runs `n` calls of `fn` with at most `inflight` outstanding. */
async function pool(n: number, inflight: number, fn: (i: number) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inflight, n) }, worker));
}

const key = (i: number) => `rs/${String(i).padStart(7, "0")}`;

/** The i-th put's key number: a fixed permutation of the key space (every key gets a history). */
const putKey = (i: number, keys: number) => (i * 7919) % keys;

/** Keys under rs/0…rs/9 live after the fill: put, less every tenth deleted, plus the tail's. */
function liveAfterFill(f: Flags): number {
  const live = new Set<number>();
  for (let i = 0; i < f.puts; i++) live.add(putKey(i, f.keys));
  for (let i = 0; i < Math.floor(f.keys / 10); i++) live.delete(i * 10);
  for (let i = 0; i < f.tail; i++) live.add(putKey(i, f.keys));
  return live.size;
}

function valueOf(size: number): Uint8Array {
  const v = new Uint8Array(size);
  for (let i = 0; i < size; i++) v[i] = (i * 31 + 7) & 0xff;
  return v;
}

/** Fills a fresh server with the workload and stops it cleanly; returns its fill seconds. */
async function fill(s: Server, f: Flags): Promise<number> {
  const proc = await spawn(s);
  const t0 = performance.now();
  await untilServing(s, proc, t0, 60_000);
  const client = new Client({ endpoints: s.clientUrl, timeoutMs: 600_000 });
  try {
    const value = valueOf(f.valSize);
    const half = Math.floor(f.puts / 2);
    await pool(half, f.inflight, (i) => client.put(key(putKey(i, f.keys)), value));
    const mid = (await client.put("rs/mid", "x")).header!.revision;
    await pool(f.puts - half, f.inflight, (i) => client.put(key(putKey(half + i, f.keys)), value));
    await pool(Math.floor(f.keys / 10), f.inflight, (i) => client.kv.delete(key(i * 10)));
    await client.kv.compact(mid, { physical: true });
    await pool(f.tail, f.inflight, (i) => client.put(key(putKey(i, f.keys)), value));
  } finally {
    await client.close();
  }
  const took = (performance.now() - t0) / 1000;
  await stopProcess(proc, "SIGTERM", 30_000);
  return took;
}

/** Starts the server, times its first linearizable Range, checks the data, and stops it. */
async function timedStart(
  s: Server,
  expect: number,
): Promise<{ ms: number; rssMiB: number }> {
  const t0 = performance.now();
  const proc = await spawn(s);
  try {
    const ms = await untilServing(s, proc, t0, 120_000);
    // peak resident memory up to the first answer: what the start itself needed
    const rssMiB = peakRssKiB(proc.pid) / 1024;
    const client = new Client({ endpoints: s.clientUrl, timeoutMs: 60_000 });
    try {
      const r = await client.range("rs/0", { end: "rs/9", countOnly: true });
      if (Number(r.count) !== expect) {
        throw new Error(`${s.label}: ${r.count} keys after restart, expected ${expect}`);
      }
    } finally {
      await client.close();
    }
    return { ms, rssMiB };
  } catch (err) {
    await stopProcess(proc, "SIGKILL", 30_000);
    throw err;
  } finally {
    await stopProcess(proc, "SIGTERM", 30_000);
  }
}

/**
 * Starts the server, makes `--tail` puts, kills it with SIGKILL; the next start replays. The
 * puts overwrite keys rs/kill/0…999 (outside the counted rs/0…rs/9), so every round leaves
 * the same count.
 */
async function putAndKill(s: Server, f: Flags): Promise<void> {
  const proc = await spawn(s);
  try {
    await untilServing(s, proc, performance.now(), 120_000);
    const client = new Client({ endpoints: s.clientUrl, timeoutMs: 600_000 });
    try {
      const value = valueOf(f.valSize);
      await pool(f.tail, f.inflight, (i) => client.put(`rs/kill/${i % 1000}`, value));
    } finally {
      await client.close();
    }
  } finally {
    await stopProcess(proc, "SIGKILL", 30_000);
  }
}

const dbSize = (s: Server) => Deno.statSync(`${s.dir}/member/snap/db`).size;

function walSize(s: Server): number {
  let n = 0;
  for (const e of Deno.readDirSync(`${s.dir}/member/wal`)) {
    if (e.isFile) n += Deno.statSync(`${s.dir}/member/wal/${e.name}`).size;
  }
  return n;
}

const loadavg = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (import.meta.main) {
  const f = parseFlags(Deno.args);
  const kinds: ServerKind[] = f.only ? [f.only] : ["etcd", "concord"];
  const base = f.reuse ?? await Deno.makeTempDir({ dir: "/tmp", prefix: "concord-restart-" });
  const servers = kinds.map((k) => newServer(k, base));
  // the baseline checkout's Concord restarts on the same data dir as this one's
  if (f.baseline && kinds.includes("concord")) {
    servers.push(newServer("concord", base, "concord-baseline", f.baseline));
  }
  const expect = liveAfterFill(f);
  console.log(
    `${f.puts} puts of ${f.valSize} B over ${f.keys} keys (${f.inflight} in flight), every ` +
      `tenth key deleted, compacted half-way, ${f.tail} puts after (${expect} keys live); ` +
      `data in ${base}`,
  );
  try {
    for (const s of servers) {
      if (f.reuse || s.label !== s.kind) continue;
      const secs = await fill(s, f);
      console.log(
        `${s.label}: filled in ${secs.toFixed(1)} s; page file ${
          (dbSize(s) / 2 ** 20).toFixed(0)
        } MiB, WAL ${(walSize(s) / 2 ** 20).toFixed(0)} MiB (load ${loadavg()})`,
      );
    }
    const times = new Map<string, number[]>();
    const record = (what: string, r: { ms: number; rssMiB: number }) => {
      times.set(what, [...(times.get(what) ?? []), r.ms]);
      console.log(
        `  ${what}: ${(r.ms / 1000).toFixed(2)} s, peak RSS ${r.rssMiB.toFixed(0)} MiB ` +
          `(load ${loadavg()})`,
      );
    };
    for (let r = 0; r < f.rounds; r++) {
      for (const s of servers) record(`${s.label} clean restart`, await timedStart(s, expect));
    }
    for (let r = 0; r < f.rounds; r++) {
      for (const s of servers) {
        await putAndKill(s, f);
        record(`${s.label} after kill -9`, await timedStart(s, expect));
      }
    }
    console.log("\n| start | median s | rounds s |\n|---|---:|---|");
    for (const [what, ms] of times) {
      console.log(
        `| ${what} | ${(median(ms) / 1000).toFixed(2)} | ${
          ms.map((x) => (x / 1000).toFixed(2)).join(", ")
        } |`,
      );
    }
    for (const s of servers) {
      if (s.label !== s.kind) continue;
      console.log(
        `${s.label}: page file ${(dbSize(s) / 2 ** 20).toFixed(0)} MiB, WAL ${
          (walSize(s) / 2 ** 20).toFixed(0)
        } MiB at the end`,
      );
    }
  } finally {
    if (f.keep || f.reuse) console.log(`kept ${base}`);
    else await Deno.remove(base, { recursive: true });
  }
}
