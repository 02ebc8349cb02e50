/**
 * An async-iterable queue feeding a client-streaming gRPC call (lease keep-alive, watch): the
 * load generator pushes one request at a time and the transport pulls them.
 */
export class RequestQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #wake: (() => void) | undefined;
  #closed = false;

  /** Queues a request for the stream. */
  push(item: T): void {
    this.#items.push(item);
    this.#wake?.();
  }

  /** Ends the request stream after the queued requests. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      const item = this.#items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((r) => (this.#wake = r));
      this.#wake = undefined;
    }
  }
}
