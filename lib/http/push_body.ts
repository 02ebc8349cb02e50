/**
 * A streamed response body its producer pushes chunks into as it makes them (a watch stream's
 * event batches), rather than one the server pulls through a chain of async generators. While
 * the HTTP/2 server is idle on the stream (it has sent everything and waits for more), a pushed
 * chunk goes straight into the connection's frames through the `direct` writer the server
 * installs, in the producer's own turn: a commit's watch events reach the socket with the
 * connection's next flush, before the put's own answer has made its way out, and no microtask
 * hops per generator sit between them. Anything the direct writer declines (no flow-control
 * window, too much unsent) is queued and taken by the server's ordinary loop, which also serves
 * every other consumer (it is a plain AsyncIterable).
 *
 * Backpressure: `push` returns false once chunks are queued; the producer then stops and
 * resumes when `onRoom` is called (the consumer took every queued chunk and waits for more).
 */
export class PushBody implements AsyncIterable<Uint8Array>, AsyncIterator<Uint8Array> {
  #queue: Uint8Array[] = [];
  #waiter: ((r: IteratorResult<Uint8Array>) => void) | undefined;
  #failer: ((e: unknown) => void) | undefined;
  #ended = false;
  #error: { e: unknown } | undefined;
  #returned = false;
  #wantRoom = false;

  /**
   * Set by the server while it waits for the next chunk: writes `chunk` into the stream's
   * frames at once and returns true, or returns false (the chunk is then queued).
   */
  direct: ((chunk: Uint8Array) => boolean) | undefined;
  /** Set by the producer: called when a backlog is gone (see `push`). */
  onRoom: (() => void) | undefined;
  /** Set by the producer: called once if the consumer abandons the body (`return`). */
  onReturn: (() => void) | undefined;

  /** True once the consumer abandoned the body: pushes are dropped. */
  get returned(): boolean {
    return this.#returned;
  }

  /**
   * Hands `chunk` to the consumer: written at once when it is idle and can take it, else
   * queued. Returns false when the chunk was queued (or dropped): push more only after
   * `onRoom`.
   */
  push(chunk: Uint8Array): boolean {
    if (this.#ended || this.#returned) return false;
    const w = this.#waiter;
    if (w !== undefined && this.direct !== undefined && this.direct(chunk)) return true;
    if (w !== undefined) {
      this.#waiter = undefined;
      this.#failer = undefined;
      w({ done: false, value: chunk });
      return true;
    }
    this.#queue.push(chunk);
    this.#wantRoom = true;
    return false;
  }

  /** The body is complete: the consumer sees its end after the queued chunks. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#settle();
  }

  /** The body failed: the consumer's next read throws `e` after the queued chunks. */
  fail(e: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = { e };
    this.#settle();
  }

  #settle(): void {
    if (this.#waiter === undefined || this.#queue.length > 0) return;
    const w = this.#waiter;
    const f = this.#failer;
    this.#waiter = undefined;
    this.#failer = undefined;
    if (this.#error !== undefined) f?.(this.#error.e);
    else w({ done: true, value: undefined });
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#queue.length > 0) {
      return Promise.resolve({ done: false, value: this.#queue.shift()! });
    }
    if (this.#ended || this.#returned) {
      if (this.#error !== undefined && !this.#returned) return Promise.reject(this.#error.e);
      return Promise.resolve({ done: true, value: undefined });
    }
    const p = new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
      this.#waiter = resolve;
      this.#failer = reject;
    });
    if (this.#wantRoom) {
      this.#wantRoom = false;
      this.onRoom?.();
    }
    return p;
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    if (!this.#returned) {
      this.#returned = true;
      this.#queue = [];
      this.direct = undefined;
      const w = this.#waiter;
      this.#waiter = undefined;
      this.#failer = undefined;
      w?.({ done: true, value: undefined });
      if (!this.#ended) this.onReturn?.();
    }
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this;
  }
}
