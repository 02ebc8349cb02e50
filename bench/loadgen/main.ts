/**
 * Concord's load generator, modeled on etcd's benchmark tool (tools/benchmark): it drives any
 * etcd v3 gRPC endpoint (etcd or Concord) and prints etcd's report (summary, histogram, latency
 * distribution), plus the generator's own CPU per request, since it shares the machine with the
 * server under test.
 *
 *   deno run -A bench/loadgen/main.ts <command> [flags]
 *   deno task loadgen put --endpoints=127.0.0.1:2379 --clients=1000 --conns=100 --total=100000
 *
 * Commands: put, range <key> [end], txn-put, watch, lease-keepalive. Flags (etcd's names):
 *   --endpoints=a,b   endpoints, host:port or URL (default 127.0.0.1:2379)
 *   --conns=N         HTTP/2 connections (default 1)       --clients=N  concurrent clients (default 1)
 *   --total=N         requests (default 10000)             --key-size=N --val-size=N (8)
 *   --key-space-size=N (1)  --sequential-keys             --consistency=l|s (range; default l)
 *   --limit=N (range) --txn-ops=N (txn-put; 1)            --watch-per-stream=N (watch; 1)
 *   --lease-ttl=N (lease-keepalive; 60)                   --seed=N --json (one JSON line only)
 *   --put-rate=N      watch: put at N/s without waiting for the watchers (watch_paced.ts;
 *                     default 0: each put waits until every watcher saw the previous one)
 *   --transport=h2|fetch|connect  the gRPC client (default h2; see conns.ts)
 */
import process from "node:process";
import { Rand } from "../../lib/base/rand.ts";
import { type ClientTransport, openPool } from "./conns.ts";
import { formatReport, type JsonSummary, jsonSummary } from "./report.ts";
import { summarize } from "./stats.ts";
import {
  leaseKeepAliveWorkload,
  putWorkload,
  rangeWorkload,
  type RawRun,
  runClosedLoop,
  runWatch,
  txnPutWorkload,
  type WorkloadOptions,
} from "./workloads.ts";
import { runWatchPaced } from "./watch_paced.ts";
import {
  fastPut,
  fastRange,
  fastTxnPut,
  runFastClosedLoop,
  runFastKeepAlive,
} from "./fast_loop.ts";

/** Commands the generator knows. */
export const COMMANDS = ["put", "range", "txn-put", "watch", "lease-keepalive"] as const;
/** One of COMMANDS. */
export type Command = typeof COMMANDS[number];

/** Parsed command line. */
export interface LoadgenArgs {
  command: Command;
  endpoints: string[];
  conns: number;
  transport: ClientTransport;
  seed: number;
  json: boolean;
  opts: WorkloadOptions;
}

const BOOLEAN = new Set(["sequential-keys", "json"]);
const KNOWN = new Set([
  "endpoints",
  "conns",
  "clients",
  "total",
  "key-size",
  "val-size",
  "key-space-size",
  "sequential-keys",
  "consistency",
  "limit",
  "txn-ops",
  "watch-per-stream",
  "lease-ttl",
  "put-rate",
  "seed",
  "json",
  "transport",
]);

/** Parses the command line; throws a clear error on unknown flags or bad values. */
export function parseArgs(argv: string[]): LoadgenArgs {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    if (!KNOWN.has(name)) throw new Error(`unknown flag --${name}`);
    if (eq >= 0) flags.set(name, a.slice(eq + 1));
    else if (BOOLEAN.has(name)) flags.set(name, "true");
    else if (i + 1 < argv.length) flags.set(name, argv[++i]);
    else throw new Error(`flag --${name} needs a value`);
  }
  const [command, ...rest] = positional;
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new Error(`command must be one of ${COMMANDS.join(", ")} (got ${command ?? "none"})`);
  }
  const int = (name: string, dflt: number, min: number): number => {
    const s = flags.get(name);
    if (s === undefined) return dflt;
    const v = Number(s);
    if (!Number.isSafeInteger(v) || v < min) {
      throw new Error(`--${name} must be an integer >= ${min}`);
    }
    return v;
  };
  const bool = (name: string): boolean => {
    const s = flags.get(name);
    if (s === undefined) return false;
    if (s !== "true" && s !== "false") throw new Error(`--${name} must be true or false`);
    return s === "true";
  };
  const consistency = flags.get("consistency") ?? "l";
  if (consistency !== "l" && consistency !== "s") throw new Error("--consistency must be l or s");
  const transport = flags.get("transport") ?? "h2";
  if (transport !== "h2" && transport !== "fetch" && transport !== "connect") {
    throw new Error("--transport must be h2, fetch or connect");
  }
  if (command === "range" && rest.length < 1) {
    throw new Error("range needs a key: range <key> [end]");
  }
  const enc = new TextEncoder();
  return {
    command: command as Command,
    endpoints: (flags.get("endpoints") ?? "127.0.0.1:2379").split(",").filter((e) => e !== ""),
    conns: int("conns", 1, 1),
    transport,
    seed: int("seed", 1, 0),
    json: bool("json"),
    opts: {
      clients: int("clients", 1, 1),
      total: int("total", 10000, 1),
      keySize: int("key-size", 8, 1),
      valSize: int("val-size", 8, 0),
      keySpaceSize: int("key-space-size", 1, 1),
      sequential: bool("sequential-keys"),
      rangeKey: enc.encode(rest[0] ?? ""),
      rangeEnd: enc.encode(rest[1] ?? ""),
      consistency,
      limit: int("limit", 0, 0),
      txnOps: int("txn-ops", 1, 1),
      watchPerStream: int("watch-per-stream", 1, 1),
      leaseTtl: int("lease-ttl", 60, 1),
      putRate: int("put-rate", 0, 0),
    },
  };
}

/** The generator's result: etcd's summary plus its own CPU use. */
export interface LoadgenResult extends JsonSummary {
  command: Command;
  /** The generator's user+sys CPU seconds during the timed run. */
  cpuSeconds: number;
  /** Generator CPU per successful request, microseconds. */
  cpuPerRequestUs: number;
  /** Generator CPU seconds per wall second (1.0 = one core busy). */
  cpuShare: number;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Runs one benchmark; prints etcd's report (or one JSON line) and returns the result. */
export async function runLoadgen(args: LoadgenArgs): Promise<LoadgenResult> {
  const rand = new Rand(args.seed);
  const pool = await openPool(args.endpoints, args.conns, args.opts.clients, args.transport);
  try {
    await pool.warm();
    let raw: RawRun;
    // the h2 transport runs every workload on the light loops (fast_loop.ts, watch_feed.ts)
    const h2 = await pool.h2Conns();
    const cpu0 = cpuSeconds();
    switch (args.command) {
      case "put":
        raw = h2
          ? await runFastClosedLoop(h2, args.opts.total, fastPut(args.opts, rand))
          : await runClosedLoop(
            args.opts.clients,
            args.opts.total,
            putWorkload(pool, args.opts, rand),
          );
        break;
      case "range":
        raw = h2
          ? await runFastClosedLoop(h2, args.opts.total, fastRange(args.opts))
          : await runClosedLoop(
            args.opts.clients,
            args.opts.total,
            rangeWorkload(pool, args.opts),
          );
        break;
      case "txn-put":
        raw = h2
          ? await runFastClosedLoop(h2, args.opts.total, fastTxnPut(args.opts, rand))
          : await runClosedLoop(
            args.opts.clients,
            args.opts.total,
            txnPutWorkload(pool, args.opts, rand),
          );
        break;
      case "lease-keepalive": {
        if (h2) {
          raw = await runFastKeepAlive(h2, args.opts.total, args.opts.leaseTtl);
          break;
        }
        const w = await leaseKeepAliveWorkload(pool, args.opts);
        try {
          raw = await runClosedLoop(args.opts.clients, args.opts.total, w.op);
        } finally {
          await w.close();
        }
        break;
      }
      case "watch":
        raw = args.opts.putRate > 0
          ? await runWatchPaced(pool, args.opts, rand, args.opts.putRate, h2)
          : await runWatch(pool, args.opts, rand, h2);
        break;
    }
    const cpu = cpuSeconds() - cpu0;
    const stats = summarize(raw.latencies, raw.seconds, raw.errors);
    const result: LoadgenResult = {
      command: args.command,
      ...jsonSummary(stats),
      cpuSeconds: cpu,
      cpuPerRequestUs: stats.count > 0 ? (cpu / stats.count) * 1e6 : 0,
      cpuShare: raw.seconds > 0 ? cpu / raw.seconds : 0,
    };
    if (args.json) {
      console.log(JSON.stringify(result));
    } else {
      console.log(formatReport(stats));
      console.log(
        `Load generator: ${result.cpuSeconds.toFixed(2)} CPU secs, ${
          result.cpuPerRequestUs.toFixed(1)
        } µs CPU/request, ${(result.cpuShare * 100).toFixed(0)}% of one core.`,
      );
    }
    return result;
  } finally {
    await pool.close();
  }
}

if (import.meta.main) {
  let args: LoadgenArgs;
  try {
    args = parseArgs(Deno.args);
  } catch (e) {
    console.error(`loadgen: ${(e as Error).message}`);
    Deno.exit(2);
  }
  const r = await runLoadgen(args);
  Deno.exit(r.count > 0 ? 0 : 1);
}
