/**
 * What the watch workloads (workloads.ts runWatch, watch_paced.ts) need of the transport: open
 * the watchers, put, and hand every event to the workload after checking it. Two feeds: one on
 * the h2 transport's lower layer (each stream a `CallSink` whose answers are decoded in place
 * by wire.ts, no copy, no promise per answer: the light one, as docs/perf.md "Load generator,
 * fifth session" measures), and one on the promise-based clients of every transport.
 *
 * Both check each event as a watcher relies on it: a PUT of the watched key, for a watch id
 * the stream created, with a revision above the previous event of that watch; a canceled watch
 * or a stream that ends while open is an error. Errors are counted by kind in `errors`.
 */
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import {
  type WatchRequestSchema,
  WatchRequestSchema as WatchRequest,
  type WatchResponse,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { BidiStream, ConnPool } from "./conns.ts";
import type { CallSink, GrpcError } from "./grpc_call.ts";
import type { H2GrpcConn } from "./h2_grpc.ts";
import { readClock } from "./h2_frame_reader.ts";
import { encodePut, putRevision, readWatch, type WatchSummary } from "./wire.ts";
import type { WorkloadOptions } from "./workloads.ts";

/** Called for each event: its kv's mod_revision and value (buf[start, end), a view). */
export type OnEvent = (modRevision: number, buf: Uint8Array, start: number, end: number) => void;

/** The watchers and the writer of a watch workload. */
export interface WatchFeed {
  /** Opens `clients` streams of `watchPerStream` watchers of the key each. */
  open(): Promise<void>;
  /** Puts `value` to the key through client `c`; resolves with the put's revision. */
  put(c: number, value: Uint8Array): Promise<number>;
  /**
   * The arrival time of the answer being handled (an event in `onEvent`, a put right after its
   * promise resolves), on performance.now()'s scale: for the h2 feed the time of the read that
   * brought it (`readClock`), for the other the current time.
   */
  now(): number;
  /** Wrong events and failed streams, by kind. */
  readonly errors: Map<string, number>;
  /** Cancels the streams. */
  close(): Promise<void>;
}

function count(errors: Map<string, number>, why: string): void {
  errors.set(why, (errors.get(why) ?? 0) + 1);
}

/** The per-stream checks of a watcher's events (both feeds). */
class StreamChecks {
  /** Last event revision per watch id the stream created. */
  readonly #last = new Map<number, number>();
  #prev = 0;
  #first = 0;
  #wrong: string | undefined;
  closing = false;

  constructor(readonly errors: Map<string, number>) {}

  /** A response begins. */
  begin(): void {
    this.#prev = this.#first = 0;
    this.#wrong = undefined;
  }

  /** One event of the response. */
  event(type: number, keyMatches: boolean, mod: number): void {
    if (type !== 0) this.#wrong = "watch: an event that is not a PUT";
    else if (!keyMatches) this.#wrong = "watch: an event of another key";
    else if (mod <= this.#prev) this.#wrong = "watch: events of a response out of order";
    if (this.#first === 0) this.#first = mod;
    this.#prev = mod;
  }

  /** The response ended; returns whether it created a watch. */
  end(r: Pick<WatchSummary, "watchId" | "created" | "canceled" | "events">): boolean {
    if (r.created) this.#last.set(r.watchId, 0);
    if (r.canceled) this.#wrong = `watch: watch ${r.watchId} canceled`;
    if (r.events > 0) {
      const last = this.#last.get(r.watchId);
      if (last === undefined) this.#wrong = `watch: events for watch ${r.watchId}, never created`;
      else if (this.#first <= last) this.#wrong = "watch: an event revision not above the last";
      else this.#last.set(r.watchId, this.#prev);
    }
    if (this.#wrong !== undefined) count(this.errors, this.#wrong);
    return r.created;
  }

  /** The stream ended (an error unless the feed is closing). */
  ended(err: GrpcError | Error | undefined): void {
    if (!this.closing) count(this.errors, `watch stream ended: ${err?.message ?? "cleanly"}`);
  }
}

/** Waits until `ready()` or `ms` pass; throws `what` on the timeout. */
async function until(ready: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!ready()) {
    if (performance.now() > deadline) throw new Error(what);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One watch stream of the h2 feed. */
class H2WatchSink implements CallSink {
  created = 0;
  id = 0;
  readonly checks: StreamChecks;
  readonly #sum: WatchSummary = {
    revision: 0,
    watchId: 0,
    created: false,
    canceled: false,
    compactRevision: 0,
    events: 0,
  };
  readonly #visit;

  constructor(errors: Map<string, number>, readonly key: Uint8Array, onEvent: OnEvent) {
    this.checks = new StreamChecks(errors);
    this.#visit = (
      type: number,
      keyMatches: boolean,
      mod: number,
      buf: Uint8Array,
      vs: number,
      ve: number,
    ) => {
      this.checks.event(type, keyMatches, mod);
      onEvent(mod, buf, vs, ve);
    };
  }

  message(buf: Uint8Array, start: number, end: number): void {
    this.checks.begin();
    try {
      readWatch(buf, start, end, this.#sum, this.key, this.#visit);
    } catch (e) {
      count(this.checks.errors, (e as Error).message);
      return;
    }
    if (this.checks.end(this.#sum)) this.created++;
  }

  end(err: GrpcError | undefined): void {
    this.checks.ended(err);
  }
}

const WATCH_PATH = "/etcdserverpb.Watch/Watch";

/** The light feed: client c's stream and puts on `conns[c]`. */
export function h2WatchFeed(
  conns: H2GrpcConn[],
  o: WorkloadOptions,
  key: Uint8Array,
  onEvent: OnEvent,
): WatchFeed {
  const errors = new Map<string, number>();
  const sinks: { conn: H2GrpcConn; sink: H2WatchSink }[] = [];
  const createReq = toBinary(
    WatchRequest,
    create(WatchRequest, { requestUnion: { case: "createRequest", value: { key } } }),
  );
  return {
    errors,
    now: readClock,
    async open() {
      for (let c = 0; c < o.clients; c++) {
        const sink = new H2WatchSink(errors, key, onEvent);
        sink.id = await conns[c].openStream(WATCH_PATH, sink);
        sinks.push({ conn: conns[c], sink });
        for (let w = 0; w < o.watchPerStream; w++) await conns[c].sendOn(sink.id, createReq);
        await until(
          () => sink.created === o.watchPerStream || errors.size > 0,
          10_000,
          `watch: ${sink.created} of ${o.watchPerStream} watchers created in 10 s`,
        );
        if (errors.size > 0) throw new Error([...errors.keys()].join("; "));
      }
    },
    put(c, value) {
      const { msg } = encodePut(key, value);
      let rev = 0;
      return new Promise<number>((resolve, reject) =>
        conns[c].call("/etcdserverpb.KV/Put", msg, {
          message: (buf, s, e) => (rev = putRevision(buf, s, e)),
          end: (err) =>
            err ? reject(err) : rev > 0 ? resolve(rev) : reject(new Error("put: no revision")),
        })
      );
    },
    async close() {
      for (const { conn, sink } of sinks) {
        sink.checks.closing = true;
        conn.cancelStream(sink.id);
      }
    },
  };
}

/** A watch stream of the promise-based clients. */
type WatchStream = BidiStream<MessageInitShape<typeof WatchRequestSchema>, WatchResponse>;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The feed on the promise-based clients of any transport (`--transport=fetch|connect`). */
export function clientWatchFeed(
  pool: ConnPool,
  o: WorkloadOptions,
  key: Uint8Array,
  onEvent: OnEvent,
): WatchFeed {
  const errors = new Map<string, number>();
  const streams: WatchStream[] = [];
  const readers: Promise<void>[] = [];
  const all: StreamChecks[] = [];
  return {
    errors,
    now: () => performance.now(),
    async open() {
      for (let c = 0; c < o.clients; c++) {
        const s = await pool.clients[c].watch();
        streams.push(s);
        const checks = new StreamChecks(errors);
        all.push(checks);
        for (let w = 0; w < o.watchPerStream; w++) {
          s.send({ requestUnion: { case: "createRequest", value: { key } } });
          const r = await s.next();
          if (r === undefined || !r.created) throw new Error("watch was not created");
          checks.end({ watchId: Number(r.watchId), created: true, canceled: false, events: 0 });
        }
      }
      for (const [i, s] of streams.entries()) {
        const checks = all[i];
        readers.push((async () => {
          try {
            while (true) {
              const r = await s.next();
              if (r === undefined) return checks.ended(undefined);
              checks.begin();
              for (const e of r.events) {
                const kv = e.kv;
                const mod = Number(kv?.modRevision ?? 0n);
                checks.event(e.type, kv !== undefined && sameBytes(kv.key, key), mod);
                const v = kv?.value ?? new Uint8Array(0);
                onEvent(mod, v, 0, v.length);
              }
              checks.end({
                watchId: Number(r.watchId),
                created: r.created,
                canceled: r.canceled,
                events: r.events.length,
              });
            }
          } catch (e) {
            checks.ended(e as Error);
          }
        })());
      }
    },
    async put(c, value) {
      const r = await pool.clients[c].kv.put({ key, value });
      const rev = Number(r.header?.revision ?? 0n);
      if (rev <= 0) throw new Error("put: no revision");
      return rev;
    },
    async close() {
      for (const c of all) c.closing = true;
      await Promise.all(streams.map((s) => s.close()));
      await Promise.all(readers);
    },
  };
}
