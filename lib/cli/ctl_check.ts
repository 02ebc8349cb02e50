/**
 * `ctl check perf` and `ctl check datascale` (etcdctl's check.go): a put load from many
 * concurrent workers under a prefix that must start empty, then the verdicts etcdctl prints
 * (throughput, slowest request and spread for perf; resident memory grown, read from the
 * endpoint's /metrics, for datascale), the keys deleted afterwards, optionally with a
 * compaction and defragmentation. etcdctl's progress bar is not drawn; the newline it ends
 * with is printed, so the lines are etcdctl's.
 */
import type { Client } from "../client/client.ts";
import type { CommandSpec, CtlContext } from "./ctl_command.ts";
import { CtlExit, errorText, Exit, exitWith } from "./ctl_exit.ts";
import type { FlagSpec } from "./ctl_flags.ts";
import { goQuote } from "./ctl_gofmt.ts";
import { client, endpointsOf, endpointUrl, newClient } from "./ctl_connect.ts";

const ALIAS: Record<string, string> = {
  s: "s",
  small: "s",
  m: "m",
  medium: "m",
  l: "l",
  large: "l",
  xl: "xl",
  xLarge: "xl",
};

const PERF: Record<string, { limit: number; clients: number; duration: number }> = {
  s: { limit: 150, clients: 50, duration: 60 },
  m: { limit: 1000, clients: 200, duration: 60 },
  l: { limit: 8000, clients: 500, duration: 60 },
  xl: { limit: 15000, clients: 1000, duration: 60 },
};

const DATASCALE: Record<string, { limit: number; kvSize: number; clients: number }> = {
  s: { limit: 10000, kvSize: 1024, clients: 50 },
  m: { limit: 100000, kvSize: 1024, clients: 200 },
  l: { limit: 1000000, kvSize: 1024, clients: 500 },
  xl: { limit: 3000000, kvSize: 1024, clients: 1000 },
};

/** What the load measured (etcd's pkg/report Stats, the parts check uses). */
interface Stats {
  rps: number;
  slowest: number;
  stddev: number;
  errors: Map<string, number>;
}

/**
 * etcdctl's key: the prefix and `size` bytes holding binary.PutVarint of a random int63 (a
 * zig-zag varint), zero-filled.
 */
function randomKey(prefix: Uint8Array, size: number): Uint8Array {
  const k = new Uint8Array(prefix.length + size);
  k.set(prefix);
  const x = BigInt(Math.floor(Math.random() * 2 ** 31)) << 32n |
    BigInt(Math.floor(Math.random() * 2 ** 32));
  let ux = x << 1n; // zig-zag of a non-negative value
  let i = prefix.length;
  while (ux >= 0x80n) {
    k[i++] = Number(ux & 0x7fn) | 0x80;
    ux >>= 7n;
  }
  k[i] = Number(ux);
  return k;
}

/** Puts the keys `next` hands out (until it says undefined) from `workers` workers. */
async function load(
  c: Client,
  workers: number,
  next: () => Promise<Uint8Array | undefined>,
  value: Uint8Array,
): Promise<Stats> {
  const lats: number[] = [];
  const errors = new Map<string, number>();
  const start = performance.now();
  await Promise.all(Array.from({ length: workers }, async () => {
    for (;;) {
      const key = await next();
      if (key === undefined) return;
      const st = performance.now();
      try {
        await c.kv.put(key, value);
      } catch (err) {
        const m = errorText(err);
        errors.set(m, (errors.get(m) ?? 0) + 1);
      }
      lats.push((performance.now() - st) / 1000);
    }
  }));
  const total = (performance.now() - start) / 1000;
  const mean = lats.reduce((a, b) => a + b, 0) / Math.max(1, lats.length);
  const variance = lats.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, lats.length);
  return {
    rps: lats.length / total,
    slowest: lats.reduce((a, b) => Math.max(a, b), 0),
    stddev: Math.sqrt(variance),
    errors,
  };
}

async function emptyPrefix(ctx: CtlContext, c: Client, prefix: string): Promise<void> {
  let resp;
  try {
    resp = await c.kv.range(prefix, { prefix: true, limit: 1, signal: ctx.io.interrupt });
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  if (resp.kvs.length > 0) {
    throw new CtlExit(
      Exit.InvalidInput,
      `prefix ${goQuote(prefix)} has keys. Delete with etcdctl del --prefix ${prefix} first`,
    );
  }
}

/** Deletes the load's keys, then compacts and defragments when asked (etcdctl's helpers). */
async function cleanUp(ctx: CtlContext, c: Client, prefix: string): Promise<void> {
  let rev: bigint;
  try {
    const d = await c.kv.delete(prefix, { prefix: true, timeoutMs: 30_000 });
    rev = d.header?.revision ?? 0n;
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  if (ctx.flags.bool("auto-compact")) {
    ctx.out(`Compacting with revision ${rev}\n`);
    try {
      await c.kv.compact(rev, { physical: true, timeoutMs: 30_000 });
    } catch (err) {
      exitWith(Exit.Error, err);
    }
    ctx.out(`Compacted with revision ${rev}\n`);
  }
  if (ctx.flags.bool("auto-defrag")) {
    for (const ep of endpointsOf(ctx)) {
      ctx.out(`Defragmenting ${goQuote(ep)}\n`);
      try {
        await newClient(ctx, [ep]).maintenance.defragment({ timeoutMs: 30_000 });
      } catch (err) {
        exitWith(Exit.Error, err);
      }
      ctx.out(`Defragmented ${goQuote(ep)}\n`);
    }
  }
}

function printErrors(ctx: CtlContext, s: Stats): void {
  ctx.out("FAIL: too many errors\n");
  for (const [k, v] of s.errors) ctx.out(`FAIL: ERROR(${k}) -> ${v}\n`);
}

async function runPerf(ctx: CtlContext): Promise<void> {
  const model = ALIAS[ctx.flags.string("load")];
  if (!model) {
    throw new CtlExit(Exit.BadFeature, `unknown load option ${ctx.flags.string("load")}`);
  }
  const cfg = PERF[model];
  const prefix = ctx.flags.string("prefix");
  const c = await client(ctx);
  await emptyPrefix(ctx, c, prefix);
  const pfx = new TextEncoder().encode(prefix);
  const end = performance.now() + cfg.duration * 1000;
  let nextAt = performance.now();
  const interval = 1000 / cfg.limit;
  // a token bucket of one: one put every 1/limit s until the duration is over
  const next = async (): Promise<Uint8Array | undefined> => {
    const at = nextAt;
    nextAt = Math.max(nextAt + interval, performance.now());
    if (at >= end || ctx.io.interrupt.aborted) return undefined;
    const wait = at - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    return randomKey(pfx, 256);
  };
  const s = await load(c, cfg.clients, next, new Uint8Array(1024));
  if (ctx.io.interrupt.aborted) throw new CtlExit(130);
  ctx.out("\n"); // where etcdctl's progress bar ends
  await cleanUp(ctx, c, prefix);
  let ok = true;
  if (s.errors.size !== 0) {
    printErrors(ctx, s);
    ok = false;
  }
  if (s.rps / cfg.limit <= 0.9) {
    ctx.out(`FAIL: Throughput too low: ${Math.trunc(s.rps) + 1} writes/s\n`);
    ok = false;
  } else ctx.out(`PASS: Throughput is ${Math.trunc(s.rps) + 1} writes/s\n`);
  if (s.slowest > 0.5) {
    ctx.out(`Slowest request took too long: ${s.slowest.toFixed(6)}s\n`);
    ok = false;
  } else ctx.out(`PASS: Slowest request took ${s.slowest.toFixed(6)}s\n`);
  if (s.stddev > 0.1) {
    ctx.out(`Stddev too high: ${s.stddev.toFixed(6)}s\n`);
    ok = false;
  } else ctx.out(`PASS: Stddev is ${s.stddev.toFixed(6)}s\n`);
  if (ok) ctx.out("PASS\n");
  else {
    ctx.out("FAIL\n");
    throw new CtlExit(Exit.Error);
  }
}

/** process_resident_memory_bytes from the endpoint's /metrics, or 0 (etcdctl prints why). */
async function residentMemory(ctx: CtlContext, ep: string): Promise<number> {
  const url = `${endpointUrl(ep, false)}/metrics`;
  let text: string;
  try {
    const r = await fetch(url);
    text = await r.text();
  } catch (err) {
    ctx.out(`fetch error: ${errorText(err)}\n`);
    return 0;
  }
  const key = "process_resident_memory_bytes";
  const line = text.split("\n").find((l) => l.startsWith(key));
  if (!line) {
    ctx.out(`could not find: ${key}\n`);
    return 0;
  }
  const v = Number(line.slice(key.length).trim());
  if (Number.isNaN(v)) {
    ctx.out(
      `parse error: strconv.ParseFloat: parsing ${
        goQuote(line.slice(key.length).trim())
      }: invalid syntax\n`,
    );
    return 0;
  }
  return v;
}

async function runDatascale(ctx: CtlContext): Promise<void> {
  const model = ALIAS[ctx.flags.string("load")];
  if (!model) {
    throw new CtlExit(Exit.BadFeature, `unknown load option ${ctx.flags.string("load")}`);
  }
  const cfg = DATASCALE[model];
  const prefix = ctx.flags.string("prefix");
  const c = await client(ctx);
  const ep = endpointsOf(ctx)[0];
  await emptyPrefix(ctx, c, prefix);
  const before = await residentMemory(ctx, ep);
  if (before === 0) {
    ctx.out("FAIL: Could not read process_resident_memory_bytes before the put operations.\n");
    throw new CtlExit(Exit.Error);
  }
  ctx.out(
    `Start data scale check for work load [${cfg.limit} key-value pairs, ${cfg.kvSize} bytes ` +
      `per key-value, ${cfg.clients} concurrent clients].\n`,
  );
  const pfx = new TextEncoder().encode(prefix);
  let issued = 0;
  const next = (): Promise<Uint8Array | undefined> =>
    Promise.resolve(
      issued++ < cfg.limit && !ctx.io.interrupt.aborted ? randomKey(pfx, 512) : undefined,
    );
  const s = await load(c, cfg.clients, next, new Uint8Array(512));
  if (ctx.io.interrupt.aborted) throw new CtlExit(130);
  ctx.out("\n"); // where etcdctl's progress bar ends
  const after = await residentMemory(ctx, ep);
  if (after === 0) {
    ctx.out("FAIL: Could not read process_resident_memory_bytes after the put operations.\n");
    throw new CtlExit(Exit.Error);
  }
  await cleanUp(ctx, c, prefix);
  const mb = (after - before) / (1024 * 1024);
  if (s.errors.size !== 0) {
    printErrors(ctx, s);
    throw new CtlExit(Exit.Error);
  }
  ctx.out(`PASS: Approximate system memory used : ${mb.toFixed(2)} MB.\n`);
}

const COMMON = (what: string, prefix: string): FlagSpec[] => [
  {
    name: "load",
    kind: "string",
    def: "s",
    help: `The ${what} check's workload model. Accepted workloads: s(small), m(medium), ` +
      "l(large), xl(xLarge)",
  },
  {
    name: "prefix",
    kind: "string",
    def: prefix,
    help: `The prefix for writing the ${what} check's keys.`,
  },
  {
    name: "auto-compact",
    kind: "bool",
    def: false,
    help: "Compact storage with last revision after test is finished.",
  },
  {
    name: "auto-defrag",
    kind: "bool",
    def: false,
    help: "Defragment storage after test is finished.",
  },
];

export const CHECK_COMMANDS: CommandSpec[] = [
  {
    path: ["check", "perf"],
    use: "[options]",
    short: "Check the performance of the etcd cluster",
    flags: COMMON("performance", "/etcdctl-check-perf/"),
    run: runPerf,
  },
  {
    path: ["check", "datascale"],
    use: "[options]",
    short: "Check the memory usage of holding data for different workloads on a given server " +
      "endpoint.",
    flags: COMMON("datascale", "/etcdctl-check-datascale/"),
    run: runDatascale,
  },
];
