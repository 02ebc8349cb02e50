/**
 * A response body that is one chunk already in hand (a unary gRPC or Connect answer). The
 * HTTP/2 server writes it in the same turn as its headers and trailers instead of awaiting an
 * async iterator; anything else iterates it as the one-chunk stream it is.
 */
export class ChunkBody implements AsyncIterable<Uint8Array> {
  constructor(readonly bytes: Uint8Array) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    yield this.bytes;
  }
}
