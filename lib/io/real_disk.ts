/**
 * The real filesystem behind the `Disk` seam, on Deno's file APIs. Positional reads and
 * writes are a seek plus a read or write; operations on one file are serialized so that
 * concurrent callers never interleave a seek with another caller's I/O.
 */
import {
  AlreadyExistsError,
  type Disk,
  type DiskFile,
  DiskFullError,
  NotFoundError,
  type OpenOptions,
  type SyncOptions,
} from "./disk.ts";

/** Writes up to this size are done synchronously (see `writeAt`). */
const SYNC_WRITE_LIMIT = 1 << 20;

function mapError(err: unknown, path: string): unknown {
  if (err instanceof Deno.errors.NotFound) return new NotFoundError(path);
  if (err instanceof Deno.errors.AlreadyExists) return new AlreadyExistsError(path);
  if (err instanceof Error && /ENOSPC|No space left/i.test(err.message)) {
    return new DiskFullError(path);
  }
  return err;
}

class RealFile implements DiskFile {
  #file: Deno.FsFile;
  /** A second handle used only by synchronous reads, so they never move #file's cursor. */
  #syncReader: Deno.FsFile | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  /**
   * Where #file's cursor is, when known (-1: unknown): a write at the offset the previous one
   * ended at (a WAL append) skips its seek, a system call per save.
   */
  #pos = -1;
  readonly path: string;

  constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /** Runs `op` after every earlier operation on this file has finished. */
  #serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      if (this.#closed) throw new Error(`file is closed: ${this.path}`);
      return op();
    });
    this.#queue = run.catch(() => {});
    return run.catch((err) => {
      throw mapError(err, this.path);
    });
  }

  readAt(buf: Uint8Array, offset: number): Promise<number> {
    return this.#serial(async () => {
      this.#pos = -1;
      await this.#file.seek(offset, Deno.SeekMode.Start);
      let done = 0;
      while (done < buf.length) {
        const n = await this.#file.read(buf.subarray(done));
        if (n === null || n === 0) break;
        done += n;
      }
      return done;
    });
  }

  readAtSync(buf: Uint8Array, offset: number): number {
    if (this.#closed) throw new Error(`file is closed: ${this.path}`);
    try {
      this.#syncReader ??= Deno.openSync(this.path, { read: true });
      this.#syncReader.seekSync(offset, Deno.SeekMode.Start);
      let done = 0;
      while (done < buf.length) {
        const n = this.#syncReader.readSync(buf.subarray(done));
        if (n === null || n === 0) break;
        done += n;
      }
      return done;
    } catch (err) {
      throw mapError(err, this.path);
    }
  }

  writeAt(data: Uint8Array, offset: number): Promise<void> {
    if (data.length <= SYNC_WRITE_LIMIT) {
      // A small write only copies into the page cache (microseconds): done on this thread it
      // saves two thread-pool round trips (seek, write), which is most of a WAL append's cost
      // next to its fdatasync.
      return this.writeBatchAt([{ data, offset }]);
    }
    return this.#serial(async () => {
      this.#pos = -1;
      await this.#file.seek(offset, Deno.SeekMode.Start);
      let done = 0;
      while (done < data.length) done += await this.#file.write(data.subarray(done));
      this.#pos = offset + data.length;
    });
  }

  writeBatchAt(writes: ReadonlyArray<{ data: Uint8Array; offset: number }>): Promise<void> {
    // Synchronous seek+write pairs inside one queued operation: a few microseconds per chunk
    // instead of an async round trip per chunk.
    return this.#serial(() => {
      for (const { data, offset } of writes) {
        if (offset !== this.#pos) this.#file.seekSync(offset, Deno.SeekMode.Start);
        this.#pos = -1; // until this write is whole
        let done = 0;
        while (done < data.length) done += this.#file.writeSync(data.subarray(done));
        this.#pos = offset + data.length;
      }
      return Promise.resolve();
    });
  }

  sync(options?: SyncOptions): Promise<void> {
    if (options?.inline) {
      return this.#serial(() => {
        this.#file.syncDataSync();
        return Promise.resolve();
      });
    }
    return this.#serial(() => this.#file.syncData());
  }

  truncate(size: number): Promise<void> {
    return this.#serial(() => {
      this.#pos = -1;
      return this.#file.truncate(size);
    });
  }

  size(): Promise<number> {
    return this.#serial(async () => (await this.#file.stat()).size);
  }

  tryLock(): Promise<boolean> {
    return this.#serial(() => this.#file.tryLock(true));
  }

  close(): Promise<void> {
    return this.#serial(() => {
      this.#closed = true;
      this.#file.close();
      this.#syncReader?.close();
      return Promise.resolve();
    });
  }
}

/** The host filesystem. */
export class RealDisk implements Disk {
  async open(path: string, options: OpenOptions = {}): Promise<DiskFile> {
    try {
      const file = await Deno.open(path, {
        read: true,
        write: !options.readOnly,
        create: options.create && !options.createNew,
        createNew: options.createNew,
      });
      return new RealFile(path, file);
    } catch (err) {
      throw mapError(err, path);
    }
  }

  async exists(path: string): Promise<boolean> {
    try {
      await Deno.stat(path);
      return true;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return false;
      throw err;
    }
  }

  async remove(path: string): Promise<void> {
    try {
      await Deno.remove(path);
    } catch (err) {
      throw mapError(err, path);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    try {
      await Deno.rename(from, to);
    } catch (err) {
      throw mapError(err, from);
    }
  }

  async readDir(path: string): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(path)) names.push(entry.name);
    } catch (err) {
      throw mapError(err, path);
    }
    return names.sort();
  }

  async mkdirAll(path: string): Promise<void> {
    await Deno.mkdir(path, { recursive: true });
  }

  async syncDir(path: string): Promise<void> {
    const dir = await Deno.open(path, { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  }
}
