/**
 * The HEADERS blocks of the load generator's gRPC requests (h2_grpc.ts): one per path, encoded
 * with lib/http/hpack.ts and reused while the HPACK dynamic table is unchanged, so a hot loop
 * pays for a request's headers once, not once per request.
 */
import { ByteBuffer } from "../../lib/http/byte_buffer.ts";
import { HpackEncoder } from "../../lib/http/hpack.ts";

/** True when an HPACK block is indexed fields only (so it changed nothing in the table). */
function onlyIndexed(block: Uint8Array): boolean {
  let p = 0;
  while (p < block.length) {
    if ((block[p] & 0x80) === 0) return false;
    if ((block[p++] & 0x7f) === 0x7f) { while (p < block.length && block[p++] & 0x80); }
  }
  return true;
}

/** The request header blocks of one connection (its HPACK encoder's state is theirs). */
export class RequestHeaders {
  readonly #enc = new HpackEncoder();
  readonly #encBuf = new ByteBuffer(1024);
  /** Header blocks by path, each valid while the HPACK table is at the `epoch` it was made in. */
  readonly #blocks = new Map<string, { epoch: number; block: Uint8Array }>();
  #hpackEpoch = 0;

  constructor(readonly authority: string) {}

  /**
   * The HEADERS block of a POST to `path`; it must be sent, in the order asked, since encoding
   * it may have changed the table the next ones refer to.
   */
  block(path: string): Uint8Array {
    let cached = this.#blocks.get(path);
    if (cached === undefined || cached.epoch !== this.#hpackEpoch) {
      const block = this.#encBuf;
      block.reset();
      this.#enc.begin(block);
      this.#enc.field(block, ":method", "POST");
      this.#enc.field(block, ":scheme", "http");
      this.#enc.field(block, ":path", path);
      this.#enc.field(block, ":authority", this.authority);
      this.#enc.field(block, "content-type", "application/grpc");
      this.#enc.field(block, "te", "trailers");
      const bytes = block.view().slice();
      // A block that added to the table moves every dynamic index, so the blocks kept so far
      // are stale, and it is not kept itself (sent again, it would add again).
      if (onlyIndexed(bytes)) this.#blocks.set(path, { epoch: this.#hpackEpoch, block: bytes });
      else this.#hpackEpoch++;
      cached = { epoch: this.#hpackEpoch, block: bytes };
    }
    return cached.block;
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE: evictions move the dynamic indexes. */
  setMaxTableSize(v: number): void {
    this.#enc.setMaxTableSize(v);
    this.#hpackEpoch++;
  }
}
