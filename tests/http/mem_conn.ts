/** An in-memory ByteConn for HTTP/2 server tests: input fed by the test, every write recorded. */
import type { ByteConn } from "../../lib/http/conn.ts";

/** Input fed by `feed`, each write kept (copied) in `writes`. */
export class MemConn implements ByteConn {
  writes: Uint8Array[] = [];
  private input: Uint8Array[] = [];
  private waiter: ((n: number | null) => void) | null = null;
  private target: Uint8Array | null = null;
  closed = false;

  feed(b: Uint8Array): void {
    this.input.push(b);
    this.pump();
  }

  private pump(): void {
    if (this.waiter === null || this.target === null) return;
    const w = this.waiter;
    if (this.closed) {
      this.waiter = null;
      w(null);
      return;
    }
    const b = this.input.shift();
    if (b === undefined) return;
    this.waiter = null;
    const n = Math.min(b.length, this.target.length);
    this.target.set(b.subarray(0, n));
    if (n < b.length) this.input.unshift(b.subarray(n));
    w(n);
  }

  read(p: Uint8Array): Promise<number | null> {
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.target = p;
      this.pump();
    });
  }

  write(p: Uint8Array): Promise<number> {
    this.writes.push(p.slice());
    return Promise.resolve(p.length);
  }

  close(): void {
    this.closed = true;
    this.pump();
  }
}
