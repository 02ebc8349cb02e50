/**
 * The one place where errors become wire errors. An `EtcdError` keeps its gRPC code and
 * etcd's exact message on every protocol (gRPC status, gRPC-web trailer, Connect error JSON,
 * gateway JSON); anything else becomes `Unknown` with its message only, never a stack.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { Errors, EtcdError, GrpcCode } from "../base/errors.ts";

/**
 * Converts anything thrown by a service into a ConnectError. ConnectErrors pass through
 * (Connect's own protocol errors, e.g. Unimplemented); EtcdErrors keep code and message;
 * cancellations stay Canceled; other errors become Unknown with their message.
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof EtcdError) return new ConnectError(err.message, err.code as number as Code);
  // lib/http bounds bodies too (BodyTooLargeError); whichever bound trips first, the client
  // hears etcd's error. Matched by name so this layer does not depend on the server's class.
  if (err instanceof Error && err.name === "BodyTooLargeError") {
    const e = Errors.requestTooLarge();
    return new ConnectError(e.message, e.code as number as Code);
  }
  if (err instanceof DOMException && err.name === "AbortError") {
    return new ConnectError("context canceled", Code.Canceled);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ConnectError(message, Code.Unknown);
}

/** The HTTP status grpc-gateway (as vendored by etcd 3.4) answers for each gRPC code. */
export function httpStatusFromCode(code: number): number {
  switch (code) {
    case GrpcCode.OK:
      return 200;
    case GrpcCode.Canceled:
      return 408;
    case GrpcCode.Unknown:
      return 500;
    case GrpcCode.InvalidArgument:
      return 400;
    case GrpcCode.DeadlineExceeded:
      return 504;
    case GrpcCode.NotFound:
      return 404;
    case GrpcCode.AlreadyExists:
      return 409;
    case GrpcCode.PermissionDenied:
      return 403;
    case GrpcCode.Unauthenticated:
      return 401;
    case GrpcCode.ResourceExhausted:
      return 429;
    case GrpcCode.FailedPrecondition:
      return 412;
    case GrpcCode.Aborted:
      return 409;
    case GrpcCode.OutOfRange:
      return 400;
    case GrpcCode.Unimplemented:
      return 501;
    case GrpcCode.Internal:
      return 500;
    case GrpcCode.Unavailable:
      return 503;
    case GrpcCode.DataLoss:
      return 500;
    default:
      return 500;
  }
}

/** Reason phrases for the statuses `httpStatusFromCode` returns (Go's http.StatusText). */
const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  409: "Conflict",
  412: "Precondition Failed",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** The body grpc-gateway sends for a failed unary call: `{"error","code","message"}`. */
export interface GatewayErrorBody {
  error: string;
  code: number;
  message: string;
}

/** The gateway body for an error; `code` is left out when 0, as the gateway's JSON does. */
export function gatewayErrorBody(err: ConnectError): Partial<GatewayErrorBody> {
  // Key order as grpc-gateway writes it: error, message, code.
  const body: Partial<GatewayErrorBody> = { error: err.rawMessage, message: err.rawMessage };
  if ((err.code as number) !== 0) body.code = err.code;
  return body;
}

/** The chunk grpc-gateway ends a failed stream with: `{"error": {grpc_code, ...}}`. */
export function gatewayStreamErrorChunk(err: ConnectError): { error: Record<string, unknown> } {
  const http = httpStatusFromCode(err.code);
  const inner: Record<string, unknown> = {};
  if ((err.code as number) !== 0) inner.grpc_code = err.code;
  inner.http_code = http;
  if (err.rawMessage !== "") inner.message = err.rawMessage;
  inner.http_status = STATUS_TEXT[http] ?? "";
  return { error: inner };
}
