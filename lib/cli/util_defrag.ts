/**
 * `concord util defrag --data-dir DIR`: etcdutl's offline defrag. Rewrites a stopped member's
 * page file (`DIR/member/snap/db`) compactly, reclaiming the free pages that deletes and
 * compactions left behind.
 *
 * Safe at every step: the compacted copy is written beside the file (`db.defrag.tmp`, the
 * name the online defrag uses, which removes a stale one), synced with its directory entry,
 * checked page by page, and only then renamed over `db` and the directory synced. A crash
 * before the rename leaves the old file and a stray copy the next defrag removes; after it,
 * the new file. A member serving the data dir holds the WAL's lock and the page file's lock:
 * either one held makes defrag refuse at once (etcdutl waits on bolt's flock instead).
 *
 * Output as etcdutl's: zap-style "defragmenting" / "finished defragmenting directory" lines
 * on stderr, nothing on stdout; on failure `Error: Failed to defragment etcd data[DIR] (…)`
 * and exit 1.
 */
import { dirname, type Disk } from "../io/disk.ts";
import { DB } from "../backend/db.ts";
import { LockedError } from "../backend/errors.ts";
import { DataDirLockedError } from "../server/member.ts";
import { Exit } from "./ctl_exit.ts";
import {
  dataDirPaths,
  lockWal,
  mustExist,
  parseUtilArgs,
  percent,
  processIo,
  ProgressLine,
  reportExit,
  UtilExit,
  type UtilIo,
} from "./util_io.ts";
import { humanBytes } from "./util_snapshot.ts";
import { goDuration, zapLine } from "./util_zap_log.ts";

/** Sizes before and after, as etcd's defrag logs them. */
export interface DefragResult {
  path: string;
  beforeBytes: number;
  beforeInUseBytes: number;
  afterBytes: number;
  afterInUseBytes: number;
  tookMs: number;
}

/** Options of `defragDataDir`. */
export interface DefragOptions {
  /** The member's --wal-dir when it is not `DIR/member/wal`. */
  walDir?: string;
  /** Called with the copy's bytes so far and the source's in-use bytes (the estimate). */
  onProgress?: (copied: number, estimate: number) => void;
  /** Called once the file is locked, with its sizes (etcd logs "defragmenting" then). */
  onStart?: (path: string, bytes: number, inUseBytes: number) => void;
  /** Bytes of keys and values copied per transaction of the copy (default 16 MiB). */
  batchBytes?: number;
}

const USAGE = `Defragments the storage of the etcd

Usage:
  concord util defrag [flags]

Flags:
      --data-dir string   Required. Defragments a data directory not in use by etcd.
      --wal-dir string    the member's WAL directory when not <data-dir>/member/wal`;

async function sizeOf(disk: Disk, path: string): Promise<number> {
  const f = await disk.open(path, { readOnly: true });
  try {
    return await f.size();
  } finally {
    await f.close();
  }
}

/** Defragments the page file of the member whose data dir is `dataDir`; see the file comment. */
export async function defragDataDir(
  disk: Disk,
  dataDir: string,
  opts: DefragOptions = {},
): Promise<DefragResult> {
  const paths = dataDirPaths(dataDir, opts.walDir ?? "");
  await mustExist(disk, paths.db);
  const started = performance.now();
  const walLock = await lockWal(disk, dataDir, paths.wal);
  try {
    let src: DB;
    try {
      src = await DB.open(disk, paths.db);
    } catch (err) {
      if (err instanceof LockedError) {
        throw new DataDirLockedError(dataDir, "the backend file", { cause: err });
      }
      throw err;
    }
    try {
      const before = src.usage();
      const beforeInUse = before.inUsePages * before.pageSize;
      opts.onStart?.(paths.db, before.fileBytes, beforeInUse);
      const tmp = `${paths.db}.defrag.tmp`;
      if (await disk.exists(tmp)) {
        await disk.remove(tmp);
        await disk.syncDir(dirname(tmp));
      }
      let polling: ReturnType<typeof setInterval> | undefined;
      if (opts.onProgress) {
        const report = opts.onProgress;
        polling = setInterval(() => {
          sizeOf(disk, tmp).then((n) => report(n, beforeInUse), () => {});
        }, 200);
      }
      try {
        // written, fdatasynced and its name made durable by compactTo
        await src.compactTo(disk, tmp, { batchBytes: opts.batchBytes });
      } catch (err) {
        await disk.remove(tmp).catch(() => {});
        throw err;
      } finally {
        if (polling !== undefined) clearInterval(polling);
      }
      // the copy is checked before it may replace anything
      const copy = await DB.open(disk, tmp);
      let after;
      try {
        const problems = copy.check();
        if (problems.length > 0) {
          throw new Error(
            `the compacted copy failed its check: ${problems.slice(0, 3).join("; ")}`,
          );
        }
        const u = copy.usage();
        after = { bytes: u.fileBytes, inUse: u.inUsePages * u.pageSize };
      } catch (err) {
        await copy.close();
        await disk.remove(tmp).catch(() => {});
        throw err;
      }
      await copy.close();
      await disk.rename(tmp, paths.db);
      await disk.syncDir(dirname(paths.db));
      return {
        path: paths.db,
        beforeBytes: before.fileBytes,
        beforeInUseBytes: beforeInUse,
        afterBytes: after.bytes,
        afterInUseBytes: after.inUse,
        tookMs: performance.now() - started,
      };
    } finally {
      // the old file's handle (and lock); after the rename it names the replaced file
      await src.close();
    }
  } finally {
    await walLock?.close();
  }
}

/** Runs `concord util defrag …` and returns etcdutl's exit code. */
export async function runDefragUtil(args: string[], io: UtilIo = processIo()): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    io.out(USAGE);
    return 0;
  }
  let dataDir = "";
  try {
    const parsed = parseUtilArgs(args, { "data-dir": "string", "wal-dir": "string" }, {});
    if (parsed.positional.length > 0) {
      throw new UtilExit(
        Exit.Error,
        `unknown command "${parsed.positional[0]}" for "concord util defrag"`,
      );
    }
    dataDir = String(parsed.flags.get("data-dir") ?? "");
    if (dataDir === "") throw new UtilExit(Exit.Error, `required flag(s) "data-dir" not set`);
    const walDir = String(parsed.flags.get("wal-dir") ?? "");
    const progress = new ProgressLine(io);
    const db = dataDirPaths(dataDir, walDir).db;
    const r = await defragDataDir(io.disk, dataDir, {
      walDir,
      onStart: (path, bytes, inUse) =>
        io.err(zapLine("INFO", "defragmenting", {
          "path": path,
          "current-db-size-bytes": bytes,
          "current-db-size": humanBytes(bytes),
          "current-db-size-in-use-bytes": inUse,
          "current-db-size-in-use": humanBytes(inUse),
        })),
      onProgress: io.progress
        ? (n, total) =>
          progress.update(() =>
            `defragmenting ${db}: ${humanBytes(n)} of about ${humanBytes(total)} (${
              percent(n, total)
            })`
          )
        : undefined,
    }).finally(() => progress.done());
    io.err(zapLine("INFO", "finished defragmenting directory", {
      "path": r.path,
      "current-db-size-bytes-diff": r.afterBytes - r.beforeBytes,
      "current-db-size-bytes": r.afterBytes,
      "current-db-size": humanBytes(r.afterBytes),
      "current-db-size-in-use-bytes-diff": r.afterInUseBytes - r.beforeInUseBytes,
      "current-db-size-in-use-bytes": r.afterInUseBytes,
      "current-db-size-in-use": humanBytes(r.afterInUseBytes),
      "took": goDuration(r.tookMs),
    }));
    return 0;
  } catch (err) {
    if (err instanceof UtilExit) return reportExit(io, err);
    const msg = err instanceof Error ? err.message : String(err);
    return reportExit(
      io,
      new UtilExit(Exit.Error, `Failed to defragment etcd data[${dataDir}] (${msg})`),
    );
  }
}
