/**
 * A direct path for streaming gRPC calls (Watch, LeaseKeepAlive, Snapshot, Observe) with
 * uncompressed binary messages, the counterpart of grpc_unary.ts. Connect's general handler
 * moves every message of a stream through a chain of async-iterable transforms (parse,
 * validate, serialize, envelope, normalize), which cost about 5 KB of allocation and most of
 * the server's CPU per watch event; here a request envelope is decoded where it is read and a
 * response is enveloped where it is yielded. Anything else (compression, other codecs)
 * returns undefined and goes to Connect's handler.
 */
import {
  create,
  type DescMessage,
  type DescMethod,
  fromBinary,
  isMessage,
  toBinary,
} from "@bufbuild/protobuf";
import { WatchResponseSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { encodeWatchResponse } from "./watch_codec.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { toConnectError } from "./errors.ts";
import { normalizeGrpcMessage } from "./grpc_message.ts";
import type { AnyImpl } from "./instrument.ts";
import { readLimited, requestTooLarge } from "./limits.ts";
import { UnaryContext } from "./unary_context.ts";

const GRPC_PROTO = "application/grpc+proto";

/** A protocol violation in the request stream, as grpc-go reports it. */
function malformed(what: string): ConnectError {
  return new ConnectError(`grpc: ${what}`, Code.Internal);
}

/** Decodes one enveloped message of `schema`, refusing the compressed flag (no encoding). */
function decode(schema: DescMessage, bytes: Uint8Array, at: number, len: number): unknown {
  if ((bytes[at] & 1) !== 0) {
    throw malformed("received compressed message without grpc-encoding");
  }
  try {
    return fromBinary(schema, bytes.subarray(at + 5, at + 5 + len));
  } catch (err) {
    throw new ConnectError(`grpc: failed to unmarshal the received message: ${err}`, Code.Internal);
  }
}

/**
 * The request messages of a client or bidi stream, decoded as their envelopes complete. A
 * message longer than `maxBytes` is refused with grpc-go's ResourceExhausted.
 */
export async function* readMessages(
  body: AsyncIterable<Uint8Array>,
  schema: DescMessage,
  maxBytes: number,
): AsyncGenerator<unknown, void, undefined> {
  let buf: Uint8Array = new Uint8Array(0);
  let start = 0;
  try {
    for await (const chunk of body) {
      if (start === buf.length) {
        buf = chunk;
        start = 0;
      } else {
        const next = new Uint8Array(buf.length - start + chunk.length);
        next.set(buf.subarray(start));
        next.set(chunk, buf.length - start);
        buf = next;
        start = 0;
      }
      while (buf.length - start >= 5) {
        const len = ((buf[start + 1] << 24) >>> 0) + (buf[start + 2] << 16) +
          (buf[start + 3] << 8) + buf[start + 4];
        if (len > maxBytes) {
          throw new ConnectError(
            `grpc: received message larger than max (${len} vs. ${maxBytes})`,
            Code.ResourceExhausted,
          );
        }
        if (buf.length - start < 5 + len) break;
        const msg = decode(schema, buf, start, len);
        start += 5 + len;
        yield msg;
      }
    }
  } catch (err) {
    if (err instanceof Error && err.name === "BodyTooLargeError") throw requestTooLarge();
    throw err;
  }
  if (start !== buf.length) throw malformed("the request stream ended inside a message");
}

/** Hand-written encoders for the hottest streamed messages (byte-identical to toBinary). */
const FAST_ENCODERS = new Map<string, (message: never) => Uint8Array>([
  [WatchResponseSchema.typeName, encodeWatchResponse],
]);

function envelope(schema: DescMessage, message: unknown): Uint8Array {
  const fast = FAST_ENCODERS.get(schema.typeName);
  const msg = fast !== undefined && isMessage(message, schema)
    ? fast(message as never)
    : toBinary(schema, create(schema, message as Record<string, unknown>));
  const out = new Uint8Array(5 + msg.length);
  out[1] = msg.length >>> 24;
  out[2] = (msg.length >>> 16) & 0xff;
  out[3] = (msg.length >>> 8) & 0xff;
  out[4] = msg.length & 0xff;
  out.set(msg, 5);
  return out;
}

/** Serves one streaming method over gRPC; see the module comment for when it declines. */
export function grpcStreamHandler(
  method: DescMethod,
  impl: AnyImpl,
  maxMessageBytes: number,
): (req: UniversalServerRequest) => Promise<UniversalServerResponse | undefined> {
  if (method.methodKind === "unary") throw new Error(`${method.name} is unary`);
  const clientStreams = method.methodKind !== "server_streaming";
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
    const body = req.body as AsyncIterable<Uint8Array>;
    async function* respond(): AsyncGenerator<Uint8Array> {
      try {
        if (timeout.error) throw timeout.error;
        let input: unknown;
        if (clientStreams) input = readMessages(body, method.input, maxMessageBytes);
        else {
          const bytes = await readLimited(body, maxMessageBytes);
          if (bytes.length < 5) {
            throw new ConnectError(
              "protocol error: missing input message for server-streaming method",
              Code.Unimplemented,
            );
          }
          const len = ((bytes[1] << 24) >>> 0) + (bytes[2] << 16) + (bytes[3] << 8) + bytes[4];
          if (bytes.length !== 5 + len) {
            throw new ConnectError(
              bytes.length < 5 + len
                ? `protocol error: promised ${len} bytes in enveloped message, got ${
                  bytes.length - 5
                }`
                : "protocol error: received extra input message for server-streaming method",
              bytes.length < 5 + len ? Code.InvalidArgument : Code.Unimplemented,
            );
          }
          input = decode(method.input, bytes, 0, len);
        }
        for await (const res of impl(input, ctx) as AsyncIterable<unknown>) {
          yield envelope(method.output, res);
        }
      } catch (err) {
        const ce = toConnectError(err);
        setTrailerStatus(ctx.responseTrailer, ce);
        normalizeGrpcMessage(ctx.responseTrailer);
        ctx.abort(ce);
      } finally {
        // as Connect's: the call's signal fires once it is over, whatever the outcome
        ctx.abort(new ConnectError("the call ended", Code.Canceled));
      }
    }
    return {
      status: 200,
      header: ctx.responseHeader,
      body: respond(),
      trailer: ctx.responseTrailer,
    };
  };
}
