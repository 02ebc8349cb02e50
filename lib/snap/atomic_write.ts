/**
 * Writes a file so that after a crash it is either absent or complete: the bytes go to a
 * temporary name, are synced, the temporary is renamed to the final name, and the directory
 * is synced so the rename itself is durable.
 */
import { dirname, type Disk, type DiskFile } from "../io/disk.ts";
import { type ObserveSink, secondsSince } from "../base/metric_sink.ts";

/** The suffix of files being written; anything with it is removed as debris. */
export const TEMP_SUFFIX = ".tmp";

/**
 * Streams `chunks` into `path` atomically. `onProgress` is called with the bytes written so
 * far after each chunk; `fsyncSeconds` gets the duration of the file's fsync. Returns the
 * total size.
 */
export async function writeAtomic(
  disk: Disk,
  path: string,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  onProgress?: (bytes: number) => void,
  fsyncSeconds?: ObserveSink,
): Promise<number> {
  const tmp = path + TEMP_SUFFIX;
  if (await disk.exists(tmp)) await disk.remove(tmp);
  const file: DiskFile = await disk.open(tmp, { createNew: true });
  let size = 0;
  try {
    for await (const chunk of chunks) {
      await file.writeAt(chunk, size);
      size += chunk.length;
      onProgress?.(size);
    }
    const t0 = performance.now();
    await file.sync();
    fsyncSeconds?.observe(secondsSince(t0));
  } catch (err) {
    await file.close();
    await disk.remove(tmp).catch(() => {});
    throw err;
  }
  await file.close();
  await disk.rename(tmp, path);
  await disk.syncDir(dirname(path));
  return size;
}
