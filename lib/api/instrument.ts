/**
 * Wraps each service method once, so every protocol (gRPC, gRPC-web, Connect and the REST
 * gateway) gets the same error mapping and the same request metrics.
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { GrpcCode } from "../base/errors.ts";
import { toConnectError } from "./errors.ts";
import type { GrpcMetrics } from "./metrics.ts";

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

function codeName(code: number): string {
  return GrpcCode[code] ?? "Unknown";
}

async function* countIn<T>(
  it: AsyncIterable<T>,
  onMessage: () => void,
): AsyncGenerator<T, void, undefined> {
  for await (const m of it) {
    onMessage();
    yield m;
  }
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
    // each series bound once: the per-call cost is an addition, not a label key
    const startedSeries = metrics?.started.series(labels);
    const latency = metrics?.handlingSeconds.series(labels);
    const handledByCode = new Map<number, { inc(by?: number): void }>();
    const received = metrics?.received.series(labels);
    const sent = metrics?.sent.series(labels);
    const started = () => {
      startedSeries?.inc();
      return performance.now();
    };
    const finished = (t0: number, code: number) => {
      if (!metrics) return;
      let handled = handledByCode.get(code);
      if (handled === undefined) {
        handled = metrics.handled.series({ ...labels, grpc_code: codeName(code) });
        handledByCode.set(code, handled);
      }
      handled.inc();
      latency?.observe((performance.now() - t0) / 1000);
    };
    const onReceived = () => received?.inc();
    const streamingIn = method.methodKind === "client_streaming" ||
      method.methodKind === "bidi_streaming";
    if (method.methodKind === "unary" || method.methodKind === "client_streaming") {
      out[method.localName] = async (input: unknown, ctx: HandlerContext) => {
        const t0 = started();
        try {
          const arg = streamingIn ? countIn(input as AsyncIterable<unknown>, onReceived) : input;
          const res = await fn.call(impl, arg, ctx);
          finished(t0, 0);
          return res;
        } catch (err) {
          const ce = toConnectError(err);
          finished(t0, ce.code);
          throw ce;
        }
      };
    } else {
      out[method.localName] = async function* (input: unknown, ctx: HandlerContext) {
        const t0 = started();
        let code = 0;
        try {
          const arg = streamingIn ? countIn(input as AsyncIterable<unknown>, onReceived) : input;
          for await (const res of fn.call(impl, arg, ctx) as AsyncIterable<unknown>) {
            sent?.inc();
            yield res;
          }
        } catch (err) {
          const ce = toConnectError(err);
          code = ce.code;
          throw ce;
        } finally {
          finished(t0, ctx.signal.aborted && code === 0 ? GrpcCode.Canceled : code);
        }
      };
    }
  }
  return out;
}
