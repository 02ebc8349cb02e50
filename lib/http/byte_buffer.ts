/**
 * A growable octet buffer for building output (frames, HPACK blocks, HTTP/1.1 heads) without a
 * fresh allocation per write: callers append, hand `view()` to the socket, then `reset()`.
 */
export class ByteBuffer {
  buf: Uint8Array;
  len = 0;

  constructor(capacity = 16384) {
    this.buf = new Uint8Array(capacity);
  }

  /** Make room for `n` more octets; returns the (possibly new) backing array. */
  ensure(n: number): Uint8Array {
    const need = this.len + n;
    if (need > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < need) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    return this.buf;
  }

  u8(v: number): void {
    this.ensure(1)[this.len++] = v;
  }

  bytes(src: Uint8Array): void {
    this.ensure(src.length).set(src, this.len);
    this.len += src.length;
  }

  /** Append a Latin-1 / ASCII string, one octet per char. */
  ascii(s: string): void {
    const b = this.ensure(s.length);
    let p = this.len;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.len = p;
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  reset(): void {
    this.len = 0;
  }
}
