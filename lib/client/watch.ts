/**
 * Watches that outlive members: each watch is its own stream, and when that stream breaks
 * (the member died, stopped answering, or lost its leader) it is opened again on another
 * member at the revision after the last one delivered, so no event is lost or repeated.
 * A watch whose start revision was compacted away fails with `WatchCompactedError`, which
 * says the oldest revision still available.
 *
 * `requestProgress()` asks the member for a progress notification (etcd 3.4's
 * WatchProgressRequest): a response without events whose header revision says how far the
 * member's store is, delivered to the caller like clientv3's (`isProgressNotify`).
 */
import {
  Maintenance,
  Watch as WatchService,
  WatchCreateRequest_FilterType,
  type WatchRequestSchema,
  type WatchResponse,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Errors, EtcdError, GrpcCode } from "../base/errors.ts";
import { type Bytes, toBytes } from "./bytes.ts";
import type { Connection } from "./connection.ts";
import { needsNewToken, toEtcdError } from "./errors.ts";
import type { KeySpan } from "./ops.ts";
import { rangeRequest } from "./ops.ts";
import { sleep } from "./sleep.ts";

/** Watch options: etcd's WatchCreateRequest (fragmenting is handled by not asking for it). */
export interface WatchOptions extends KeySpan {
  /** The first revision to report (default: changes after now). */
  startRevision?: number | bigint;
  /** Each event carries the key-value before it. */
  prevKv?: boolean;
  /** Leave out puts. */
  noPut?: boolean;
  /** Leave out deletes. */
  noDelete?: boolean;
  /** Deliver the server's periodic progress notifications (responses without events). */
  progressNotify?: boolean;
  /** Aborting ends the watch (as `cancel()`). */
  signal?: AbortSignal;
}

/** The watch's start revision was compacted: history from `compactRevision` on remains. */
export class WatchCompactedError extends EtcdError {
  /** The oldest revision still in the history: watch from there. */
  readonly compactRevision: bigint;
  /** Made when the server cancels a watch for compaction. */
  constructor(compactRevision: bigint) {
    super(Errors.compacted.code, Errors.compacted.message);
    this.name = "WatchCompactedError";
    this.compactRevision = compactRevision;
  }
}

/** How the client watches over member failures (from the Client's options). */
export interface WatchTuning {
  /**
   * A stream silent for this long has its member probed (a Status call); a member that
   * does not answer within `probeTimeoutMs` is left for another. 0 disables.
   */
  probeIntervalMs: number;
  probeTimeoutMs: number;
}

const MAX_BUFFERED = 64;

/** The watch id etcd answers a progress request with (clientv3's InvalidWatchID). */
const PROGRESS_WATCH_ID = -1n;

/**
 * clientv3's WatchResponse.IsProgressNotify: a response that carries no events, only the
 * revision the member's store has reached (a periodic notification, or the answer to
 * `requestProgress`).
 */
export function isProgressNotify(r: WatchResponse): boolean {
  return r.events.length === 0 && !r.canceled && !r.created && r.compactRevision === 0n &&
    (r.header?.revision ?? 0n) !== 0n;
}

/** One request of a watch stream, as the client sends it. */
type WatchRequestInit = MessageInitShape<typeof WatchRequestSchema>;

const PROGRESS_REQUEST: WatchRequestInit = { requestUnion: { case: "progressRequest", value: {} } };

/**
 * The requests of one watch stream: the create request, then progress requests as the caller
 * makes them; the request side stays open until the stream ends.
 */
class StreamRequests {
  readonly #queue: WatchRequestInit[] = [];
  #wake?: () => void;
  #closed = false;

  constructor(first: WatchRequestInit, signal: AbortSignal) {
    this.#queue.push(first);
    signal.addEventListener("abort", () => this.close(), { once: true });
  }

  /** Sends `req` after what is queued; false once the stream has ended. */
  push(req: WatchRequestInit): boolean {
    if (this.#closed) return false;
    this.#queue.push(req);
    this.#wake?.();
    return true;
  }

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *requests(): AsyncGenerator<WatchRequestInit> {
    for (;;) {
      const next = this.#queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((r) => this.#wake = r);
      this.#wake = undefined;
    }
  }
}

type Item = { resp: WatchResponse } | { error: unknown } | { end: true };

/**
 * A running watch: iterate it for responses (each holding one or more events, in revision
 * order), `cancel()` to end it.
 *
 * @example
 * ```ts
 * import { Client, Event_EventType, text } from "./mod.ts";
 * const client = new Client({ endpoints: Deno.env.get("ETCDCTL_ENDPOINTS")?.split(",") ?? "127.0.0.1:2379" });
 * const w = client.watch("jobs/", { prefix: true });
 * await w.ready;
 * await client.put("jobs/1", "queued");
 * for await (const r of w) {
 *   for (const e of r.events) {
 *     console.log(Event_EventType[e.type], text(e.kv!.key)); // PUT jobs/1
 *   }
 *   break; // or w.cancel() from elsewhere
 * }
 * await client.close();
 * ```
 */
export class Watch implements AsyncIterable<WatchResponse> {
  /** Resolves once the server has created the watch (changes from then on are seen). */
  readonly ready: Promise<void>;
  /** The next revision the watch will report (it has delivered everything before it). */
  nextRevision: bigint;
  /** How many times the watch moved to another stream after a failure. */
  resumes = 0;
  /** The member the watch's current stream is on (undefined before the first). */
  endpoint?: string;

  readonly #ctrl = new AbortController();
  readonly #queue: Item[] = [];
  #wake?: () => void;
  #drained?: () => void;
  #readyResolve!: () => void;
  #readyReject!: (e: unknown) => void;
  #iterating = false;
  /** The open stream's requests (undefined between streams). */
  #requests?: StreamRequests;
  /** A progress request made while no stream was open: sent after the next create. */
  #progressPending = false;
  #ended = false;

  /** Made by `Client.watch`; the first stream opens at once. `onEnd` runs when it ends. */
  constructor(
    conn: Connection,
    key: Bytes,
    opts: WatchOptions,
    tuning: WatchTuning,
    onEnd?: () => void,
  ) {
    this.nextRevision = BigInt(opts.startRevision ?? 0);
    this.#bidi = conn.endpoints.every((u) => conn.at(u).transport.streamsRequests === true);
    this.ready = new Promise((res, rej) => {
      this.#readyResolve = res;
      this.#readyReject = rej;
    });
    this.ready.catch(() => {});
    const signals = [this.#ctrl.signal, conn.closing, ...(opts.signal ? [opts.signal] : [])];
    const signal = AbortSignal.any(signals);
    this.#run(conn, toBytes(key), opts, tuning, signal).then(
      () => this.#push({ end: true }),
      (error) => {
        this.#readyReject(error);
        this.#push({ error });
      },
    ).finally(() => {
      this.#ended = true;
      this.#requests = undefined;
      onEnd?.();
    });
  }

  /**
   * Ends the watch; iteration finishes after what was already received, at once: it does not
   * wait for the stream's end to come back from the transport (over fetch that can take a
   * while, or not come when the member is gone; Deno's fetch could lose it altogether, which
   * the gRPC-web transport now prevents, see fetch_abort.ts).
   */
  cancel(): void {
    if (!this.#ctrl.signal.aborted) this.#push({ end: true });
    this.#ctrl.abort();
  }

  /**
   * Asks the member for a progress notification (clientv3's RequestProgress): a response
   * without events, `isProgressNotify`, whose header revision is the member's current
   * revision, arrives in order with the watch's events. Made while the watch is moving to
   * another member, the request goes to the new stream. Throws once the watch has ended, and
   * on a transport that cannot send after the first request (gRPC-web over fetch).
   */
  requestProgress(): void {
    if (!this.active) {
      throw new EtcdError(GrpcCode.Canceled, "watch is closed");
    }
    if (!this.#bidi) {
      throw new EtcdError(
        GrpcCode.Unimplemented,
        "progress requests need a transport that streams requests (gRPC); gRPC-web over " +
          "fetch sends only the watch's first request",
      );
    }
    if (this.#requests === undefined || !this.#requests.push(PROGRESS_REQUEST)) {
      this.#progressPending = true;
    }
  }

  /** False once the watch was cancelled or has ended. */
  get active(): boolean {
    return !this.#ended && !this.#ctrl.signal.aborted;
  }

  /** Whether the transport of the current (or last) stream carries more than one request. */
  #bidi: boolean;

  /** The watch's responses in revision order; ends on cancel, throws what ended the watch. */
  async *[Symbol.asyncIterator](): AsyncGenerator<WatchResponse> {
    if (this.#iterating) throw new TypeError("a watch can be iterated once");
    this.#iterating = true;
    try {
      for (;;) {
        const item = this.#queue.shift();
        if (!item) {
          await new Promise<void>((r) => this.#wake = r);
          continue;
        }
        if (this.#queue.length < MAX_BUFFERED / 2) this.#drained?.();
        if ("resp" in item) yield item.resp;
        else if ("error" in item) throw item.error;
        else return;
      }
    } finally {
      this.cancel();
    }
  }

  #push(item: Item): void {
    this.#queue.push(item);
    this.#wake?.();
    this.#wake = undefined;
  }

  async #run(
    conn: Connection,
    key: Uint8Array,
    opts: WatchOptions,
    tuning: WatchTuning,
    signal: AbortSignal,
  ): Promise<void> {
    const span = rangeRequest(key, opts).rangeEnd;
    const filters: WatchCreateRequest_FilterType[] = [];
    if (opts.noPut) filters.push(WatchCreateRequest_FilterType.NOPUT);
    if (opts.noDelete) filters.push(WatchCreateRequest_FilterType.NODELETE);
    let failures = 0;
    while (!signal.aborted) {
      const ep = conn.pick();
      this.endpoint = ep.url;
      const stream = new AbortController();
      const streamSignal = AbortSignal.any([signal, stream.signal]);
      let heard = Date.now();
      let probe: ReturnType<typeof setInterval> | undefined;
      let headers: Record<string, string> | undefined;
      try {
        headers = await conn.headers();
        const auth = headers;
        const create = {
          key,
          rangeEnd: span,
          startRevision: this.nextRevision,
          prevKv: opts.prevKv ?? false,
          progressNotify: opts.progressNotify ?? false,
          filters,
        };
        this.#bidi = ep.transport.streamsRequests === true;
        const requests = new StreamRequests(
          { requestUnion: { case: "createRequest", value: create } },
          streamSignal,
        );
        if (this.#bidi) {
          this.#requests = requests;
          if (this.#progressPending) {
            this.#progressPending = false;
            requests.push(PROGRESS_REQUEST);
          }
        } else requests.close(); // one request, then half-close: all fetch can carry
        const input = requests.requests();
        if (tuning.probeIntervalMs > 0) {
          probe = setInterval(async () => {
            if (Date.now() - heard < tuning.probeIntervalMs) return;
            try {
              await conn.client(ep, Maintenance).status({}, {
                signal: streamSignal,
                timeoutMs: tuning.probeTimeoutMs,
                headers: auth,
              });
              heard = Date.now();
            } catch {
              if (!streamSignal.aborted) stream.abort();
            }
          }, tuning.probeIntervalMs);
        }
        // with `hasleader` (in the headers), etcd ends a watch whose member lost its leader
        const responses = conn.client(ep, WatchService).watch(input, {
          signal: streamSignal,
          headers: auth,
        });
        for await (const r of responses) {
          heard = Date.now();
          if (r.canceled) {
            if (r.compactRevision > 0n) throw new WatchCompactedError(r.compactRevision);
            throw cancelError(r.cancelReason);
          }
          if (r.compactRevision > 0n) throw new WatchCompactedError(r.compactRevision);
          const rev = r.header?.revision ?? 0n;
          if (r.created) {
            if (this.nextRevision === 0n) this.nextRevision = rev + 1n;
            failures = 0;
            this.#readyResolve();
            continue;
          }
          const events = r.events.filter((e) => (e.kv?.modRevision ?? 0n) >= this.nextRevision);
          if (events.length > 0) {
            this.nextRevision = events[events.length - 1].kv!.modRevision + 1n;
            r.events = events;
            await this.#deliver(r, signal);
          } else if (r.events.length === 0 && !r.fragment) {
            if (r.watchId === PROGRESS_WATCH_ID) {
              // the answer to requestProgress. etcd 3.4 answers with its store's revision even
              // while events before it are still on their way, so it does not move the resume
              // point (a periodic notification, sent only to a synced watcher, does)
              await this.#deliver(r, signal);
              continue;
            }
            // a progress notification: everything up to its revision was delivered
            if (rev + 1n > this.nextRevision) this.nextRevision = rev + 1n;
            if (opts.progressNotify) await this.#deliver(r, signal);
          }
        }
        // the member ended the stream (shutting down): resume elsewhere
        conn.markDown(ep);
      } catch (raw) {
        if (signal.aborted) return;
        if (raw instanceof WatchCompactedError) throw raw;
        const err = toEtcdError(raw);
        if (raw instanceof EtcdError && raw.cause === undefined && !retryable(err)) throw raw;
        if (needsNewToken(err)) conn.dropToken(headers?.token);
        else if (!retryable(err) && !stream.signal.aborted) throw err;
        else conn.markDown(ep);
      } finally {
        if (probe !== undefined) clearInterval(probe);
        stream.abort();
        this.#requests = undefined;
      }
      failures++;
      this.resumes++;
      await sleep(Math.min(25 * 2 ** Math.min(failures, 6), 1000), signal);
    }
  }

  async #deliver(r: WatchResponse, signal: AbortSignal): Promise<void> {
    this.#push({ resp: r });
    if (this.#queue.length >= MAX_BUFFERED && !signal.aborted) {
      // a slow consumer holds the stream back (bounded memory)
      await new Promise<void>((res) => {
        const done = () => {
          signal.removeEventListener("abort", done);
          this.#drained = undefined;
          res();
        };
        this.#drained = done;
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }
}

/** Failures another member (or the same one later) may not have. */
function retryable(err: EtcdError): boolean {
  return err.code === GrpcCode.Unavailable || err.code === GrpcCode.Unknown ||
    err.code === GrpcCode.Internal || err.code === GrpcCode.Canceled ||
    err.code === GrpcCode.DeadlineExceeded;
}

/** The error a server-side watch cancel stands for (etcd sends only its message). */
function cancelError(reason: string): EtcdError {
  for (const def of Object.values(Errors)) {
    if (def.message === reason || def.message === `etcdserver: ${reason}`) return def();
  }
  return new EtcdError(GrpcCode.FailedPrecondition, reason || Errors.watchCanceled.message);
}
