/**
 * A bidirectional gRPC stream of protobuf-es messages on an H2GrpcConn (bench/loadgen/h2_grpc.ts),
 * for the calls off the hot loops: watch creation in tests, lease keep-alive. The hot loops use
 * the connection's `openStream` with their own decoder instead.
 */
import {
  create,
  type DescMessage,
  type DescMethodBiDiStreaming,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { CallSink, GrpcError } from "./grpc_call.ts";

/**
 * A bidirectional gRPC stream on an H2GrpcConn: `send` messages, read answers with `next()`
 * (undefined once the server ends the stream cleanly), `cancel()` to reset it.
 */
export class H2BidiStream<I extends DescMessage, O extends DescMessage> implements CallSink {
  readonly #method: DescMethodBiDiStreaming<I, O>;
  readonly #inbox: Uint8Array[] = [];
  #sendRaw: (msg: Uint8Array | undefined, end: boolean) => Promise<void> = () =>
    Promise.reject(new Error("stream not open"));
  #cancel: () => void = () => {};
  #ended = false;
  #error: GrpcError | undefined;
  #wake: (() => void) | undefined;
  #sending: Promise<void> = Promise.resolve();

  /** Made by H2GrpcConn.stream, which then `attach`es the stream's send and cancel. */
  constructor(method: DescMethodBiDiStreaming<I, O>) {
    this.#method = method;
  }

  /** @internal Binds the stream to its HTTP/2 stream once that is open. */
  attach(
    send: (msg: Uint8Array | undefined, end: boolean) => Promise<void>,
    cancel: () => void,
  ): void {
    this.#sendRaw = send;
    this.#cancel = cancel;
  }

  /** Sends one request; sends on a stream go out in call order. */
  send(req: MessageInitShape<I>): Promise<void> {
    const msg = toBinary(this.#method.input, create(this.#method.input, req));
    this.#sending = this.#sending.then(() => this.#sendRaw(msg, false));
    return this.#sending;
  }

  /** Half-closes the request side (END_STREAM). */
  closeSend(): Promise<void> {
    this.#sending = this.#sending.then(() => this.#sendRaw(undefined, true));
    return this.#sending;
  }

  /** The next answer, undefined once the stream ended cleanly; throws the stream's error. */
  async next(): Promise<MessageShape<O> | undefined> {
    while (true) {
      const m = this.#inbox.shift();
      if (m !== undefined) return fromBinary(this.#method.output, m);
      if (this.#error) throw this.#error;
      if (this.#ended) return undefined;
      await new Promise<void>((r) => (this.#wake = r));
      this.#wake = undefined;
    }
  }

  /** Resets the stream (RST_STREAM CANCEL); a pending `next()` ends. */
  cancel(): void {
    this.#cancel();
    this.end(undefined);
  }

  /** @internal A message arrived (a view of the read buffer: copied). */
  message(buf: Uint8Array, start: number, end: number): void {
    this.#inbox.push(buf.slice(start, end));
    this.#wake?.();
  }

  /** @internal The stream ended. */
  end(err: GrpcError | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = err;
    this.#wake?.();
  }
}
