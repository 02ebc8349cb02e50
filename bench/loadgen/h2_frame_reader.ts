/**
 * The read side of the load generator's HTTP/2 client (h2_grpc.ts): reads a connection into one
 * growing buffer and hands each whole frame to its handler where it lies (DATA and HEADERS as
 * offsets into the buffer, no copy; the rare others as a view), and keeps the time of the
 * latest read for the latency clocks (`readClock`).
 */
import { FRAME_HEADER_LEN, FrameType, readU32 } from "../../lib/http/frame.ts";
import { GrpcError } from "./grpc_call.ts";

/** Where read frames go; each payload is valid only during the call. */
export interface FrameHandler {
  data(flags: number, id: number, buf: Uint8Array, start: number, end: number): void;
  headers(flags: number, id: number, buf: Uint8Array, start: number, end: number): void;
  frame(type: number, flags: number, id: number, payload: Uint8Array): void;
}

let lastReadAt = performance.now();

/**
 * performance.now() at the latest read of any connection: the arrival time of the answers
 * being processed (one clock reading per read, not one per answer).
 */
export function readClock(): number {
  return lastReadAt;
}

/**
 * Reads `conn`'s frames into `h` until the connection fails or the server closes it, which
 * throws (a GrpcError 14 for the close).
 */
export async function readFrames(conn: Deno.TcpConn, h: FrameHandler): Promise<never> {
  let buf = new Uint8Array(1 << 16);
  let len = 0;
  while (true) {
    if (len === buf.length) {
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    }
    const n = await conn.read(buf.subarray(len));
    if (n === null) throw new GrpcError(14, "connection closed by the server");
    lastReadAt = performance.now();
    len += n;
    let p = 0;
    while (len - p >= FRAME_HEADER_LEN) {
      const flen = (buf[p] << 16) | (buf[p + 1] << 8) | buf[p + 2];
      if (len - p < FRAME_HEADER_LEN + flen) {
        if (FRAME_HEADER_LEN + flen > buf.length) {
          const bigger = new Uint8Array(FRAME_HEADER_LEN + flen);
          bigger.set(buf.subarray(p, len));
          buf = bigger;
          len -= p;
          p = 0;
        }
        break;
      }
      const type = buf[p + 3];
      const flags = buf[p + 4];
      const id = readU32(buf, p + 5) & 0x7fffffff;
      const start = p + FRAME_HEADER_LEN;
      p = start + flen;
      // the frames of every answer are read where they lie; the rare others as a view
      if (type === FrameType.DATA) h.data(flags, id, buf, start, p);
      else if (type === FrameType.HEADERS) h.headers(flags, id, buf, start, p);
      else h.frame(type, flags, id, buf.subarray(start, p));
    }
    if (p > 0) {
      buf.copyWithin(0, p, len);
      len -= p;
    }
  }
}
