/**
 * The window of append messages a leader has sent to one follower and not yet seen
 * acknowledged, bounded by count and bytes: a ring buffer of (last index, bytes) so that
 * replication is pipelined without flooding a slow follower.
 */

/** Bounded FIFO of in-flight appends, freed by acknowledged index. */
export class Inflights {
  #start = 0;
  #count = 0;
  #bytes = 0;
  readonly #size: number;
  readonly #maxBytes: number;
  readonly #index: Float64Array;
  readonly #sizes: Float64Array;

  /** size: most messages in flight; maxBytes: most bytes in flight (0 means no limit). */
  constructor(size: number, maxBytes: number) {
    if (size < 1) throw new RangeError("maxInflightMsgs must be at least 1");
    this.#size = size;
    this.#maxBytes = maxBytes;
    this.#index = new Float64Array(size);
    this.#sizes = new Float64Array(size);
  }

  /** Records an append whose last entry is `index`, carrying `bytes` of payload. */
  add(index: number, bytes: number): void {
    if (this.full()) throw new RangeError("cannot add into a full inflights window");
    let next = this.#start + this.#count;
    if (next >= this.#size) next -= this.#size;
    this.#index[next] = index;
    this.#sizes[next] = bytes;
    this.#count++;
    this.#bytes += bytes;
  }

  /** Frees every in-flight append whose last index is <= to. */
  freeLE(to: number): void {
    let i = this.#start;
    let n = 0;
    let freed = 0;
    while (n < this.#count && this.#index[i] <= to) {
      freed += this.#sizes[i];
      n++;
      if (++i >= this.#size) i = 0;
    }
    this.#count -= n;
    this.#bytes -= freed;
    this.#start = this.#count === 0 ? 0 : i;
  }

  /** Frees the oldest in-flight append (the leader suspects it was lost). */
  freeFirstOne(): void {
    if (this.#count === 0) return;
    this.freeLE(this.#index[this.#start]);
  }

  /** True when no more appends may be sent. */
  full(): boolean {
    return this.#count === this.#size || (this.#maxBytes !== 0 && this.#bytes >= this.#maxBytes);
  }

  count(): number {
    return this.#count;
  }

  reset(): void {
    this.#start = 0;
    this.#count = 0;
    this.#bytes = 0;
  }
}
