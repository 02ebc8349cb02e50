/**
 * The window of append messages a leader has sent to one follower and not yet seen
 * acknowledged, bounded by count and bytes: a ring buffer of (last index, bytes) so that
 * replication is pipelined without flooding a slow follower.
 */

const EMPTY = new Float64Array(0);

/** Bounded FIFO of in-flight appends, freed by acknowledged index. */
export class Inflights {
  #start = 0;
  #count = 0;
  #bytes = 0;
  readonly #size: number;
  readonly #maxBytes: number;
  // allocated on first use and grown to `size`: most followers never fill the window
  #index: Float64Array = EMPTY;
  #sizes: Float64Array = EMPTY;

  /** size: most messages in flight; maxBytes: most bytes in flight (0 means no limit). */
  constructor(size: number, maxBytes: number) {
    if (size < 1) throw new RangeError("maxInflightMsgs must be at least 1");
    this.#size = size;
    this.#maxBytes = maxBytes;
  }

  #grow(): void {
    const cap = Math.min(this.#size, Math.max(8, this.#index.length * 2));
    const index = new Float64Array(cap);
    const sizes = new Float64Array(cap);
    // unroll the ring into the new buffers, oldest first
    for (let k = 0, i = this.#start; k < this.#count; k++) {
      index[k] = this.#index[i];
      sizes[k] = this.#sizes[i];
      if (++i >= this.#index.length) i = 0;
    }
    this.#index = index;
    this.#sizes = sizes;
    this.#start = 0;
  }

  /** Records an append whose last entry is `index`, carrying `bytes` of payload. */
  add(index: number, bytes: number): void {
    if (this.full()) throw new RangeError("cannot add into a full inflights window");
    if (this.#count === this.#index.length) this.#grow();
    let next = this.#start + this.#count;
    if (next >= this.#index.length) next -= this.#index.length;
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
      if (++i >= this.#index.length) i = 0;
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
