/**
 * etcd's grpc-gateway, wire for wire: POST a request message as JSON to /v3/<path>, get the
 * response as JSON with the gateway's exact shape (proto field names, 64-bit integers as
 * strings, bytes as base64, enums as names, zero values left out). Streaming methods take a
 * sequence of JSON request objects and answer newline-delimited `{"result": ...}` objects.
 * Errors are `{"error", "code", "message"}` with grpc-gateway's HTTP status for the code.
 */
import {
  create,
  type DescMessage,
  type DescMethod,
  fromJson,
  type JsonValue,
  toJson,
} from "@bufbuild/protobuf";
import { Code, ConnectError, createHandlerContext } from "@connectrpc/connect";
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import {
  gatewayErrorBody,
  gatewayStreamErrorChunk,
  httpStatusFromCode,
  toConnectError,
} from "./errors.ts";
import { GATEWAY_ROUTES } from "./gateway_routes.ts";
import type { AnyImpl } from "./instrument.ts";
import { splitJsonValues } from "./json_stream.ts";
import { type EtcdServices, SERVICE_DESCRIPTORS } from "./services.ts";
import { limitBody, requestTooLarge } from "./limits.ts";
import { once } from "./body.ts";
import { parseJsonExact } from "./json_int64.ts";

const JSON_HEADERS = { "Content-Type": "application/json" };
const encoder = new TextEncoder();

/** How the gateway reads and writes JSON (grpc-gateway's JSONPb{OrigName: true}). */
const READ = { ignoreUnknownFields: true } as const;
const WRITE = { useProtoFieldName: true } as const;

interface Target {
  readonly method: DescMethod;
  readonly impl: AnyImpl | undefined;
}

/** Serves the REST gateway paths over wrapped service implementations. */
export class Gateway {
  readonly #targets = new Map<string, Target>();
  readonly #maxBodyBytes: number;

  /**
   * `impls` are the instrumented implementations by service key (see instrument.ts);
   * `maxBodyBytes` bounds a unary request body.
   */
  constructor(
    impls: { readonly [K in keyof EtcdServices]?: Record<string, AnyImpl> },
    maxBodyBytes: number,
  ) {
    this.#maxBodyBytes = maxBodyBytes;
    for (const [path, route] of GATEWAY_ROUTES) {
      const service = SERVICE_DESCRIPTORS[route.service];
      const method = service.methods.find((m) => m.name === route.method);
      if (!method) throw new Error(`gateway route ${path}: no method ${route.method}`);
      this.#targets.set(path, { method, impl: impls[route.service]?.[method.localName] });
    }
  }

  /** True when `path` (already canonical /v3/...) is a gateway path. */
  has(path: string): boolean {
    return this.#targets.has(path);
  }

  /** Answers one gateway request for the canonical `path`. */
  async handle(req: UniversalServerRequest, path: string): Promise<UniversalServerResponse> {
    const target = this.#targets.get(path);
    if (!target) return textResponse(404, "Not Found\n");
    if (req.method !== "POST") return textResponse(405, "Method Not Allowed\n");
    const { method, impl } = target;
    const ctx = createHandlerContext({
      service: method.parent,
      method,
      protocolName: "grpc-gateway",
      requestMethod: req.method,
      url: req.url,
      requestSignal: req.signal,
      requestHeader: req.header,
    });
    if (!impl) {
      return errorResponse(
        new ConnectError(
          `unknown method ${method.name} for service ${method.parent.typeName}`,
          Code.Unimplemented,
        ),
      );
    }
    const body = req.body as AsyncIterable<Uint8Array>;
    try {
      switch (method.methodKind) {
        case "unary": {
          const input = await readMessage(method.input, limitBody(body, this.#maxBodyBytes));
          const out = await impl(input, ctx);
          return jsonResponse(
            200,
            toJson(method.output, create(method.output, out as Record<string, unknown>), WRITE),
          );
        }
        case "server_streaming": {
          const input = await readMessage(method.input, limitBody(body, this.#maxBodyBytes));
          return await streamResponse(
            method,
            impl(input, ctx) as AsyncIterable<Record<string, unknown>>,
          );
        }
        case "client_streaming":
        case "bidi_streaming": {
          const inputs = readMessages(method.input, body, this.#maxBodyBytes);
          if (method.methodKind === "client_streaming") {
            const out = await impl(inputs, ctx);
            return jsonResponse(
              200,
              toJson(method.output, create(method.output, out as Record<string, unknown>), WRITE),
            );
          }
          return await streamResponse(
            method,
            impl(inputs, ctx) as AsyncIterable<Record<string, unknown>>,
          );
        }
      }
    } catch (err) {
      return errorResponse(toConnectError(err));
    }
  }
}

function textResponse(status: number, text: string): UniversalServerResponse {
  return {
    status,
    header: new Headers({ "Content-Type": "text/plain; charset=utf-8" }),
    body: once(encoder.encode(text)),
  };
}

function jsonResponse(status: number, value: JsonValue): UniversalServerResponse {
  return {
    status,
    header: new Headers(JSON_HEADERS),
    body: once(encoder.encode(JSON.stringify(value))),
  };
}

/** The gateway's answer to a failed unary call. */
export function errorResponse(err: ConnectError): UniversalServerResponse {
  return {
    status: httpStatusFromCode(err.code),
    header: new Headers(JSON_HEADERS),
    body: once(encoder.encode(JSON.stringify(gatewayErrorBody(err)))),
  };
}

function parseMessage<D extends DescMessage>(desc: D, text: string) {
  let json: JsonValue;
  try {
    json = parseJsonExact(text);
  } catch (err) {
    throw new ConnectError((err as Error).message, Code.InvalidArgument);
  }
  // grpc-gateway ignores unknown fields but refuses unknown enum names; protobuf-es ties both
  // to one option, so parse strictly and relax only when the complaint is an unknown key.
  try {
    return fromJson(desc, json);
  } catch (strict) {
    if (!/key "[^"]*" is unknown/.test((strict as Error).message)) {
      throw new ConnectError((strict as Error).message, Code.InvalidArgument);
    }
  }
  try {
    return fromJson(desc, json, READ);
  } catch (err) {
    throw new ConnectError((err as Error).message, Code.InvalidArgument);
  }
}

/** Reads a whole body as one message; an empty body is the empty message, as in the gateway. */
async function readMessage<D extends DescMessage>(desc: D, body: AsyncIterable<Uint8Array>) {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    parts.push(chunk);
    size += chunk.length;
  }
  const all = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  const text = new TextDecoder().decode(all);
  if (text.trim() === "") return create(desc);
  // Like Go's json.Decoder in grpc-gateway: the first JSON value is the request, whatever
  // follows it is ignored.
  let first: string | undefined;
  try {
    for await (const value of splitJsonValues(once(all))) {
      first = value;
      break;
    }
  } catch {
    first = undefined; // unterminated: let JSON.parse report the error
  }
  return parseMessage(desc, first ?? text);
}

/** Reads consecutive JSON request objects from a streaming body. */
async function* readMessages<D extends DescMessage>(
  desc: D,
  body: AsyncIterable<Uint8Array>,
  maxMessageBytes: number,
) {
  for await (const text of splitJsonValues(body, maxMessageBytes, requestTooLarge)) {
    yield parseMessage(desc, text);
  }
}

/**
 * A streamed answer: waits for the first response (or error) so the HTTP status can say
 * whether the call failed before anything was sent, as grpc-gateway does; then streams.
 */
async function streamResponse(
  method: DescMethod,
  responses: AsyncIterable<Record<string, unknown>>,
): Promise<UniversalServerResponse> {
  const it = responses[Symbol.asyncIterator]();
  let first: IteratorResult<Record<string, unknown>>;
  try {
    first = await it.next();
  } catch (err) {
    const ce = toConnectError(err);
    return {
      status: httpStatusFromCode(ce.code),
      header: new Headers(JSON_HEADERS),
      body: once(encoder.encode(JSON.stringify(gatewayStreamErrorChunk(ce)))),
    };
  }
  const line = (m: Record<string, unknown>) =>
    encoder.encode(
      JSON.stringify({ result: toJson(method.output, create(method.output, m), WRITE) }) + "\n",
    );
  async function* body(): AsyncGenerator<Uint8Array> {
    try {
      if (first.done) return;
      yield line(first.value);
      while (true) {
        let next: IteratorResult<Record<string, unknown>>;
        try {
          next = await it.next();
        } catch (err) {
          yield encoder.encode(JSON.stringify(gatewayStreamErrorChunk(toConnectError(err))));
          return;
        }
        if (next.done) return;
        yield line(next.value);
      }
    } finally {
      await it.return?.();
    }
  }
  return { status: 200, header: new Headers(JSON_HEADERS), body: body() };
}
