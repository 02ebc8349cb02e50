/**
 * How fast is Concord on this machine, end to end: one member started in this process
 * (defaults as `concord serve`, port 0, a temp data dir, fsync on) measured through lib/client
 * (gRPC over HTTP/2, one connection) with puts, ranges, txns and watch events, 256-byte
 * values. Each iteration is a batch of calls (the count is in the name); when the file's
 * benchmarks are done a table of request (or event) rates is printed: calls in all measured
 * iterations over their time, with this process's CPU time per call (steadier than the rate
 * on a busy machine). Client and member share this process and its one JS thread, so the
 * rates are of the whole round trip, both ends on one core; bench:compare measures a
 * `concord serve` process beside etcd instead.
 *
 *   deno bench -A bench/e2e_bench.ts        (part of `deno task bench`)
 *
 * The member lives for this file's benchmarks: Deno gives a bench file no hook after its last
 * benchmark, so the member stops when the file's isolate ends (deno bench ends it before the
 * next file runs), and its data dir is removed then.
 */
import process from "node:process";
import { Client, cmp, op } from "../lib/client/mod.ts";
import { defaultConfig } from "../lib/server/config.ts";
import { startServer } from "../lib/api/member_server.ts";

const VALUE = new Uint8Array(256).map((_, i) => i);
const KEYS = 1000;
const IN_FLIGHT = 64;
const key = (i: number) => `bench/${String(i % KEYS).padStart(6, "0")}`;

const dir = await Deno.makeTempDir({ prefix: "concord-e2e-bench-" });
const cfg = defaultConfig("bench");
cfg.dataDir = dir;
cfg.listenClientUrls = [new URL("http://127.0.0.1:0")];
const server = await startServer(cfg, { log: () => {} });
await server.member.ready;
const client = new Client({ endpoints: server.clientUrls[0], timeoutMs: 30_000 });
for (let i = 0; i < KEYS; i += IN_FLIGHT) {
  await Promise.all(
    Array.from({ length: Math.min(IN_FLIGHT, KEYS - i) }, (_, j) => client.put(key(i + j), VALUE)),
  );
}

globalThis.addEventListener("unload", () => {
  printRates();
  // The isolate is ending: the member's sockets and files close with it; its directory goes.
  Deno.removeSync(dir, { recursive: true });
});

/** Calls (or events), wall ms and process CPU µs per benchmark, for the closing table. */
const tally = new Map<string, { calls: number; ms: number; cpuUs: number }>();

function printRates(): void {
  if (tally.size === 0) return;
  console.log(
    "\nend-to-end rates: calls in the measured iterations over their wall time (noisy on a busy" +
      "\nmachine), and this process's CPU per call (client and member together; steadier):",
  );
  for (const [name, t] of tally) {
    const rate = Math.round(t.calls / (t.ms / 1000)).toLocaleString("en-US");
    const cpu = (t.cpuUs / t.calls).toFixed(0);
    console.log(`  ${name.padEnd(48)} ${rate.padStart(9)} /s ${cpu.padStart(7)} µs CPU`);
  }
}

/** Runs `total` calls of `call`, `inFlight` at a time. */
async function inFlight(n: number, total: number, call: (i: number) => Promise<unknown>) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, total) }, async () => {
    while (next < total) await call(next++);
  }));
}

let seq = 0;

/** A benchmark of `calls` calls per iteration, tallied for the closing table. */
function e2e(name: string, calls: number, run: () => Promise<void>): void {
  let first = true;
  Deno.bench(name, { n: 3, warmup: 1 }, async (b) => {
    b.start();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await run();
    const c1 = process.cpuUsage(c0);
    const ms = performance.now() - t0;
    b.end();
    if (first) {
      first = false; // the first call warms up (and starts the watchers): not in the table
      return;
    }
    const t = tally.get(name) ?? { calls: 0, ms: 0, cpuUs: 0 };
    t.calls += calls;
    t.ms += ms;
    t.cpuUs += c1.user + c1.system;
    tally.set(name, t);
  });
}

const n = (x: number) => x.toLocaleString("en-US");

e2e(`put, 1 in flight (×${n(50)})`, 50, async () => {
  for (let i = 0; i < 50; i++) await client.put(key(seq++), VALUE);
});

e2e(`put, ${IN_FLIGHT} in flight (×${n(500)})`, 500, async () => {
  await inFlight(IN_FLIGHT, 500, () => client.put(key(seq++), VALUE));
});

e2e(`range 1 key, linearizable, 1 in flight (×${n(100)})`, 100, async () => {
  for (let i = 0; i < 100; i++) await client.range(key(seq++));
});

e2e(`range 1 key, linearizable, ${IN_FLIGHT} in flight (×${n(1000)})`, 1000, async () => {
  await inFlight(IN_FLIGHT, 1000, () => client.range(key(seq++)));
});

e2e(`range 1 key, serializable, ${IN_FLIGHT} in flight (×${n(1000)})`, 1000, async () => {
  await inFlight(IN_FLIGHT, 1000, () => client.range(key(seq++), { serializable: true }));
});

e2e(`range 100 keys, serializable, ${IN_FLIGHT} in flight (×${n(200)})`, 200, async () => {
  await inFlight(
    IN_FLIGHT,
    200,
    () => client.range("bench/", { prefix: true, limit: 100, serializable: true }),
  );
});

e2e(`txn compare+put, ${IN_FLIGHT} in flight (×${n(500)})`, 500, async () => {
  await inFlight(IN_FLIGHT, 500, async () => {
    const k = key(seq++);
    await client.txn().if(cmp.version(k, ">", 0)).then(op.put(k, VALUE)).commit();
  });
});

/** Watchers on `w/`, counting the events they receive. */
class Watchers {
  readonly counts: number[];
  readonly #waiters: (() => void)[] = [];
  constructor(n: number) {
    this.counts = new Array<number>(n).fill(0);
  }
  async start(): Promise<void> {
    const ws = this.counts.map(() => client.watch("w/", { prefix: true }));
    await Promise.all(ws.map((w) => w.ready));
    ws.forEach((w, i) => {
      (async () => {
        for await (const r of w) {
          this.counts[i] += r.events.length;
          for (const wake of this.#waiters.splice(0)) wake();
        }
      })();
    });
  }
  /** Resolves once every watcher has received `target` events in all (bounded). */
  async reach(target: number): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (this.counts.some((c) => c < target)) {
      if (Date.now() > deadline) throw new Error(`watchers stuck at ${this.counts} < ${target}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }
}

for (const [watchers, puts] of [[1, 500], [100, 100]]) {
  const group = new Watchers(watchers);
  let started = false;
  let sent = 0;
  e2e(
    `watch: ${puts} puts to ${watchers} watcher${watchers > 1 ? "s" : ""} (×${
      n(puts * watchers)
    } events)`,
    puts * watchers,
    async () => {
      if (!started) {
        started = true;
        await group.start();
      }
      await inFlight(IN_FLIGHT, puts, (i) => client.put(`w/${i % 100}`, VALUE));
      sent += puts;
      await group.reach(sent);
    },
  );
}
