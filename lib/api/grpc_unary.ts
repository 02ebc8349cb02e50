/**
 * A direct path for the common case of gRPC: a unary call with one uncompressed binary
 * message. Connect's general gRPC handler runs every call through a chain of async stream
 * transforms; for unary calls that chain costs several times the call itself, so this path
 * reads the body, decodes the one envelope, calls the (instrumented) implementation and
 * answers one envelope plus trailers, with Connect's own helpers for status trailers and
 * timeouts. Anything else (compression, the JSON codec) returns undefined and goes to
 * Connect's handler.
 */
import { create, type DescMethod, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { toConnectError } from "./errors.ts";
import { UnaryContext } from "./unary_context.ts";
import { normalizeGrpcMessage } from "./grpc_message.ts";
import type { AnyImpl } from "./instrument.ts";
import { readLimited } from "./limits.ts";
import { none, once } from "./body.ts";

const GRPC_PROTO = "application/grpc+proto";

/** Serves one unary method over gRPC; see the module comment for when it declines. */
export function grpcUnaryHandler(
  method: DescMethod,
  impl: AnyImpl,
  maxBodyBytes: number,
): (req: UniversalServerRequest) => Promise<UniversalServerResponse | undefined> {
  return async (req) => {
    const type = req.header.get("Content-Type");
    if (type !== "application/grpc" && type !== GRPC_PROTO) return undefined;
    if (req.method !== "POST") return undefined;
    const encoding = req.header.get("grpc-encoding");
    if (encoding !== null && encoding !== "identity") return undefined;
    const timeout = parseTimeout(req.header.get("grpc-timeout"), Number.MAX_SAFE_INTEGER);
    const ctx = new UnaryContext({
      method,
      protocolName: "grpc",
      requestMethod: req.method,
      url: req.url,
      timeoutMs: timeout.timeoutMs,
      requestSignal: req.signal,
      requestHeader: req.header,
      responseHeader: { "Content-Type": GRPC_PROTO },
      responseTrailer: { "grpc-status": "0" },
      contextValues: req.contextValues,
    });
    let out: Uint8Array | undefined;
    try {
      if (timeout.error) throw timeout.error;
      const bytes = await readLimited(req.body as AsyncIterable<Uint8Array>, maxBodyBytes);
      if (bytes.length < 5) {
        throw new ConnectError(
          "protocol error: missing input message for unary method",
          Code.Unimplemented,
        );
      }
      if ((bytes[0] & 1) !== 0) {
        throw new ConnectError(
          "protocol error: received compressed message without grpc-encoding",
          Code.Internal,
        );
      }
      const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
      if (bytes.length !== 5 + len) {
        const msg = bytes.length < 5 + len
          ? "protocol error: promised " + len + " bytes in enveloped message, got " +
            (bytes.length - 5)
          : "protocol error: received extra input message for unary method";
        throw new ConnectError(
          msg,
          bytes.length < 5 + len ? Code.InvalidArgument : Code.Unimplemented,
        );
      }
      let input;
      try {
        input = fromBinary(method.input, bytes.subarray(5));
      } catch (err) {
        throw new ConnectError(`parse binary: ${(err as Error).message}`, Code.Internal);
      }
      const res = await impl(input, ctx);
      const msg = toBinary(method.output, create(method.output, res as Record<string, unknown>));
      out = new Uint8Array(5 + msg.length);
      new DataView(out.buffer).setUint32(1, msg.length);
      out.set(msg, 5);
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
