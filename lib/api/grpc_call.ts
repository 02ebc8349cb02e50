/**
 * What the direct gRPC paths (grpc_unary.ts, grpc_stream.ts) share: which requests they take
 * (binary protobuf over POST, no compression), the call context they build for them, and the
 * gRPC length-prefixed message envelope, read and written.
 */
import { type DescMessage, type DescMethod, fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { parseTimeout } from "@connectrpc/connect/protocol-grpc";
import { CallContext } from "./call_context.ts";
import type { CountSink } from "../base/metric_sink.ts";
import { decodePutBody } from "../server/put_entry_codec.ts";
import { decodeKeepAliveRequest } from "./lease_keepalive_codec.ts";

const PUT_REQUEST = "etcdserverpb.PutRequest";
const KEEP_ALIVE_REQUEST = "etcdserverpb.LeaseKeepAliveRequest";

/** Where the direct paths count message bytes (etcd_network_client_grpc_*_bytes_total). */
export interface GrpcByteCounts {
  received: CountSink;
  sent: CountSink;
}

/** The response content type of the direct paths. */
export const GRPC_PROTO = "application/grpc+proto";

/** A request a direct path serves, with its context and any refusal of its timeout header. */
export interface GrpcCall {
  ctx: CallContext;
  /** A malformed grpc-timeout: the call fails with it (Connect's behaviour). */
  timeoutError: ConnectError | undefined;
}

/**
 * The call for `req` if a direct path may serve it (binary protobuf, POST, identity or no
 * grpc-encoding); undefined sends it to Connect's general handler.
 */
export function acceptGrpc(req: UniversalServerRequest, method: DescMethod): GrpcCall | undefined {
  const type = req.header.get("Content-Type");
  if (type !== "application/grpc" && type !== GRPC_PROTO) return undefined;
  if (req.method !== "POST") return undefined;
  const encoding = req.header.get("grpc-encoding");
  if (encoding !== null && encoding !== "identity") return undefined;
  const timeout = parseTimeout(req.header.get("grpc-timeout"), Number.MAX_SAFE_INTEGER);
  const ctx = new CallContext({
    method,
    protocolName: "grpc",
    requestMethod: req.method,
    url: req.url,
    timeoutMs: timeout.timeoutMs,
    request: req,
    requestHeader: req.header,
    responseHeader: { "Content-Type": GRPC_PROTO },
    responseTrailer: { "grpc-status": "0" },
    contextValues: req.contextValues,
  });
  return { ctx, timeoutError: timeout.error };
}

/** The message length of the envelope at `at` (its 4-byte big-endian length field). */
export function envelopeLength(bytes: Uint8Array, at: number): number {
  return ((bytes[at + 1] << 24) >>> 0) + (bytes[at + 2] << 16) + (bytes[at + 3] << 8) +
    bytes[at + 4];
}

/** Decodes the envelope at `at` (of `len` message octets), refusing the compressed flag. */
export function decodeEnvelope(
  schema: DescMessage,
  bytes: Uint8Array,
  at: number,
  len: number,
): unknown {
  if ((bytes[at] & 1) !== 0) {
    throw new ConnectError(
      "protocol error: received compressed message without grpc-encoding",
      Code.Internal,
    );
  }
  try {
    const body = bytes.subarray(at + 5, at + 5 + len);
    // a put (most calls under a write load) is read by the hand decoder when it can
    const typeName = schema.typeName;
    return (typeName === PUT_REQUEST
      ? decodePutBody(body)
      : typeName === KEEP_ALIVE_REQUEST
      ? decodeKeepAliveRequest(body)
      : undefined) ?? fromBinary(schema, body);
  } catch (err) {
    throw new ConnectError(`parse binary: ${(err as Error).message}`, Code.Internal);
  }
}

/**
 * The one request message of a unary or server-streaming call, with Connect's errors for a
 * missing, truncated or extra message (`kind` names the method kind in them).
 */
export function decodeSingle(
  schema: DescMessage,
  bytes: Uint8Array,
  kind: "unary" | "server-streaming",
): unknown {
  if (bytes.length < 5) {
    throw new ConnectError(
      `protocol error: missing input message for ${kind} method`,
      Code.Unimplemented,
    );
  }
  const len = envelopeLength(bytes, 0);
  if (bytes.length < 5 + len) {
    throw new ConnectError(
      `protocol error: promised ${len} bytes in enveloped message, got ${bytes.length - 5}`,
      Code.InvalidArgument,
    );
  }
  if (bytes.length > 5 + len) {
    throw new ConnectError(
      `protocol error: received extra input message for ${kind} method`,
      Code.Unimplemented,
    );
  }
  return decodeEnvelope(schema, bytes, 0, len);
}

/** Envelopes an encoded message (flags 0: not compressed). */
export function envelope(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + msg.length);
  out[1] = msg.length >>> 24;
  out[2] = (msg.length >>> 16) & 0xff;
  out[3] = (msg.length >>> 8) & 0xff;
  out[4] = msg.length & 0xff;
  out.set(msg, 5);
  return out;
}
