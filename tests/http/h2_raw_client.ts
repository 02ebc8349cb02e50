/**
 * A raw HTTP/2 client for tests: writes arbitrary (also malformed) frames and reads the
 * server's frames one by one, so every error path can be driven exactly.
 */
import { ByteBuffer } from "../../lib/http/byte_buffer.ts";
import {
  FRAME_HEADER_LEN,
  FrameType,
  PREFACE,
  readU32,
  writeFrameHeader,
  writeSettings,
} from "../../lib/http/frame.ts";
import { HpackDecoder, HpackEncoder } from "../../lib/http/hpack.ts";

export interface Frame {
  type: number;
  flags: number;
  sid: number;
  payload: Uint8Array;
}

export class RawH2 {
  private buf = new Uint8Array(0);
  readonly enc = new HpackEncoder();
  readonly dec = new HpackDecoder();
  closed = false;

  private constructor(readonly conn: Deno.Conn) {}

  /** Connect; by default sends the preface and an empty SETTINGS frame. */
  static async connect(
    port: number,
    opts: { preface?: boolean; settings?: [number, number][] } = {},
  ): Promise<RawH2> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    const c = new RawH2(conn);
    if (opts.preface !== false) {
      const b = new ByteBuffer();
      b.bytes(PREFACE);
      writeSettings(b, opts.settings ?? []);
      await c.send(b.view());
    }
    return c;
  }

  async send(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  /** Encode one frame. */
  static frame(type: number, flags: number, sid: number, payload: Uint8Array): Uint8Array {
    const b = new ByteBuffer(FRAME_HEADER_LEN + payload.length);
    writeFrameHeader(b, payload.length, type, flags, sid);
    b.bytes(payload);
    return b.view().slice();
  }

  async frame(type: number, flags: number, sid: number, payload: Uint8Array = new Uint8Array()) {
    await this.send(RawH2.frame(type, flags, sid, payload));
  }

  /** HPACK-encode a header list with this connection's encoder. */
  block(fields: [string, string][]): Uint8Array {
    const b = new ByteBuffer(256);
    this.enc.begin(b);
    for (const [n, v] of fields) this.enc.field(b, n, v);
    return b.view().slice();
  }

  async headers(sid: number, fields: [string, string][], flags: number): Promise<void> {
    await this.frame(FrameType.HEADERS, flags, sid, this.block(fields));
  }

  /** Next frame from the server, or null at end of stream. Fails after `timeoutMs`. */
  async read(timeoutMs = 5000): Promise<Frame | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("timed out waiting for a frame")), timeoutMs);
    });
    try {
      return await Promise.race([this.readFrame(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async readFrame(): Promise<Frame | null> {
    for (;;) {
      if (this.buf.length >= FRAME_HEADER_LEN) {
        const len = (this.buf[0] << 16) | (this.buf[1] << 8) | this.buf[2];
        if (this.buf.length >= FRAME_HEADER_LEN + len) {
          const f: Frame = {
            type: this.buf[3],
            flags: this.buf[4],
            sid: readU32(this.buf, 5) & 0x7fffffff,
            payload: this.buf.slice(FRAME_HEADER_LEN, FRAME_HEADER_LEN + len),
          };
          this.buf = this.buf.slice(FRAME_HEADER_LEN + len);
          return f;
        }
      }
      if (this.closed) return null;
      const chunk = new Uint8Array(65536);
      let n: number | null;
      try {
        n = await this.conn.read(chunk);
      } catch {
        n = null;
      }
      if (n === null) {
        this.closed = true;
        return null;
      }
      const next = new Uint8Array(this.buf.length + n);
      next.set(this.buf);
      next.set(chunk.subarray(0, n), this.buf.length);
      this.buf = next;
    }
  }

  /** Read frames until one matches; frames before it are returned too. */
  async until(pred: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame[]> {
    const seen: Frame[] = [];
    for (;;) {
      const f = await this.read(timeoutMs);
      if (f === null) throw new Error(`connection closed; saw ${describe(seen)}`);
      seen.push(f);
      if (pred(f)) return seen;
    }
  }

  /** Read until the server closes; returns every frame. */
  async drain(timeoutMs = 5000): Promise<Frame[]> {
    const seen: Frame[] = [];
    for (;;) {
      const f = await this.read(timeoutMs);
      if (f === null) return seen;
      seen.push(f);
    }
  }

  decode(payload: Uint8Array): [string, string][] {
    const out: string[] = [];
    this.dec.decode(payload, 0, payload.length, out);
    const pairs: [string, string][] = [];
    for (let i = 0; i < out.length; i += 2) pairs.push([out[i], out[i + 1]]);
    return pairs;
  }

  close(): void {
    if (!this.closed) this.closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

export function u32(v: number): Uint8Array {
  return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

export function goawayCode(f: Frame): number {
  return readU32(f.payload, 4);
}

export function describe(frames: Frame[]): string {
  return frames.map((f) => `${f.type}/${f.flags}/${f.sid}`).join(" ");
}

/** Standard request pseudo-headers for `path`. */
export function req(path: string, extra: [string, string][] = []): [string, string][] {
  return [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "localhost"],
    ...extra,
  ];
}
