/**
 * The client's own overhead: put and range with 1 and 100 calls in flight through lib/client
 * (gRPC over Concord's HTTP/2 client) and through @grpc/grpc-js with proto-loader (what the
 * npm `etcd3` package is built on), against the same Concord member, a `concord serve`
 * child process. Each workload runs each client in turn for `--seconds` (default 2), after a
 * warm-up; the order alternates between rounds (`--rounds`, default 2). Prints calls per
 * second, latency percentiles and this process's CPU time per call (the client's own cost,
 * the figure least disturbed by other load on the machine) per client.
 *
 * `deno run -A bench/client_bench.ts [--seconds 2] [--rounds 2]`
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Buffer } from "node:buffer";
import process from "node:process";
import { Client } from "../lib/client/mod.ts";
import { spawnServe } from "../tests/server/harness.ts";

const args = Deno.args;
const flag = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const SECONDS = flag("seconds", 2);
const ROUNDS = flag("rounds", 2);
const KEYS = 1000;
const VALUE = "v".repeat(256);

/** One client's way to put and range a key. */
interface Driver {
  name: string;
  put(key: string): Promise<void>;
  range(key: string): Promise<void>;
  close(): Promise<void>;
}

function libClient(url: string): Driver {
  const c = new Client({ endpoints: [url] });
  return {
    name: "lib/client",
    async put(key) {
      await c.put(key, VALUE);
    },
    async range(key) {
      const r = await c.range(key);
      if (r.kvs.length !== 1) throw new Error(`range ${key}: ${r.kvs.length} kvs`);
    },
    close: () => c.close(),
  };
}

async function grpcJs(url: string): Promise<Driver> {
  const def = await protoLoader.load("etcdserverpb/rpc.proto", {
    includeDirs: [new URL("../proto/", import.meta.url).pathname],
    keepCase: true,
    longs: String,
    defaults: false,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    etcdserverpb: Record<string, new (addr: string, creds: grpc.ChannelCredentials) => grpc.Client>;
  };
  const kv = new pkg.etcdserverpb.KV(new URL(url).host, grpc.credentials.createInsecure());
  type Cb = (err: grpc.ServiceError | null, res: { kvs?: unknown[] }) => void;
  const call = (name: string, req: object) =>
    new Promise<{ kvs?: unknown[] }>((resolve, reject) => {
      (kv as unknown as Record<string, (r: object, cb: Cb) => void>)[name](req, (err, res) => {
        if (err) reject(err);
        else resolve(res);
      });
    });
  return {
    name: "grpc-js",
    async put(key) {
      await call("Put", { key: Buffer.from(key), value: Buffer.from(VALUE) });
    },
    async range(key) {
      const r = await call("Range", { key: Buffer.from(key) });
      if (r.kvs?.length !== 1) throw new Error(`range ${key}: ${r.kvs?.length} kvs`);
    },
    close() {
      kv.close();
      return Promise.resolve();
    },
  };
}

interface Result {
  calls: number;
  seconds: number;
  /** This process's CPU time (user + system), µs. */
  cpuUs: number;
  lat: number[];
}

/** `inFlight` workers calling `op` until `seconds` pass; every call's latency in ms. */
async function run(
  op: (key: string) => Promise<void>,
  inFlight: number,
  seconds: number,
): Promise<Result> {
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < end) {
      const key = `bench/${n++ % KEYS}`;
      const s = performance.now();
      await op(key);
      lat.push(performance.now() - s);
    }
  }));
  const cpu = process.cpuUsage(cpu0);
  return {
    calls: lat.length,
    seconds: (performance.now() - t0) / 1000,
    cpuUs: cpu.user + cpu.system,
    lat,
  };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

const dir = await Deno.makeTempDir({ prefix: "concord-client-bench-" });
const serve = await spawnServe(["--data-dir", `${dir}/data`]);
const drivers = [libClient(serve.url), await grpcJs(serve.url)];
try {
  // every key exists for the ranges
  await Promise.all(Array.from({ length: KEYS }, (_, i) => drivers[0].put(`bench/${i}`)));
  const workloads: {
    name: string;
    inFlight: number;
    op: (d: Driver) => (k: string) => Promise<void>;
  }[] = [
    { name: "put-1", inFlight: 1, op: (d) => (k) => d.put(k) },
    { name: "put-100", inFlight: 100, op: (d) => (k) => d.put(k) },
    { name: "range-1", inFlight: 1, op: (d) => (k) => d.range(k) },
    { name: "range-100", inFlight: 100, op: (d) => (k) => d.range(k) },
  ];
  console.log(`Concord ${serve.url}; ${SECONDS} s per client per round, ${ROUNDS} rounds`);
  console.log("workload   client       calls/s    p50 ms   p99 ms  client CPU µs/call");
  for (const w of workloads) {
    const total = new Map<string, Result>();
    for (const d of drivers) await run(w.op(d), w.inFlight, 0.3); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? drivers : [...drivers].reverse();
      for (const d of order) {
        const r = await run(w.op(d), w.inFlight, SECONDS);
        const t = total.get(d.name) ?? { calls: 0, seconds: 0, cpuUs: 0, lat: [] };
        t.calls += r.calls;
        t.seconds += r.seconds;
        t.cpuUs += r.cpuUs;
        for (const l of r.lat) t.lat.push(l);
        total.set(d.name, t);
      }
    }
    for (const d of drivers) {
      const t = total.get(d.name)!;
      const sorted = t.lat.sort((a, b) => a - b);
      console.log(
        `${w.name.padEnd(10)} ${d.name.padEnd(10)} ${
          (t.calls / t.seconds).toFixed(0).padStart(9)
        }` +
          ` ${pct(sorted, 50).toFixed(2).padStart(8)} ${pct(sorted, 99).toFixed(2).padStart(8)}` +
          ` ${(t.cpuUs / t.calls).toFixed(0).padStart(10)}`,
      );
    }
  }
} finally {
  // clients first: grpc-js rides node:http2, which must not see the server's GOAWAY
  for (const d of drivers) await d.close();
  serve.proc.kill("SIGTERM");
  await serve.proc.status;
  await Deno.remove(dir, { recursive: true });
}
