/**
 * etcd's --unsafe-no-fsync: a Disk whose `sync()` and `syncDir()` return at once, so nothing
 * waits for the device. Writes still reach the operating system, so a process crash loses
 * nothing, but a power loss or kernel crash can lose or tear acknowledged writes: for tests
 * and throwaway clusters only, as in etcd.
 */
import type { Disk, DiskFile, OpenOptions } from "./disk.ts";

function noSyncFile(f: DiskFile): DiskFile {
  const file: DiskFile = {
    get path() {
      return f.path;
    },
    readAt: (buf, offset) => f.readAt(buf, offset),
    readAtSync: (buf, offset) => f.readAtSync(buf, offset),
    writeAt: (data, offset) => f.writeAt(data, offset),
    sync: () => Promise.resolve(),
    truncate: (size) => f.truncate(size),
    size: () => f.size(),
    tryLock: () => f.tryLock(),
    close: () => f.close(),
  };
  const batch = f.writeBatchAt;
  if (batch !== undefined) file.writeBatchAt = (writes) => batch.call(f, writes);
  return file;
}

/** `inner` with every fdatasync skipped. */
export function noSyncDisk(inner: Disk): Disk {
  return {
    open: async (path: string, options?: OpenOptions) =>
      noSyncFile(await inner.open(path, options)),
    exists: (path) => inner.exists(path),
    remove: (path) => inner.remove(path),
    rename: (from, to) => inner.rename(from, to),
    readDir: (path) => inner.readDir(path),
    mkdirAll: (path) => inner.mkdirAll(path),
    syncDir: () => Promise.resolve(),
  };
}
