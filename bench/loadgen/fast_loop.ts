/**
 * The closed loop of the put and range workloads on the h2 transport, made light because the
 * generator shares the 2 cores with the server it measures (docs/perf.md, "Load generator,
 * fifth session"): each client is a `CallSink` that, when its answer has been checked, sends
 * its next request from inside the connection's read loop (no promise per request); requests
 * are encoded once into a template (a put only rewrites its key); answers are checked in place
 * by bench/loadgen/wire.ts; latencies use one clock reading per read (`readClock`).
 *
 * The checks are those a real client relies on, not fewer: grpc-status OK with exactly one
 * message, a response header whose revision is positive, and for each client revisions that
 * grow (a put answered before the next is sent must get a higher revision; a range may not
 * see an older one); a range's kvs agree with its count (all of them without a limit, at most
 * the limit with one) and have the key asked for. A keep-alive's answer must name the client's
 * lease with a positive TTL.
 */
import type { Rand } from "../../lib/base/rand.ts";
import type { CallSink, GrpcError } from "./grpc_call.ts";
import type { H2GrpcConn } from "./h2_grpc.ts";
import { readClock } from "./h2_frame_reader.ts";
import { fillKey } from "./keys.ts";
import type { RawRun, WorkloadOptions } from "./workloads.ts";
import {
  encodeKeepAlive,
  encodePut,
  encodeRange,
  encodeTxnPuts,
  type KeepAliveSummary,
  putRevision,
  type RangeSummary,
  readKeepAlive,
  readRange,
  readTxn,
  type TxnSummary,
} from "./wire.ts";
import { Lease } from "../../proto/gen/etcdserverpb/rpc_pb.ts";

/** One workload for the fast loop. */
export interface FastOp {
  /** The gRPC method path. */
  path: string;
  /** Request `i`'s message; may be one buffer reused (it is copied out at once). */
  request(i: number): Uint8Array;
  /** Checks an answer; returns its header revision; throws (an Error) on a wrong one. */
  check(buf: Uint8Array, start: number, end: number): number;
  /** Whether each client's answers must have strictly growing revisions (puts). */
  strictRevisions: boolean;
}

/** One client of the loop: at most one call in flight. */
class LoopClient implements CallSink {
  t0 = 0;
  lastRevision = 0;
  #answers = 0;
  #wrong: string | undefined;

  constructor(readonly loop: FastLoop, readonly conn: H2GrpcConn) {}

  send(i: number, t0: number): void {
    this.t0 = t0;
    this.#answers = 0;
    this.#wrong = undefined;
    this.conn.call(this.loop.op.path, this.loop.op.request(i), this);
  }

  message(buf: Uint8Array, start: number, end: number): void {
    if (++this.#answers > 1) {
      this.#wrong = "more than one answer to a unary call";
      return;
    }
    try {
      const rev = this.loop.op.check(buf, start, end);
      if (rev <= 0) this.#wrong = "answer without a header revision";
      else if (
        rev < this.lastRevision || (this.loop.op.strictRevisions && rev === this.lastRevision)
      ) {
        this.#wrong = `revision went from ${this.lastRevision} to ${rev}`;
      } else this.lastRevision = rev;
    } catch (e) {
      this.#wrong = (e as Error).message;
    }
  }

  end(err: GrpcError | undefined): void {
    const why = err !== undefined
      ? `${err.code}: ${err.grpcMessage}`
      : this.#wrong ?? (this.#answers === 0 ? "status OK without a response message" : undefined);
    this.loop.done(this, why);
  }
}

/**
 * What both light loops keep of a run: each answered call's latency, the errors by kind, the
 * next request to send and the clients still running.
 */
class RunTally {
  readonly lats: Float64Array;
  count = 0;
  next = 0;
  running = 0;
  readonly errors = new Map<string, number>();
  #finished: () => void = () => {};
  readonly finished = new Promise<void>((r) => (this.#finished = r));

  constructor(readonly total: number) {
    this.lats = new Float64Array(total);
  }

  /** A call sent at `t0` ended at `now`, well or (`why`) not. */
  record(t0: number, now: number, why: string | undefined): void {
    if (why === undefined) this.lats[this.count++] = (now - t0) / 1000;
    else this.error(why);
  }

  error(why: string): void {
    this.errors.set(why, (this.errors.get(why) ?? 0) + 1);
  }

  /** One client has no more to send. */
  clientDone(): void {
    if (--this.running === 0) this.#finished();
  }
}

/** The loop's shared state. */
class FastLoop extends RunTally {
  constructor(readonly op: FastOp, total: number) {
    super(total);
  }

  /** Client `c`'s call ended (`why` says what was wrong, if anything): record, send the next. */
  done(c: LoopClient, why: string | undefined): void {
    const now = readClock();
    this.record(c.t0, now, why);
    if (this.next < this.total) c.send(this.next++, now);
    else this.clientDone();
  }
}

/**
 * Runs `total` requests of `op` with one client per entry of `conns` (client c's connection),
 * each sending its next request when its previous one is answered.
 */
export async function runFastClosedLoop(
  conns: H2GrpcConn[],
  total: number,
  op: FastOp,
): Promise<RawRun> {
  const loop = new FastLoop(op, total);
  const start = performance.now();
  const n = Math.min(conns.length, total);
  loop.running = n;
  for (let c = 0; c < n; c++) new LoopClient(loop, conns[c]).send(loop.next++, start);
  if (n > 0) await loop.finished;
  return {
    latencies: loop.lats.subarray(0, loop.count),
    errors: loop.errors,
    seconds: (performance.now() - start) / 1000,
  };
}

/** etcd's put on the fast loop: a `valSize` value on a generated key per request. */
export function fastPut(o: WorkloadOptions, rand: Rand): FastOp {
  const { msg, keyAt } = encodePut(new Uint8Array(o.keySize).fill(1), rand.bytes(o.valSize));
  return {
    path: "/etcdserverpb.KV/Put",
    request(i) {
      fillKey(msg, keyAt, o.keySize, o.sequential ? i % o.keySpaceSize : rand.int(o.keySpaceSize));
      return msg;
    },
    check: putRevision,
    strictRevisions: true,
  };
}

/** etcd's range on the fast loop: Range(key, end) with `--consistency` and `--limit`. */
export function fastRange(o: WorkloadOptions): FastOp {
  const msg = encodeRange({
    key: o.rangeKey,
    rangeEnd: o.rangeEnd,
    limit: o.limit,
    serializable: o.consistency === "s",
  });
  const got: RangeSummary = { revision: 0, count: 0, kvs: 0, otherKeys: 0, more: false };
  const oneKey = o.rangeEnd.length === 0 ? o.rangeKey : undefined;
  return {
    path: "/etcdserverpb.KV/Range",
    request: () => msg,
    check(buf, start, end) {
      readRange(buf, start, end, got, oneKey);
      if (o.limit === 0 ? got.kvs !== got.count : got.kvs > o.limit || got.kvs > got.count) {
        throw new Error(`range: ${got.kvs} kvs for count ${got.count}, limit ${o.limit}`);
      }
      if (got.otherKeys > 0) throw new Error(`range: ${got.otherKeys} kvs of another key`);
      return got.revision;
    },
    strictRevisions: false,
  };
}

/**
 * etcd's txn-put on the fast loop: a Txn of `txnOps` puts on consecutive keys from a random
 * start (mod the key space, so one txn never repeats a key), as workloads.ts txnPutWorkload;
 * the answer must have succeeded with one response per put.
 */
export function fastTxnPut(o: WorkloadOptions, rand: Rand): FastOp {
  if (o.txnOps > o.keySpaceSize) throw new RangeError("--txn-ops exceeds --key-space-size");
  const { msg, keyAt } = encodeTxnPuts(o.txnOps, o.keySize, rand.bytes(o.valSize));
  const got: TxnSummary = { revision: 0, succeeded: false, responses: 0 };
  return {
    path: "/etcdserverpb.KV/Txn",
    request() {
      const base = rand.int(o.keySpaceSize);
      for (let j = 0; j < o.txnOps; j++) {
        fillKey(msg, keyAt[j], o.keySize, (base + j) % o.keySpaceSize);
      }
      return msg;
    },
    check(buf, start, end) {
      readTxn(buf, start, end, got);
      if (!got.succeeded) throw new Error("txn: did not succeed");
      if (got.responses !== o.txnOps) {
        throw new Error(`txn: ${got.responses} responses for ${o.txnOps} puts`);
      }
      return got.revision;
    },
    strictRevisions: true,
  };
}

const KEEP_ALIVE: KeepAliveSummary = { revision: 0, idStart: 0, idEnd: 0, ttl: 0 };

/** One client of the keep-alive loop: its own lease and stream, one keep-alive in flight. */
class KeepAliveClient implements CallSink {
  t0 = 0;
  stream = 0;
  lastRevision = 0;
  /** Sent its last keep-alive, or its stream ended: the stream's end is no longer an error. */
  finished = false;

  constructor(
    readonly loop: KeepAliveLoop,
    readonly conn: H2GrpcConn,
    readonly lease: bigint,
    readonly msg: Uint8Array,
  ) {}

  send(t0: number): void {
    this.t0 = t0;
    this.conn.sendOn(this.stream, this.msg).catch(() => undefined); // a failure ends the stream
  }

  message(buf: Uint8Array, start: number, end: number): void {
    let why: string | undefined;
    try {
      readKeepAlive(buf, start, end, KEEP_ALIVE);
      const k = KEEP_ALIVE;
      if (k.ttl <= 0) why = "lease not found";
      else if (!sameId(buf, k.idStart, k.idEnd, this.msg)) why = "keep-alive of another lease";
      else if (k.revision <= 0 || k.revision < this.lastRevision) {
        why = `keep-alive revision ${k.revision} after ${this.lastRevision}`;
      } else this.lastRevision = k.revision;
    } catch (e) {
      why = (e as Error).message;
    }
    this.loop.done(this, why);
  }

  end(err: GrpcError | undefined): void {
    if (this.finished) return;
    this.loop.ended(this, `keep-alive stream ended: ${err?.message ?? "cleanly"}`);
  }
}

/** buf[s, e) is the ID varint of the request `msg` (msg[1, end)). */
function sameId(buf: Uint8Array, s: number, e: number, msg: Uint8Array): boolean {
  if (e - s !== msg.length - 1) return false;
  for (let i = 0; i < e - s; i++) if (buf[s + i] !== msg[1 + i]) return false;
  return true;
}

/** The keep-alive loop's shared state. */
class KeepAliveLoop extends RunTally {
  done(c: KeepAliveClient, why: string | undefined): void {
    const now = readClock();
    this.record(c.t0, now, why);
    if (this.next < this.total) {
      this.next++;
      c.send(now);
    } else this.#stop(c);
  }

  /** Client c's stream ended with its keep-alive in flight. */
  ended(c: KeepAliveClient, why: string): void {
    this.error(why);
    this.#stop(c);
  }

  #stop(c: KeepAliveClient): void {
    c.finished = true;
    this.clientDone();
  }
}

/**
 * etcd's lease-keepalive on the light loop: each client grants a lease of `leaseTtl` seconds and
 * opens a LeaseKeepAlive stream before the clock starts, then sends keep-alives one at a time
 * (`total` in all); the leases are revoked after.
 */
export async function runFastKeepAlive(
  conns: H2GrpcConn[],
  total: number,
  leaseTtl: number,
): Promise<RawRun> {
  const loop = new KeepAliveLoop(total);
  const n = Math.min(conns.length, total);
  const clients: KeepAliveClient[] = [];
  try {
    for (let c = 0; c < n; c++) {
      const granted = await conns[c].unary(Lease.method.leaseGrant, { TTL: BigInt(leaseTtl) });
      const client = new KeepAliveClient(loop, conns[c], granted.ID, encodeKeepAlive(granted.ID));
      clients.push(client);
      client.stream = await conns[c].openStream("/etcdserverpb.Lease/LeaseKeepAlive", client);
    }
    const start = performance.now();
    loop.running = n;
    for (const c of clients) {
      loop.next++;
      c.send(start);
    }
    if (n > 0) await loop.finished;
    return {
      latencies: loop.lats.subarray(0, loop.count),
      errors: loop.errors,
      seconds: (performance.now() - start) / 1000,
    };
  } finally {
    for (const c of clients) {
      c.finished = true;
      c.conn.cancelStream(c.stream);
    }
    await Promise.all(clients.map((c) => c.conn.unary(Lease.method.leaseRevoke, { ID: c.lease })));
  }
}
