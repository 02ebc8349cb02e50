/**
 * A direct path for the common case of gRPC: a unary call with one uncompressed binary
 * message. Connect's general gRPC handler runs every call through a chain of async stream
 * transforms; for unary calls that chain costs several times the call itself, so this path
 * reads the body, decodes the one envelope, calls the implementation and answers one envelope
 * plus trailers, with Connect's own helpers for status trailers and timeouts. Anything else
 * (compression, the JSON codec) is declined synchronously (undefined) and goes to Connect's
 * handler.
 *
 * No async frame: while a call waits for its answer (a put: for its commit, through two young
 * generation collections under load, so whatever it holds is promoted), it holds one `.then`
 * on the implementation's promise whose callbacks keep the method's handler, the call's
 * CallAnswer and its start time, not the request, its headers or the CallContext. The
 * instrumented method's metrics are counted in that same `.then` (instrument.ts
 * `meteredUnaryOf`) instead of in a `.then` of their own (docs/perf.md "Held per put,
 * seventh session").
 */
import { create, type DescMethod, toBinary } from "@bufbuild/protobuf";
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { toConnectError } from "./errors.ts";
import { acceptGrpc, decodeSingle, envelope, type GrpcByteCounts } from "./grpc_call.ts";
import { normalizeGrpcMessage } from "./grpc_message.ts";
import type { CallAnswer, CallContext } from "./call_context.ts";
import { type AnyImpl, type MeteredUnary, meteredUnaryOf } from "./instrument.ts";
import { readLimited } from "./limits.ts";
import { none, once } from "./body.ts";
import { envelopePutResponse } from "./put_response_codec.ts";

/**
 * A direct path's handler: the response's promise, or undefined (decided synchronously) when
 * the path does not serve this request.
 */
export type DirectHandler = (
  req: UniversalServerRequest,
) => Promise<UniversalServerResponse> | undefined;

/** What every call of one method shares. */
interface Method {
  readonly method: DescMethod;
  readonly metered: MeteredUnary;
  readonly bytes: GrpcByteCounts | undefined;
}

/**
 * Serves one unary method over gRPC; see the module comment for when it declines. The promise
 * does not reject: failures are answered as grpc-status trailers.
 */
export function grpcUnaryHandler(
  method: DescMethod,
  impl: AnyImpl,
  maxBodyBytes: number,
  bytes?: GrpcByteCounts,
): DirectHandler {
  const m: Method = { method, metered: meteredUnaryOf(impl) ?? unmetered(impl), bytes };
  return (req) => {
    const call = acceptGrpc(req, method);
    if (call === undefined) return undefined;
    const { ctx, timeoutError } = call;
    if (timeoutError) return Promise.resolve(failed(ctx.answer, timeoutError));
    return readLimited(req.body as AsyncIterable<Uint8Array>, maxBodyBytes).then(
      (body) => callWith(m, ctx, body),
      (err) => failed(ctx.answer, err),
    );
  };
}

/** An implementation that is not instrumented, in the same shape (no metrics). */
function unmetered(impl: AnyImpl): MeteredUnary {
  return {
    start: () => 0,
    call: (input, ctx) => {
      try {
        return Promise.resolve(impl(input, ctx));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    finish: () => {},
  };
}

/** Decodes the request and calls the implementation; the answer once it settles. */
function callWith(
  m: Method,
  ctx: CallContext,
  body: Uint8Array,
): Promise<UniversalServerResponse> | UniversalServerResponse {
  let t0: number;
  let pending: Promise<unknown>;
  try {
    const input = decodeSingle(m.method.input, body, "unary");
    m.bytes?.received.add(body.length - 5);
    t0 = m.metered.start(ctx);
    pending = m.metered.call(input, ctx);
  } catch (err) {
    return failed(ctx.answer, err);
  }
  return settle(m, pending, ctx.answer, t0);
}

/**
 * The answer once `pending` settles. A function of its own so that its callbacks close over
 * these three values only (a closure keeps its whole enclosing scope: one made in `callWith`
 * would keep the CallContext).
 */
function settle(
  m: Method,
  pending: Promise<unknown>,
  answer: CallAnswer,
  t0: number,
): Promise<UniversalServerResponse> {
  return pending.then((res) => {
    m.metered.finish(t0, 0);
    return succeeded(m, answer, res);
  }, (err) => {
    const ce = toConnectError(err);
    m.metered.finish(t0, ce.code);
    return failed(answer, ce);
  });
}

/** One enveloped response message and status 0 (an encoding failure is answered as one). */
function succeeded(m: Method, answer: CallAnswer, res: unknown): UniversalServerResponse {
  let out: Uint8Array;
  try {
    // Put's answer (most calls under a write load) is written by hand
    out = envelopePutResponse(res) ?? envelope(
      toBinary(m.method.output, create(m.method.output, res as Record<string, unknown>)),
    );
  } catch (err) {
    return failed(answer, err);
  }
  m.bytes?.sent.add(out.length - 5);
  return { status: 200, header: answer.header, body: once(out), trailer: answer.trailer };
}

/** No message, the failure's status in the trailers; the call's signal aborts with it. */
function failed(answer: CallAnswer, err: unknown): UniversalServerResponse {
  const ce = toConnectError(err);
  answer.abort(ce);
  setTrailerStatus(answer.trailer, ce);
  normalizeGrpcMessage(answer.trailer);
  return { status: 200, header: answer.header, body: none(), trailer: answer.trailer };
}
