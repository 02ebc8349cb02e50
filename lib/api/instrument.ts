/**
 * Wraps each service method once, so every protocol (gRPC, gRPC-web, Connect and the REST
 * gateway) gets the same error mapping and the same request metrics.
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { GrpcCode } from "../base/errors.ts";
import { toConnectError } from "./errors.ts";
import { EncodedMessages, messageSinkOf } from "./encoded_messages.ts";
import type { GrpcMetrics } from "./metrics.ts";
import { ErrorCode } from "../http/frame.ts";
import { ResponseAbandonedError } from "../http/response_abandoned.ts";

/** A method implementation of any kind, as Connect calls it. */
export type AnyImpl = (input: unknown, ctx: HandlerContext) => unknown;

/** go-grpc-prometheus's name for a method kind. */
function grpcType(method: DescMethod): string {
  switch (method.methodKind) {
    case "unary":
      return "unary";
    case "server_streaming":
      return "server_stream";
    case "client_streaming":
      return "client_stream";
    case "bidi_streaming":
      return "bidi_stream";
  }
}

/** The 17 gRPC status codes, whose handled series go-grpc-prometheus shows from the start. */
const ALL_CODES: readonly number[] = Array.from({ length: 17 }, (_, i) => i);

function codeName(code: number): string {
  return GrpcCode[code] ?? "Unknown";
}

/**
 * The gRPC code a client sees for a stream the server reset (gRPC's HTTP/2 mapping:
 * ENHANCE_YOUR_CALM is RESOURCE_EXHAUSTED, CANCEL is CANCELLED, anything else INTERNAL).
 */
function resetCode(http2Code: number): number {
  switch (http2Code) {
    case ErrorCode.ENHANCE_YOUR_CALM:
      return GrpcCode.ResourceExhausted;
    case ErrorCode.CANCEL:
      return GrpcCode.Canceled;
    default:
      return GrpcCode.Internal;
  }
}

/** etcd's API label of the streams whose failures it counts (server_stream_failures_total). */
const STREAM_APIS: Readonly<Record<string, string>> = {
  "etcdserverpb.Watch/Watch": "watch",
  "etcdserverpb.Lease/LeaseKeepAlive": "lease-keepalive",
};

/**
 * The request messages of a client or bidi stream, each counted as it is taken. A plain
 * iterator rather than an async generator: one `then` per message instead of a generator's
 * resumption and its promises (a keep-alive stream takes one message per keep-alive).
 */
class CountIn<T> implements AsyncIterableIterator<T> {
  readonly #it: AsyncIterator<T>;
  readonly #onResult: (r: IteratorResult<T>) => IteratorResult<T>;
  readonly #onError: (err: unknown) => never;

  constructor(
    it: AsyncIterable<T>,
    onMessage: () => void,
    onFailure: (() => void) | undefined,
  ) {
    this.#it = it[Symbol.asyncIterator]();
    this.#onResult = (r) => {
      if (r.done !== true) onMessage();
      return r;
    };
    this.#onError = (err) => {
      onFailure?.();
      throw err;
    };
  }

  next(): Promise<IteratorResult<T>> {
    return this.#it.next().then(this.#onResult, this.#onError);
  }

  async return(value?: unknown): Promise<IteratorResult<T>> {
    await this.#it.return?.();
    return { done: true, value: value as T };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}

/**
 * A unary method's implementation and its metrics apart, for the direct gRPC path, which
 * answers in one `.then` of its own instead of the wrapper's and then its own (a promise, its
 * reaction and two closures fewer held per call while it waits for its commit: docs/perf.md
 * "Held per put, seventh session"). The wrapped method is exactly `start`, `call`, then
 * `finish` with the code of `toConnectError` of a failure.
 */
export interface MeteredUnary {
  /** Counts the call as started; the start time for `finish`. May throw (the call fails). */
  start(ctx: HandlerContext): number;
  /** The implementation's answer; a synchronous throw comes back as a rejected promise. */
  call(input: unknown, ctx: HandlerContext): Promise<unknown>;
  /** Counts the call as handled with `code` (0: OK) and observes its latency. */
  finish(t0: number, code: number): void;
}

const meteredByWrapped = new WeakMap<AnyImpl, MeteredUnary>();

/** The parts of a unary method wrapped by `instrumentService`; undefined for anything else. */
export function meteredUnaryOf(wrapped: AnyImpl): MeteredUnary | undefined {
  return meteredByWrapped.get(wrapped);
}

/**
 * Returns `impl` with each method wrapped: thrown errors become ConnectErrors through
 * `toConnectError`, and (when `metrics` is given) calls are counted and timed.
 */
export function instrumentService(
  service: DescService,
  impl: Readonly<Record<string, AnyImpl | undefined>>,
  metrics: GrpcMetrics | undefined,
): Record<string, AnyImpl> {
  const out: Record<string, AnyImpl> = {};
  for (const method of service.methods) {
    const fn = impl[method.localName];
    if (typeof fn !== "function") continue;
    const labels = {
      grpc_type: grpcType(method),
      grpc_service: service.typeName,
      grpc_method: method.name,
    };
    // Each series bound once: the per-call cost is an addition, not a label key. As
    // go-grpc-prometheus (etcd's), every method's series are shown from the start, at 0,
    // the handled ones for every code.
    const startedSeries = metrics?.started.series(labels);
    metrics?.handlingSeconds?.init(labels);
    const latency = metrics?.handlingSeconds?.series(labels);
    const handledByCode = ALL_CODES.map((code) => {
      const s = metrics?.handled.series({ ...labels, grpc_code: codeName(code) });
      s?.inc(0);
      return s;
    });
    const received = metrics?.received.series(labels);
    const sent = metrics?.sent.series(labels);
    startedSeries?.inc(0);
    received?.inc(0);
    sent?.inc(0);
    // go-grpc-prometheus counts a unary or server-streaming call's request as a message
    // received, and a unary call's answer as one sent
    const singleIn = method.methodKind === "unary" || method.methodKind === "server_streaming";
    const unary = method.methodKind === "unary";
    const requests = method.methodKind === "unary"
      ? metrics?.unaryRequests
      : metrics?.streamRequests;
    const started = (ctx: HandlerContext) => {
      startedSeries?.inc();
      if (singleIn) received?.inc();
      requests?.count(ctx.requestHeader);
      return latency === undefined ? 0 : performance.now();
    };
    const finished = (t0: number, code: number) => {
      if (!metrics) return;
      let handled = handledByCode[code];
      if (handled === undefined) {
        // not a gRPC code: counted under its name, as the codes are
        handled = metrics.handled.series({ ...labels, grpc_code: codeName(code) });
        handledByCode[code] = handled;
      }
      handled.inc();
      if (unary && code === 0) sent?.inc();
      if (latency !== undefined) latency.observe((performance.now() - t0) / 1000);
    };
    const onReceived = () => received?.inc();
    // a failure while the client is still there (an undecodable request, a failed write):
    // a client leaving aborts ctx.signal first, and etcd does not count that either
    const streamApi = STREAM_APIS[`${service.typeName}/${method.name}`];
    const receiveFailures = streamApi === undefined
      ? undefined
      : metrics?.streamFailures.series({ Type: "receive", API: streamApi });
    const sendFailures = streamApi === undefined
      ? undefined
      : metrics?.streamFailures.series({ Type: "send", API: streamApi });
    const failedUnlessGone = (ctx: HandlerContext, failures: typeof receiveFailures) =>
      failures === undefined ? undefined : () => {
        if (!ctx.signal.aborted) failures.inc();
      };
    const streamingIn = method.methodKind === "client_streaming" ||
      method.methodKind === "bidi_streaming";
    if (method.methodKind === "unary" || method.methodKind === "client_streaming") {
      const call = (input: unknown, ctx: HandlerContext): Promise<unknown> => {
        try {
          const arg = streamingIn
            ? new CountIn(input as AsyncIterable<unknown>, onReceived, undefined)
            : input;
          return Promise.resolve(fn.call(impl, arg, ctx));
        } catch (err) {
          return Promise.reject(err);
        }
      };
      // Not an async function: a suspended frame would keep the request's message (its
      // arguments) while the call waits; these callbacks keep only the start time.
      const wrapped = (input: unknown, ctx: HandlerContext): Promise<unknown> => {
        let t0: number;
        try {
          t0 = started(ctx);
        } catch (err) {
          return Promise.reject(err);
        }
        return call(input, ctx).then((res) => {
          finished(t0, 0);
          return res;
        }, (err) => {
          const ce = toConnectError(err);
          finished(t0, ce.code);
          throw ce;
        });
      };
      if (unary) meteredByWrapped.set(wrapped, { start: started, call, finish: finished });
      out[method.localName] = wrapped;
    } else {
      out[method.localName] = async function* (input: unknown, ctx: HandlerContext) {
        const t0 = started(ctx);
        // what the method pushes rather than yields (lib/api/encoded_messages.ts)
        if (sent !== undefined) messageSinkOf(ctx)?.observe((n) => sent.inc(n));
        let code = 0;
        try {
          const arg = streamingIn
            ? new CountIn(
              input as AsyncIterable<unknown>,
              onReceived,
              failedUnlessGone(ctx, receiveFailures),
            )
            : input;
          for await (const res of fn.call(impl, arg, ctx) as AsyncIterable<unknown>) {
            sent?.inc(res instanceof EncodedMessages ? res.count : 1);
            try {
              yield res;
            } catch (err) {
              // the response could not be taken: an error thrown into the stream by its
              // consumer (lib/http never throws in: it ends the stream, see below)
              if (sendFailures !== undefined && !ctx.signal.aborted) sendFailures.inc();
              throw err;
            }
          }
        } catch (err) {
          const ce = toConnectError(err);
          code = ce.code;
          throw ce;
        } finally {
          const reason = ctx.signal.reason;
          if (code === 0 && reason instanceof ResponseAbandonedError) {
            // the server gave up delivering a response to a client still there (no window
            // in time, too much unsent): a failed send, as etcd counts a Send error that is
            // not the client's context; the client sees the reset's code
            sendFailures?.inc();
            code = resetCode(reason.code);
          } else if (code === 0 && ctx.signal.aborted) code = GrpcCode.Canceled;
          finished(t0, code);
        }
      };
    }
  }
  return out;
}
