/**
 * The page file a leader sends to a follower that needs a snapshot: the backend's consistent
 * copy (a push of chunks while writes go on) turned into the pull stream the transport reads.
 * The copy waits while a chunk is unread, so a slow follower holds at most one chunk (4 MiB)
 * in memory; closing the stream stops the copy.
 */
import type { Backend } from "../backend/backend.ts";
import type { SnapshotSource } from "../transport/transport.ts";

/** A one-slot hand-over between the copy (producer) and the transport (consumer). */
class Slot {
  #chunk: Uint8Array | null = null;
  #ended = false;
  #failure: unknown = null;
  #closed = false;
  #wakeReader: (() => void) | null = null;
  #wakeWriter: (() => void) | null = null;

  /** Hands over a chunk; resolves once the reader took it. */
  async put(chunk: Uint8Array): Promise<void> {
    if (this.#closed) throw new Error("snapshot stream closed by the reader");
    this.#chunk = chunk;
    this.#wake();
    while (this.#chunk !== null && !this.#closed) {
      await new Promise<void>((r) => (this.#wakeWriter = r));
    }
    if (this.#closed) throw new Error("snapshot stream closed by the reader");
  }

  end(failure: unknown = null): void {
    this.#ended = true;
    this.#failure = failure;
    this.#wake();
  }

  close(): void {
    this.#closed = true;
    this.#wakeWriter?.();
    this.#wakeWriter = null;
  }

  #wake(): void {
    this.#wakeReader?.();
    this.#wakeReader = null;
  }

  async *read(): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.#chunk !== null) {
        const c = this.#chunk;
        this.#chunk = null;
        this.#wakeWriter?.();
        this.#wakeWriter = null;
        yield c;
        continue;
      }
      if (this.#ended) {
        if (this.#failure !== null) throw this.#failure;
        return;
      }
      await new Promise<void>((r) => (this.#wakeReader = r));
    }
  }
}

/** Starts a consistent copy of `backend` and returns it as a SnapshotSource. */
export async function openBackendStream(backend: Backend): Promise<SnapshotSource> {
  const slot = new Slot();
  let sizeKnown!: (n: number) => void;
  const size = new Promise<number>((r) => (sizeKnown = r));
  const copying = backend.writeTo((chunk) => slot.put(chunk), sizeKnown).then(
    () => slot.end(),
    (err) => {
      slot.end(err);
      throw err;
    },
  );
  copying.catch(() => {}); // the reader sees the failure through the stream
  const n = await Promise.race([size, copying.then(() => -1)]);
  if (n < 0) throw new Error("the backend copy ended before announcing its size");
  return { size: n, read: () => slot.read(), close: () => slot.close() };
}
