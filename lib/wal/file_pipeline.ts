/**
 * Prepares the next segment file in the background: created under a temporary name, filled
 * with zeros to the segment size and synced, so that cutting a segment does not wait for the
 * allocation and appends inside a preallocated file do not change its size (on ext4 a
 * size-changing fdatasync also commits the journal, which costs about a third more).
 */
import { type Disk, type DiskFile, joinPath } from "../io/disk.ts";

/** The suffix of preallocated files that are not yet segments; removed when a WAL opens. */
export const TMP_SUFFIX = ".tmp";

const ZERO_CHUNK = 1024 * 1024;

/** A preallocated file ready to become a segment. */
export interface PreparedFile {
  file: DiskFile;
  path: string;
}

/**
 * Writes zeros over `[from, to)` of `file` in chunks. Real zeros rather than a sparse
 * extension, so later writes inside the range allocate no blocks.
 */
export async function zeroFill(file: DiskFile, from: number, to: number): Promise<void> {
  const zeros = new Uint8Array(Math.min(ZERO_CHUNK, Math.max(0, to - from)));
  for (let at = from; at < to; at += zeros.length) {
    await file.writeAt(to - at < zeros.length ? zeros.subarray(0, to - at) : zeros, at);
  }
}

/** Creates `path`, preallocates `size` zero bytes and syncs it. */
export async function preallocate(disk: Disk, path: string, size: number): Promise<DiskFile> {
  if (await disk.exists(path)) await disk.remove(path);
  const file = await disk.open(path, { createNew: true });
  try {
    await zeroFill(file, 0, size);
    await file.sync();
    return file;
  } catch (err) {
    await file.close();
    throw err;
  }
}

/** Keeps one preallocated file ready, starting the next as soon as one is taken. */
export class FilePipeline {
  readonly #disk: Disk;
  readonly #dir: string;
  readonly #size: number;
  #count = 0;
  #pending: Promise<PreparedFile> | null = null;

  constructor(disk: Disk, dir: string, size: number) {
    this.#disk = disk;
    this.#dir = dir;
    this.#size = size;
    this.#start();
  }

  #start(): void {
    const path = joinPath(this.#dir, `${this.#count++ % 2}${TMP_SUFFIX}`);
    const pending = preallocate(this.#disk, path, this.#size).then((file) => ({ file, path }));
    // The error is reported by take(); this only keeps it from being an unhandled rejection.
    pending.catch(() => {});
    this.#pending = pending;
  }

  /** The next prepared file (waiting for it if needed); starts preparing another. */
  async take(): Promise<PreparedFile> {
    const pending = this.#pending;
    if (!pending) throw new Error("wal: file pipeline is closed");
    try {
      return await pending;
    } finally {
      this.#start();
    }
  }

  /** Resolves once the file being prepared is ready (or failed). */
  async settled(): Promise<void> {
    await this.#pending?.catch(() => {});
  }

  /** Stops preparing: waits for the file in progress, then closes and removes it. */
  async close(): Promise<void> {
    const pending = this.#pending;
    this.#pending = null;
    if (!pending) return;
    try {
      const { file, path } = await pending;
      await file.close();
      await this.#disk.remove(path);
    } catch {
      // A file that failed to preallocate is removed at the next open.
    }
  }
}
