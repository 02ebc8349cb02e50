/**
 * The framing of raft messages on a peer stream: each message is `[u32 LE length]` followed by
 * `encodeMessage(m)` (lib/raft/codec.ts). A zero-length frame carries no message: it is a link
 * heartbeat a sender may write to keep an idle stream's connection busy. The decoder reads
 * frames across arbitrary chunk boundaries and refuses, with a FrameError, an oversized
 * length (before buffering it) or bytes that do not decode to a message, so garbage on the
 * peer port costs at most one frame limit of memory.
 */
import { decodeMessage, encodedSize, encodeMessage, type Message } from "../raft/mod.ts";

/** Largest frame the decoder accepts by default (64 MiB; etcd's own limit is 512 MiB). */
export const DEFAULT_MAX_FRAME = 64 * 1024 * 1024;

/** Bad bytes on a peer stream: an oversized length, or a frame that is not a message. */
export class FrameError extends Error {
  override name = "FrameError";
}

/** The framed bytes of `msgs`, in order, in one buffer (one write for one batch). */
export function encodeFrames(msgs: readonly Message[]): Uint8Array {
  let total = 0;
  const sizes = new Array<number>(msgs.length);
  for (let i = 0; i < msgs.length; i++) {
    sizes[i] = encodedSize(msgs[i]);
    total += 4 + sizes[i];
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let p = 0;
  for (let i = 0; i < msgs.length; i++) {
    view.setUint32(p, sizes[i], true);
    out.set(encodeMessage(msgs[i]), p + 4);
    p += 4 + sizes[i];
  }
  return out;
}

/** The 4-byte length prefix of a frame of `n` bytes. */
export function framePrefix(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/**
 * Incremental decoder: `push` chunks as they arrive, get back the messages completed by each.
 * A frame split over chunks is filled into one buffer of its announced size (no quadratic
 * re-copying). After a FrameError the decoder is unusable (the stream must be dropped).
 */
export class FrameDecoder {
  /** Prefix octets seen of the next frame (0..4). */
  #prefixSeen = 0;
  #prefix = 0;
  /** The frame being filled, and how much of it is. */
  #frame: Uint8Array | null = null;
  #filled = 0;
  #failed = false;
  /** Total bytes consumed, for the receive counters. */
  bytes = 0;

  constructor(readonly maxFrame = DEFAULT_MAX_FRAME) {}

  /** True when no partial frame is buffered (the stream may end here). */
  get idle(): boolean {
    return this.#prefixSeen === 0 && this.#frame === null;
  }

  /**
   * Decodes what `chunk` completes, appended to `out` (returned). On a FrameError, `out`
   * holds the messages completed before the bad frame.
   */
  push(chunk: Uint8Array, out: Message[] = []): Message[] {
    if (this.#failed) throw new FrameError("frame decoder used after an error");
    this.bytes += chunk.length;
    let p = 0;
    while (p < chunk.length) {
      if (this.#frame === null) {
        if (this.#prefixSeen === 0 && chunk.length - p >= 4) {
          this.#prefix = (chunk[p] | (chunk[p + 1] << 8) | (chunk[p + 2] << 16) |
            (chunk[p + 3] << 24)) >>> 0;
          p += 4;
        } else {
          this.#prefix += chunk[p++] * 2 ** (8 * this.#prefixSeen);
          if (++this.#prefixSeen < 4) continue;
        }
        this.#prefixSeen = 0;
        const n = this.#prefix;
        this.#prefix = 0;
        if (n > this.maxFrame) {
          this.#failed = true;
          throw new FrameError(`frame of ${n} bytes exceeds the limit of ${this.maxFrame}`);
        }
        if (n === 0) continue; // link heartbeat
        if (chunk.length - p >= n) {
          // Whole frame in this chunk. Copied: decoded byte fields are views into their
          // input, which must not alias the caller's chunk.
          out.push(this.#decode(chunk.slice(p, p + n)));
          p += n;
          continue;
        }
        this.#frame = new Uint8Array(n);
        this.#filled = 0;
      }
      const f = this.#frame;
      const take = Math.min(f.length - this.#filled, chunk.length - p);
      f.set(chunk.subarray(p, p + take), this.#filled);
      this.#filled += take;
      p += take;
      if (this.#filled === f.length) {
        this.#frame = null;
        out.push(this.#decode(f));
      }
    }
    return out;
  }

  #decode(frame: Uint8Array): Message {
    try {
      return decodeMessage(frame);
    } catch (e) {
      this.#failed = true;
      throw new FrameError(`undecodable raft message: ${(e as Error).message}`);
    }
  }
}
