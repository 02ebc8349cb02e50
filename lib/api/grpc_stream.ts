/**
 * A direct path for streaming gRPC calls (Watch, LeaseKeepAlive, Snapshot, Observe) with
 * uncompressed binary messages, the counterpart of grpc_unary.ts. Connect's general handler
 * moves every message of a stream through a chain of async-iterable transforms (parse,
 * validate, serialize, envelope, normalize), which cost about 5 KB of allocation and most of
 * the server's CPU per watch event; here a request envelope is decoded where it is read and a
 * response is enveloped where it is yielded (or comes enveloped already, as EncodedMessages,
 * from a method that encodes its own). Anything else (compression, other codecs)
 * returns undefined and goes to Connect's handler.
 */
import { create, type DescMessage, type DescMethod, isMessage, toBinary } from "@bufbuild/protobuf";
import { WatchResponseSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { encodeWatchResponse } from "./watch_codec.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { toConnectError } from "./errors.ts";
import { normalizeGrpcMessage } from "./grpc_message.ts";
import type { AnyImpl } from "./instrument.ts";
import { readLimited, requestTooLarge } from "./limits.ts";
import {
  acceptGrpc,
  decodeEnvelope,
  decodeSingle,
  envelope,
  envelopeLength,
  type GrpcByteCounts,
} from "./grpc_call.ts";
import type { CountSink } from "../base/metric_sink.ts";
import {
  EncodedMessages,
  markAcceptsEncoded,
  type MessageSink,
  setMessageSink,
} from "./encoded_messages.ts";
import type { DirectHandler } from "./grpc_unary.ts";
import { PushBody } from "../http/push_body.ts";

/** A protocol violation in the request stream, as grpc-go reports it. */
function malformed(what: string): ConnectError {
  return new ConnectError(`grpc: ${what}`, Code.Internal);
}

/**
 * The request messages of a client or bidi stream, decoded as their envelopes complete. A
 * message longer than `maxBytes` is refused with grpc-go's ResourceExhausted.
 */
export async function* readMessages(
  body: AsyncIterable<Uint8Array>,
  schema: DescMessage,
  maxBytes: number,
  received?: CountSink,
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
        const len = envelopeLength(buf, start);
        if (len > maxBytes) {
          throw new ConnectError(
            `grpc: received message larger than max (${len} vs. ${maxBytes})`,
            Code.ResourceExhausted,
          );
        }
        if (buf.length - start < 5 + len) break;
        const msg = decodeEnvelope(schema, buf, start, len);
        received?.add(len);
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

/** A response message enveloped (the hottest ones by their hand-written encoders). */
function encode(schema: DescMessage, message: unknown): Uint8Array {
  const fast = FAST_ENCODERS.get(schema.typeName);
  return envelope(
    fast !== undefined && isMessage(message, schema)
      ? fast(message as never)
      : toBinary(schema, create(schema, message as Record<string, unknown>)),
  );
}

/** Serves one streaming method over gRPC; see the module comment for when it declines. */
export function grpcStreamHandler(
  method: DescMethod,
  impl: AnyImpl,
  maxMessageBytes: number,
  bytes?: GrpcByteCounts,
): DirectHandler {
  if (method.methodKind === "unary") throw new Error(`${method.name} is unary`);
  const clientStreams = method.methodKind !== "server_streaming";
  const pushed = PUSHED.has(`${method.parent.typeName}/${method.name}`);
  return (req) => {
    const call = acceptGrpc(req, method);
    if (call === undefined) return undefined;
    const { ctx, timeoutError } = call;
    markAcceptsEncoded(ctx);
    const body = req.body as AsyncIterable<Uint8Array>;
    async function* respond(): AsyncGenerator<Uint8Array> {
      try {
        if (timeoutError) throw timeoutError;
        let input: unknown;
        if (clientStreams) {
          input = readMessages(body, method.input, maxMessageBytes, bytes?.received);
        } else {
          const whole = await readLimited(body, maxMessageBytes);
          input = decodeSingle(method.input, whole, "server-streaming");
          bytes?.received.add(whole.length - 5);
        }
        for await (const res of impl(input, ctx) as AsyncIterable<unknown>) {
          if (res instanceof EncodedMessages) {
            bytes?.sent.add(res.payloadBytes);
            yield res.bytes;
            continue;
          }
          const out = encode(method.output, res);
          bytes?.sent.add(out.length - 5);
          yield out;
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
    if (!pushed) {
      return Promise.resolve({
        status: 200,
        header: ctx.responseHeader,
        body: respond(),
        trailer: ctx.responseTrailer,
      });
    }
    // The method sends through a sink straight into the body; what it yields (nothing, for
    // Watch) goes the same way, and its end or failure ends the body after its trailers are set.
    const out = new PushBody();
    const sink = new BodySink(out, bytes);
    setMessageSink(ctx, sink);
    out.onReturn = () => {
      sink.wake();
      ctx.abort(new ConnectError("the call ended", Code.Canceled));
    };
    void (async () => {
      try {
        for await (const chunk of respond()) {
          if (!out.push(chunk)) await sink.room();
        }
      } finally {
        out.end();
      }
    })();
    return Promise.resolve({
      status: 200,
      header: ctx.responseHeader,
      body: out,
      trailer: ctx.responseTrailer,
    });
  };
}

/**
 * Methods whose direct gRPC calls get a MessageSink (lib/api/encoded_messages.ts): the watch
 * service pushes each commit's events into the connection's frames in the commit's turn.
 */
const PUSHED = new Set(["etcdserverpb.Watch/Watch"]);

/** A call's MessageSink over its pushed body, counting what it sends. */
class BodySink implements MessageSink {
  onRoom: (() => void) | undefined;
  #counters: ((messages: number) => void)[] = [];
  #waiters: (() => void)[] = [];

  constructor(readonly body: PushBody, readonly bytes: GrpcByteCounts | undefined) {
    body.onRoom = () => {
      this.wake();
      this.onRoom?.();
    };
  }

  /** Lets every `room()` waiter go on (the backlog is gone, or the body was abandoned). */
  wake(): void {
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) w();
  }

  send(m: EncodedMessages): boolean {
    this.bytes?.sent.add(m.payloadBytes);
    for (const c of this.#counters) c(m.count);
    return this.body.push(m.bytes);
  }

  observe(count: (messages: number) => void): void {
    this.#counters.push(count);
  }

  /** Resolves when the body's backlog is gone (or the body was abandoned). */
  room(): Promise<void> {
    if (this.body.returned) return Promise.resolve();
    return new Promise((r) => this.#waiters.push(r));
  }
}
