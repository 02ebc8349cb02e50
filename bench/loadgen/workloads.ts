/**
 * The benchmark workloads, after etcd's tools/benchmark commands: put, range, txn-put,
 * lease-keepalive and watch (put-to-event latency, like etcd's watch-latency). Each request's
 * latency is the time from sending it to its answer; `runClosedLoop` keeps `--clients` requests
 * in flight, each client sending its next request when the previous one is answered.
 */
import { ConnectError } from "@connectrpc/connect";
import type { Rand } from "../../lib/base/rand.ts";
import type { BidiStream, ConnPool } from "./conns.ts";
import { keyFor, keyGen, type KeyOptions } from "./keys.ts";
import type { LeaseKeepAliveResponse, WatchResponse } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  LeaseKeepAliveRequestSchema,
  WatchRequestSchema,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";

/** Raw results of a run: latencies (seconds) of successful requests, errors, wall time. */
export interface RawRun {
  latencies: Float64Array;
  errors: Map<string, number>;
  seconds: number;
}

/** One request of a closed-loop workload, made by client `c`. */
export type Op = (i: number, c: number) => Promise<void>;

function errorText(e: unknown): string {
  if (e instanceof ConnectError) return `${e.code}: ${e.rawMessage}`;
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

/** A watch stream of the generator (the gRPC bidi stream of etcd's Watch). */
export type WatchStream = BidiStream<MessageInitShape<typeof WatchRequestSchema>, WatchResponse>;

/**
 * Opens `o.clients` watch streams with `o.watchPerStream` watchers of `key` each, pushing each
 * stream into `streams` as it opens (so the caller closes what opened when one fails).
 */
export async function openWatchStreams(
  pool: ConnPool,
  o: WorkloadOptions,
  key: Uint8Array,
  streams: WatchStream[],
): Promise<void> {
  for (let c = 0; c < o.clients; c++) {
    const s = await pool.clients[c].watch();
    streams.push(s);
    for (let w = 0; w < o.watchPerStream; w++) {
      s.send({ requestUnion: { case: "createRequest", value: { key } } });
      const created = await s.next();
      if (created === undefined || !created.created) throw new Error("watch was not created");
    }
  }
}

/**
 * etcd's watch-latency: `clients` watch streams with `watchPerStream` watchers each, all on one
 * key; one writer puts `total` values to that key, each after every watcher saw the previous
 * one. Each watcher's latency is put sent -> event received, so the run records
 * total * clients * watchPerStream latencies.
 */
export async function runWatch(pool: ConnPool, o: WorkloadOptions, rand: Rand): Promise<RawRun> {
  const key = keyFor(o.keySpaceSize, o.keySize); // outside the put key space
  const value = rand.bytes(o.valSize);
  const watchers = o.clients * o.watchPerStream;
  const lats = new Float64Array(o.total * watchers);
  let count = 0;
  let sentAt = 0;
  let seen = 0;
  let allSeen: (() => void) | undefined;
  const streams: BidiStream<MessageInitShape<typeof WatchRequestSchema>, WatchResponse>[] = [];
  const readers: Promise<void>[] = [];
  try {
    await openWatchStreams(pool, o, key, streams);
    for (const s of streams) {
      readers.push((async () => {
        while (true) {
          const r = await s.next().catch(() => undefined);
          if (r === undefined) return;
          const now = performance.now();
          for (const _ of r.events) {
            lats[count++] = (now - sentAt) / 1000;
            if (++seen === watchers) allSeen?.();
          }
        }
      })());
    }
    const start = performance.now();
    for (let i = 0; i < o.total; i++) {
      seen = 0;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = new Promise<void>((resolve, reject) => {
        allSeen = resolve;
        timer = setTimeout(
          () =>
            reject(new Error(`watch: only ${seen} of ${watchers} watchers saw put ${i} in 10 s`)),
          10_000,
        );
      });
      sentAt = performance.now();
      try {
        await pool.clients[i % o.clients].kv.put({ key, value });
        await done;
      } finally {
        clearTimeout(timer);
      }
    }
    const seconds = (performance.now() - start) / 1000;
    return { latencies: lats.subarray(0, count), errors: new Map(), seconds };
  } finally {
    await Promise.all(streams.map((s) => s.close()));
    await Promise.all(readers);
  }
}
