/**
 * Reading ctl's standard input the ways etcdctl does: line by line (txn, watch -i, as Go's
 * bufio.Reader.ReadString('\n')), or all of it (put's value when only the key is given).
 */

/** A byte source read in chunks (Deno.stdin.readable, or a test's stream). */
export type ByteSource = ReadableStream<Uint8Array>;

/** Buffered reads over a stream; created once per ctl run. */
export class StdinReader {
  #reader?: ReadableStreamDefaultReader<Uint8Array>;
  #buf = new Uint8Array(0);
  #eof = false;
  readonly #dec = new TextDecoder();

  constructor(private readonly source: ByteSource | null) {}

  private async fill(): Promise<boolean> {
    if (this.#eof || !this.source) {
      this.#eof = true;
      return false;
    }
    this.#reader ??= this.source.getReader();
    const { value, done } = await this.#reader.read();
    if (done) {
      this.#eof = true;
      return false;
    }
    const b = new Uint8Array(this.#buf.length + value.length);
    b.set(this.#buf);
    b.set(value, this.#buf.length);
    this.#buf = b;
    return true;
  }

  /**
   * The next line including its "\n"; at end of input, what is left without one and
   * `eof: true` (bufio's io.EOF with the partial line).
   */
  async readLine(): Promise<{ line: string; eof: boolean }> {
    for (;;) {
      const nl = this.#buf.indexOf(10);
      if (nl >= 0) {
        const line = this.#dec.decode(this.#buf.subarray(0, nl + 1));
        this.#buf = this.#buf.slice(nl + 1);
        return { line, eof: false };
      }
      if (!(await this.fill())) {
        const line = this.#dec.decode(this.#buf);
        this.#buf = new Uint8Array(0);
        return { line, eof: true };
      }
    }
  }

  /** Bytes up to a CR or LF (a terminal in raw mode ends a line with CR), without it. */
  async readSecret(): Promise<string> {
    for (;;) {
      const at = this.#buf.findIndex((b) => b === 13 || b === 10);
      if (at >= 0) {
        const text = this.#dec.decode(this.#buf.subarray(0, at));
        this.#buf = this.#buf.slice(at + 1);
        return text;
      }
      if (!(await this.fill())) {
        const text = this.#dec.decode(this.#buf);
        this.#buf = new Uint8Array(0);
        return text;
      }
    }
  }

  /** Everything left, as bytes. */
  async readAll(): Promise<Uint8Array> {
    while (await this.fill());
    const b = this.#buf;
    this.#buf = new Uint8Array(0);
    return b;
  }

  /** Cancels the read in progress, if any (so the process may exit while stdin is open). */
  async release(): Promise<void> {
    if (this.#reader) await this.#reader.cancel();
  }
}
