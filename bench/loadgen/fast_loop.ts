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
 * the limit with one) and have the key asked for.
 */
import type { Rand } from "../../lib/base/rand.ts";
import { type CallSink, type GrpcError, type H2GrpcConn, readClock } from "./h2_grpc.ts";
import { fillKey } from "./keys.ts";
import type { RawRun, WorkloadOptions } from "./workloads.ts";
import { encodePut, encodeRange, putRevision, type RangeSummary, readRange } from "./wire.ts";

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

/** The loop's shared state. */
class FastLoop {
  readonly lats: Float64Array;
  count = 0;
  next = 0;
  running = 0;
  readonly errors = new Map<string, number>();
  #finished: () => void = () => {};
  readonly finished = new Promise<void>((r) => (this.#finished = r));

  constructor(readonly op: FastOp, readonly total: number) {
    this.lats = new Float64Array(total);
  }

  /** Client `c`'s call ended (`why` says what was wrong, if anything): record, send the next. */
  done(c: LoopClient, why: string | undefined): void {
    const now = readClock();
    if (why === undefined) this.lats[this.count++] = (now - c.t0) / 1000;
    else this.errors.set(why, (this.errors.get(why) ?? 0) + 1);
    if (this.next < this.total) c.send(this.next++, now);
    else if (--this.running === 0) this.#finished();
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
