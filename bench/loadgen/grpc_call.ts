/**
 * One gRPC call's receive side on the load generator's HTTP/2 client (h2_grpc.ts): the error a
 * call ends with, the sink its answers go to, and the state that turns a stream's DATA into
 * length-prefixed messages and its headers and trailers into the call's outcome. Kept apart
 * from the connection so the gRPC rules (message framing, grpc-status) are read in one place.
 */
import { readU32 } from "../../lib/http/frame.ts";

/** A gRPC failure: the status code and message the server sent (or a transport failure, 14). */
export class GrpcError extends Error {
  constructor(readonly code: number, readonly grpcMessage: string) {
    super(`${code}: ${grpcMessage}`);
    this.name = "GrpcError";
  }
}

/**
 * Receives one call's answers: each message as buf[start, end), a view of the receive buffer
 * valid only during the call (copy what is kept), then the end of the call, exactly once.
 */
export interface CallSink {
  message(buf: Uint8Array, start: number, end: number): void;
  /** The call ended: cleanly (undefined) or with this error. */
  end(err: GrpcError | undefined): void;
}

const EMPTY = new Uint8Array(0);

/** One open stream's state, shared by unary calls and bidirectional streams. */
export class CallState {
  /** Received bytes not yet returned to the peer by a stream WINDOW_UPDATE. */
  unacked = 0;
  /** Received bytes of an incomplete length-prefixed message. */
  partial: Uint8Array = EMPTY;
  status: string | undefined = undefined;
  message: string | undefined = undefined;

  /**
   * @param sendWindow bytes we may still send on this stream (the peer's stream window)
   * @param sink where the answers and the end go
   */
  constructor(public sendWindow: number, readonly sink: CallSink) {}

  /**
   * Splits received bytes into length-prefixed messages for the stream's sink (views of `body`
   * or of the joined tail); keeps an incomplete tail.
   */
  messages(buf: Uint8Array, start: number, end: number): void {
    let data = buf;
    let p = start;
    if (this.partial.length > 0) {
      data = new Uint8Array(this.partial.length + end - start);
      data.set(this.partial);
      data.set(buf.subarray(start, end), this.partial.length);
      p = 0;
      end = data.length;
    }
    while (end - p >= 5) {
      if (data[p] !== 0) {
        this.status ??= "12";
        this.message ??= "compressed message not supported";
        p = end;
        break;
      }
      const len = readU32(data, p + 1);
      if (end - p - 5 < len) break;
      this.sink.message(data, p + 5, p + 5 + len);
      p += 5 + len;
    }
    this.partial = p === end ? EMPTY : data.slice(p, end);
  }

  /** Takes the status of a decoded header block (name, value, name, value, ...). */
  headerFields(fields: string[]): void {
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] === ":status" && fields[i + 1] !== "200") {
        this.status ??= "2";
        this.message ??= `HTTP status ${fields[i + 1]}`;
      } else if (fields[i] === "grpc-status") this.status = fields[i + 1];
      else if (fields[i] === "grpc-message") this.message = decodeURIComponent(fields[i + 1]);
    }
  }

  /** The stream ended: ends the sink with the call's outcome. */
  finish(): void {
    const sink = this.sink;
    if (this.status === undefined) sink.end(new GrpcError(13, "stream ended without grpc-status"));
    else if (this.status !== "0") sink.end(new GrpcError(Number(this.status), this.message ?? ""));
    else if (this.partial.length > 0) {
      sink.end(new GrpcError(13, "truncated message at stream end"));
    } else sink.end(undefined);
  }
}
