/**
 * The snapshot pipeline's body, `POST /raft/snapshot`: one frame `[u32 LE len]
 * [encodeMessage(MsgSnap)]`, then the page file's bytes (their count announced in the
 * `x-snapshot-size` header), then 32 bytes of SHA-256 over the page file bytes.
 *
 * The sender side (`snapshotBody`) hashes as it streams. The receiver side
 * (`SnapshotBodyReader`) reads the message, then hands the page file to the host as a
 * `SnapshotPayload` whose iteration yields the bytes as they arrive and, at the end, checks
 * the count and the hash: a cut, padded or corrupted body makes it throw a SnapshotError, so
 * the host never keeps a bad file. The simulated network uses the same two halves in memory.
 */
import { createHash, type Hash } from "node:crypto";
import { decodeMessage, encodedSize, encodeMessage, type Message } from "../raft/mod.ts";
import { DEFAULT_MAX_FRAME, FrameError, framePrefix } from "./frames.ts";
import type { SnapshotPayload, SnapshotSource } from "./transport.ts";

/** Bytes of the SHA-256 trailer. */
export const SNAPSHOT_HASH_LEN = 32;

/** A snapshot body that is cut, padded, corrupted or otherwise not what it announced. */
export class SnapshotError extends Error {
  override name = "SnapshotError";
}

/** Page-file bytes through a snapshot body so far (for progress logs and counters). */
export interface SnapshotProgress {
  bytes: number;
}

/**
 * The whole request body for `m` with `source`'s page file: message frame, file, hash.
 * Throws SnapshotError if the source yields a different number of bytes than its size.
 */
export async function* snapshotBody(
  m: Message,
  source: SnapshotSource,
  progress: SnapshotProgress = { bytes: 0 },
): AsyncGenerator<Uint8Array> {
  const head = new Uint8Array(4 + encodedSize(m));
  head.set(framePrefix(head.length - 4));
  head.set(encodeMessage(m), 4);
  yield head;
  const hash = createHash("sha256");
  for await (const chunk of source.read()) {
    if (chunk.length === 0) continue;
    if (progress.bytes + chunk.length > source.size) {
      throw new SnapshotError(`snapshot source yields more than its size ${source.size}`);
    }
    hash.update(chunk);
    progress.bytes += chunk.length;
    yield chunk;
  }
  if (progress.bytes !== source.size) {
    throw new SnapshotError(
      `snapshot source yielded ${progress.bytes} bytes, announced ${source.size}`,
    );
  }
  yield new Uint8Array(hash.digest());
}

/**
 * Parses a snapshot body as it arrives. `readMessage()` first, then `payload(size)` once; the
 * payload's iteration must run to its end (`verified` becomes true) for the snapshot to count.
 */
export class SnapshotBodyReader {
  readonly #it: AsyncIterator<Uint8Array>;
  /** Bytes read from the body but not consumed yet. */
  #left: Uint8Array = new Uint8Array(0);
  #payloadTaken = false;
  /** Page-file bytes yielded so far. */
  received = 0;
  /** True once the whole page file arrived and matched its hash and size. */
  verified = false;

  constructor(body: AsyncIterable<Uint8Array>, readonly maxFrame?: number) {
    this.#it = body[Symbol.asyncIterator]();
  }

  /** The leading MsgSnap. Throws FrameError on garbage, SnapshotError if the body ends. */
  async readMessage(): Promise<Message> {
    const maxFrame = this.maxFrame ?? DEFAULT_MAX_FRAME;
    const prefix = new Uint8Array(4);
    let prefixSeen = 0;
    /** The frame, allocated once its length is known and filled as chunks arrive. */
    let frame: Uint8Array | null = null;
    let filled = 0;
    for (;;) {
      const r = await this.#it.next();
      if (r.done) throw new SnapshotError("snapshot body ended before its message");
      const chunk = r.value;
      let p = 0;
      while (frame === null && prefixSeen < 4 && p < chunk.length) {
        prefix[prefixSeen++] = chunk[p++];
      }
      if (prefixSeen < 4) continue;
      if (frame === null) {
        const n = new DataView(prefix.buffer).getUint32(0, true);
        if (n === 0 || n > maxFrame) {
          throw new FrameError(`snapshot message frame of ${n} bytes refused`);
        }
        frame = new Uint8Array(n);
      }
      const take = Math.min(frame.length - filled, chunk.length - p);
      frame.set(chunk.subarray(p, p + take), filled);
      filled += take;
      p += take;
      if (filled < frame.length) continue;
      this.#left = chunk.slice(p);
      try {
        return decodeMessage(frame);
      } catch (e) {
        throw new FrameError(`undecodable raft message: ${(e as Error).message}`);
      }
    }
  }

  /** The page file of `size` bytes that follows the message. Call once. */
  payload(size: number): SnapshotPayload {
    if (this.#payloadTaken) throw new Error("snapshot payload taken twice");
    this.#payloadTaken = true;
    return { size, chunks: this.#chunks(size) };
  }

  async *#chunks(size: number): AsyncGenerator<Uint8Array> {
    const hash: Hash = createHash("sha256");
    const trailer = new Uint8Array(SNAPSHOT_HASH_LEN);
    let trailerSeen = 0;
    let chunk = this.#left;
    this.#left = new Uint8Array(0);
    for (;;) {
      if (chunk.length > 0) {
        const fileLeft = size - this.received;
        const n = Math.min(fileLeft, chunk.length);
        if (n > 0) {
          const part = chunk.subarray(0, n);
          hash.update(part);
          this.received += n;
          yield part;
        }
        const rest = chunk.subarray(n);
        if (trailerSeen + rest.length > SNAPSHOT_HASH_LEN) {
          throw new SnapshotError(
            `snapshot body longer than its announced ${size} bytes and hash`,
          );
        }
        trailer.set(rest, trailerSeen);
        trailerSeen += rest.length;
      }
      const r = await this.#it.next();
      if (r.done) break;
      chunk = r.value;
    }
    if (this.received < size || trailerSeen < SNAPSHOT_HASH_LEN) {
      throw new SnapshotError(
        `snapshot body cut: ${this.received} of ${size} bytes and ${trailerSeen} of ` +
          `${SNAPSHOT_HASH_LEN} hash bytes arrived`,
      );
    }
    const digest = new Uint8Array(hash.digest());
    for (let i = 0; i < SNAPSHOT_HASH_LEN; i++) {
      if (digest[i] !== trailer[i]) {
        throw new SnapshotError("snapshot SHA-256 mismatch: the page file is corrupted");
      }
    }
    this.verified = true;
  }
}
