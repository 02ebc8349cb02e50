/**
 * A direct path for Connect-protocol unary calls (`POST` with `application/json` or
 * `application/proto`), the form browsers and Connect clients use for every non-streaming
 * etcd call. Connect's own unary handler allocates an abort signal chain and aborts it after
 * every call (a DOMException with a captured stack each time), which is most of its cost;
 * this path answers the same bytes with Connect's helpers for timeouts, errors and trailers.
 * GET requests, compressed bodies and unknown protocol versions return undefined and go to
 * Connect's handler.
 */
import {
  create,
  type DescMethod,
  fromBinary,
  fromJsonString,
  toBinary,
  toJsonString,
} from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  mergeNonProtocolHeaders,
  type UniversalServerRequest,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  errorToJsonBytes,
  parseTimeout,
  trailerMux,
} from "@connectrpc/connect/protocol-connect";
import { toConnectError } from "./errors.ts";
import { CallContext } from "./call_context.ts";
import type { AnyImpl } from "./instrument.ts";
import { readLimited } from "./limits.ts";
import { once } from "./body.ts";
import type { DirectHandler } from "./grpc_unary.ts";
import { quoteLargeIntegers } from "./json_int64.ts";

const JSON_RE = /^application\/json(?:;\s*charset=utf-?8)?$/i;
const PROTO_RE = /^application\/proto$/i;
const READ_JSON = { ignoreUnknownFields: true } as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Serves one unary method over the Connect protocol; see the module comment. */
export function connectUnaryHandler(
  method: DescMethod,
  impl: AnyImpl,
  maxBodyBytes: number,
): DirectHandler {
  // declines synchronously, before its own async frame begins
  return (req) => {
    if (req.method !== "POST") return undefined;
    const type = req.header.get("Content-Type");
    if (type === null) return undefined;
    const json = JSON_RE.test(type);
    if (!json && !PROTO_RE.test(type)) return undefined;
    const encoding = req.header.get("Content-Encoding");
    if (encoding !== null && encoding !== "identity") return undefined;
    const version = req.header.get("Connect-Protocol-Version");
    if (version !== null && version !== "1") return undefined;
    const timeout = parseTimeout(req.header.get("Connect-Timeout-Ms"), Number.MAX_SAFE_INTEGER);
    const ctx = new CallContext({
      method,
      protocolName: "connect",
      requestMethod: req.method,
      url: req.url,
      timeoutMs: timeout.timeoutMs,
      request: req,
      requestHeader: req.header,
      responseHeader: { "Content-Type": json ? "application/json" : "application/proto" },
      contextValues: req.contextValues,
    });
    return serve(method, impl, maxBodyBytes, req, ctx, json, timeout.error);
  };
}

/** The call, once the path took it. */
async function serve(
  method: DescMethod,
  impl: AnyImpl,
  maxBodyBytes: number,
  req: UniversalServerRequest,
  ctx: CallContext,
  json: boolean,
  timeoutError: ConnectError | undefined,
): Promise<UniversalServerResponse> {
  let status = 200;
  let body: Uint8Array;
  try {
    if (timeoutError) throw timeoutError;
    const bytes = await readLimited(req.body as AsyncIterable<Uint8Array>, maxBodyBytes);
    let input;
    if (json) {
      try {
        input = fromJsonString(
          method.input,
          quoteLargeIntegers(decoder.decode(bytes)),
          READ_JSON,
        );
      } catch (err) {
        throw ConnectError.from(err, Code.InvalidArgument);
      }
    } else {
      try {
        input = fromBinary(method.input, bytes);
      } catch (err) {
        throw new ConnectError(`parse binary: ${(err as Error).message}`, Code.Internal);
      }
    }
    const out = create(method.output, (await impl(input, ctx)) as Record<string, unknown>);
    body = json ? encoder.encode(toJsonString(method.output, out)) : toBinary(method.output, out);
  } catch (err) {
    const ce = toConnectError(err);
    ctx.abort(ce);
    status = codeToHttpStatus(ce.code);
    ctx.responseHeader.set("Content-Type", "application/json");
    if (!ce.isWireError) mergeNonProtocolHeaders(ctx.responseHeader, ce.metadata);
    body = errorToJsonBytes(ce, {});
  }
  const header = trailerMux(ctx.responseHeader, ctx.responseTrailer);
  header.set("Content-Length", String(body.byteLength));
  return { status, header, body: once(body) };
}
