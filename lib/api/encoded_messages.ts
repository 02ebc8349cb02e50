/**
 * Messages a streaming method hands to the direct gRPC stream path already encoded and
 * enveloped, several at once. The watch service sends one put's event to every watcher of a
 * stream; encoding them itself (sharing the bytes common to all watchers) and passing them in
 * one piece spares a protobuf-es message and a trip through every async generator between the
 * service and the socket per watcher. Only calls whose context `acceptsEncoded` may yield
 * them: every other protocol (Connect, gRPC-web, the JSON gateway) needs message objects.
 */
import type { HandlerContext } from "@connectrpc/connect";

/** One or more consecutive enveloped gRPC messages (5-byte prefix, uncompressed). */
export class EncodedMessages {
  constructor(
    /** The envelopes, back to back. */
    readonly bytes: Uint8Array,
    /** How many messages `bytes` holds (for the messages-sent metric). */
    readonly count: number,
  ) {}

  /** The messages' own bytes, without their envelopes (for the bytes-sent metric). */
  get payloadBytes(): number {
    return this.bytes.length - 5 * this.count;
  }
}

const accepting = new WeakSet<HandlerContext>();

/** Marks a call as served by a path that takes EncodedMessages (the direct gRPC path). */
export function markAcceptsEncoded(ctx: HandlerContext): void {
  accepting.add(ctx);
}

/** True when the call's responses may be EncodedMessages. */
export function acceptsEncoded(ctx: HandlerContext): boolean {
  return accepting.has(ctx);
}

/**
 * `m` typed as the method's response message, which Connect's service types require of what a
 * method yields. Only a call that `acceptsEncoded` may be given it, and the direct gRPC path
 * checks `instanceof EncodedMessages` before it treats anything as a message.
 */
export function asResponse<T>(m: EncodedMessages): T {
  return m as unknown as T;
}

/**
 * Where a streaming method sends its EncodedMessages as it makes them instead of yielding them
 * (the direct gRPC path of Watch: a commit's events go to the connection's frames in the turn
 * the method makes them, not through the generators between it and the socket). A method
 * that has a sink must send everything through it, so nothing it yields can overtake it.
 */
export interface MessageSink {
  /**
   * Sends `m`; false when the connection holds a backlog: send more only once `onRoom` is
   * called.
   */
  send(m: EncodedMessages): boolean;
  /** Set by the method: called when a backlog is gone. */
  onRoom: (() => void) | undefined;
  /** Adds a counter of the messages sent (the instrumentation's messages-sent metric). */
  observe(count: (messages: number) => void): void;
}

const sinks = new WeakMap<HandlerContext, MessageSink>();

/** Gives the call a sink (the direct gRPC path, for the methods it serves pushed). */
export function setMessageSink(ctx: HandlerContext, sink: MessageSink): void {
  sinks.set(ctx, sink);
}

/** The call's sink, when its responses may be pushed. */
export function messageSinkOf(ctx: HandlerContext): MessageSink | undefined {
  return sinks.get(ctx);
}
