/**
 * A direct path for the common case of gRPC: a unary call with one uncompressed binary
 * message. Connect's general gRPC handler runs every call through a chain of async stream
 * transforms; for unary calls that chain costs several times the call itself, so this path
 * reads the body, decodes the one envelope, calls the (instrumented) implementation and
 * answers one envelope plus trailers, with Connect's own helpers for status trailers and
 * timeouts. Anything else (compression, the JSON codec) returns undefined and goes to
 * Connect's handler.
 */
import { create, type DescMethod, toBinary } from "@bufbuild/protobuf";
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { toConnectError } from "./errors.ts";
import { acceptGrpc, decodeSingle, envelope, type GrpcByteCounts } from "./grpc_call.ts";
import { normalizeGrpcMessage } from "./grpc_message.ts";
import type { AnyImpl } from "./instrument.ts";
import { readLimited } from "./limits.ts";
import { none, once } from "./body.ts";
import { envelopePutResponse } from "./put_response_codec.ts";

/** Serves one unary method over gRPC; see the module comment for when it declines. */
export function grpcUnaryHandler(
  method: DescMethod,
  impl: AnyImpl,
  maxBodyBytes: number,
  bytes?: GrpcByteCounts,
): (req: UniversalServerRequest) => Promise<UniversalServerResponse | undefined> {
  return async (req) => {
    const call = acceptGrpc(req, method);
    if (call === undefined) return undefined;
    const { ctx, timeoutError } = call;
    let out: Uint8Array | undefined;
    try {
      if (timeoutError) throw timeoutError;
      let body: Uint8Array | undefined = await readLimited(
        req.body as AsyncIterable<Uint8Array>,
        maxBodyBytes,
      );
      let input: unknown = decodeSingle(method.input, body, "unary");
      bytes?.received.add(body.length - 5);
      const pending = impl(input, ctx);
      // A suspended frame keeps its locals: while the call waits (a put: for its commit),
      // this one keeps neither the request's bytes nor its decoded message (docs/perf.md
      // "Memory per request, fifth session").
      body = input = undefined;
      const res = await pending;
      // Put's answer (most calls under a write load) is written by hand
      out = envelopePutResponse(res) ?? envelope(
        toBinary(method.output, create(method.output, res as Record<string, unknown>)),
      );
      bytes?.sent.add(out.length - 5);
    } catch (err) {
      const ce = toConnectError(err);
      ctx.abort(ce);
      setTrailerStatus(ctx.responseTrailer, ce);
      normalizeGrpcMessage(ctx.responseTrailer);
      out = undefined;
    }
    return {
      status: 200,
      header: ctx.responseHeader,
      body: out === undefined ? none() : once(out),
      trailer: ctx.responseTrailer,
    };
  };
}
