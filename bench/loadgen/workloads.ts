/**
 * The benchmark workloads, after etcd's tools/benchmark commands: put, range, txn-put,
 * lease-keepalive and watch (put-to-event latency, like etcd's watch-latency). Each request's
 * latency is the time from sending it to its answer; `runClosedLoop` keeps `--clients` requests
 * in flight, each client sending its next request when the previous one is answered.
 */
import type { Rand } from "../../lib/base/rand.ts";
import type { BidiStream, ConnPool } from "./conns.ts";
import { keyFor, keyGen, type KeyOptions } from "./keys.ts";
import type { LeaseKeepAliveResponse } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { LeaseKeepAliveRequestSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { H2GrpcConn } from "./h2_grpc.ts";
import { clientWatchFeed, h2WatchFeed, type OnEvent } from "./watch_feed.ts";

/** Raw results of a run: latencies (seconds) of successful requests, errors, wall time. */
export interface RawRun {
  latencies: Float64Array;
  errors: Map<string, number>;
  seconds: number;
}

/** One request of a closed-loop workload, made by client `c`. */
export type Op = (i: number, c: number) => Promise<void>;

function errorText(e: unknown): string {
  // @connectrpc's ConnectError, recognized without loading @connectrpc (h2 does not need it)
  if (e instanceof Error && e.name === "ConnectError" && "rawMessage" in e && "code" in e) {
    return `${e.code}: ${e.rawMessage}`;
  }
  return e instanceof Error ? e.message : String(e);
}

/** Runs `total` requests with `clients` concurrent clients; client c makes its requests in order. */
export async function runClosedLoop(clients: number, total: number, op: Op): Promise<RawRun> {
  const lats = new Float64Array(total);
  let count = 0;
  let next = 0;
  const errors = new Map<string, number>();
  const start = performance.now();
  const worker = async (c: number) => {
    while (next < total) {
      const i = next++;
      const t0 = performance.now();
      try {
        await op(i, c);
        lats[count++] = (performance.now() - t0) / 1000;
      } catch (e) {
        const m = errorText(e);
        errors.set(m, (errors.get(m) ?? 0) + 1);
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let c = 0; c < Math.min(clients, total); c++) workers.push(worker(c));
  await Promise.all(workers);
  return {
    latencies: lats.subarray(0, count),
    errors,
    seconds: (performance.now() - start) / 1000,
  };
}

/** Flags shared by the workloads. */
export interface WorkloadOptions extends KeyOptions {
  clients: number;
  total: number;
  valSize: number;
  /** range: the key and optional range end; put/txn use generated keys. */
  rangeKey: Uint8Array;
  rangeEnd: Uint8Array;
  /** range: "l" linearizable or "s" serializable. */
  consistency: "l" | "s";
  /** range: the limit (0 = none). */
  limit: number;
  /** txn-put: puts per transaction. */
  txnOps: number;
  /** watch: watchers per stream (one stream per client). */
  watchPerStream: number;
  /** lease-keepalive: the TTL of each client's lease. */
  leaseTtl: number;
  /** watch: puts per second, not waiting for the watchers (0: closed loop). */
  putRate: number;
}

/** etcd's put: one Put of a `valSize` value on a generated key per request. */
export function putWorkload(pool: ConnPool, o: WorkloadOptions, rand: Rand): Op {
  const keys = keyGen(o, rand);
  const value = rand.bytes(o.valSize);
  return async (i, c) => {
    await pool.clients[c].kv.put({ key: keys.next(i), value });
  };
}

/** etcd's range: Range(key, end) with `--consistency` and `--limit`. */
export function rangeWorkload(pool: ConnPool, o: WorkloadOptions): Op {
  const req = {
    key: o.rangeKey,
    rangeEnd: o.rangeEnd,
    limit: BigInt(o.limit),
    serializable: o.consistency === "s",
  };
  return async (_i, c) => {
    await pool.clients[c].kv.range(req);
  };
}

/**
 * etcd's txn-put: a Txn whose success branch holds `txnOps` puts. The keys are `txnOps`
 * consecutive numbers from a random start (mod the key space), so one txn never repeats a key
 * (etcd rejects that with "duplicate key given in txn request").
 */
export function txnPutWorkload(pool: ConnPool, o: WorkloadOptions, rand: Rand): Op {
  if (o.txnOps > o.keySpaceSize) throw new RangeError("--txn-ops exceeds --key-space-size");
  const value = rand.bytes(o.valSize);
  return async (_i, c) => {
    const success = [];
    const base = rand.int(o.keySpaceSize);
    for (let j = 0; j < o.txnOps; j++) {
      success.push({
        request: {
          case: "requestPut" as const,
          value: { key: keyFor((base + j) % o.keySpaceSize, o.keySize), value },
        },
      });
    }
    await pool.clients[c].kv.txn({ success });
  };
}

/** A workload with per-client state set up before the clock starts and torn down after. */
export interface StatefulWorkload {
  op: Op;
  close(): Promise<void>;
}

/**
 * etcd's lease-keepalive: each client grants a lease, opens a LeaseKeepAlive stream and sends
 * keep-alives one at a time; the latency is each keep-alive's round trip.
 */
export async function leaseKeepAliveWorkload(
  pool: ConnPool,
  o: WorkloadOptions,
): Promise<StatefulWorkload> {
  const n = Math.min(o.clients, o.total);
  const streams: BidiStream<
    MessageInitShape<typeof LeaseKeepAliveRequestSchema>,
    LeaseKeepAliveResponse
  >[] = [];
  const ids: bigint[] = [];
  try {
    for (let c = 0; c < n; c++) {
      const granted = await pool.clients[c].lease.grant({ TTL: BigInt(o.leaseTtl) });
      ids.push(granted.ID);
      streams.push(await pool.clients[c].lease.keepAlive());
    }
  } catch (e) {
    await Promise.all(streams.map((s) => s.close()));
    throw e;
  }
  return {
    op: async (_i, c) => {
      streams[c].send({ ID: ids[c] });
      const r = await streams[c].next();
      if (r === undefined) throw new Error("keep-alive stream ended");
      if (r.TTL <= 0n) throw new Error("lease not found");
    },
    async close() {
      await Promise.all(streams.map((s) => s.close()));
      await Promise.all(ids.map((ID, c) => pool.clients[c].lease.revoke({ ID })));
    },
  };
}

/**
 * etcd's watch-latency: `clients` watch streams with `watchPerStream` watchers each, all on one
 * key; one writer puts `total` values to that key, each after every watcher saw the previous
 * one. Each watcher's latency is put sent -> event received, so the run records
 * total * clients * watchPerStream latencies. Every event of a round must carry the revision
 * its put was answered with (besides the feed's checks, watch_feed.ts).
 */
export async function runWatch(
  pool: ConnPool,
  o: WorkloadOptions,
  rand: Rand,
  h2: H2GrpcConn[] | undefined,
): Promise<RawRun> {
  const key = keyFor(o.keySpaceSize, o.keySize); // outside the put key space
  const value = rand.bytes(o.valSize);
  const watchers = o.clients * o.watchPerStream;
  const lats = new Float64Array(o.total * watchers);
  let count = 0;
  let sentAt = 0;
  let seen = 0;
  let lowRev = 0;
  let highRev = 0;
  let allSeen: (() => void) | undefined;
  let stuck: ((e: Error) => void) | undefined;
  const onEvent: OnEvent = (mod) => {
    lats[count++] = (feed.now() - sentAt) / 1000;
    if (lowRev === 0 || mod < lowRev) lowRev = mod;
    if (mod > highRev) highRev = mod;
    if (++seen === watchers) allSeen?.();
  };
  const feed = h2 ? h2WatchFeed(h2, o, key, onEvent) : clientWatchFeed(pool, o, key, onEvent);
  const errors = feed.errors;
  // one watchdog for the run rather than a timer per put
  let round = 0;
  const watchdog = setInterval(() => {
    if (stuck && performance.now() - sentAt > 10_000) {
      stuck(new Error(`watch: only ${seen} of ${watchers} watchers saw put ${round} in 10 s`));
    }
  }, 250);
  try {
    await feed.open();
    const start = performance.now();
    for (let i = 0; i < o.total; i++) {
      round = i;
      seen = lowRev = highRev = 0;
      const done = new Promise<void>((resolve, reject) => {
        allSeen = resolve;
        stuck = reject;
      });
      sentAt = performance.now();
      const rev = await feed.put(i % o.clients, value);
      await done;
      if (lowRev !== rev || highRev !== rev) {
        const why = "watch: an event revision is not its put's";
        errors.set(why, (errors.get(why) ?? 0) + 1);
      }
    }
    const seconds = (performance.now() - start) / 1000;
    return { latencies: lats.subarray(0, count), errors, seconds };
  } finally {
    clearInterval(watchdog);
    await feed.close();
  }
}
