/**
 * `concord util hashkv`: etcdutl 3.6's offline hashkv. Prints the hash of the key-value
 * history up to a revision, computed by the same code (MvccStore.hashKV, etcd's HashByRev)
 * that answers the online HashKV RPC, so a stopped member's figure matches what it answered
 * while serving at the same revision.
 *
 *   concord util hashkv FILE [--rev N] [-w simple|json|table|fields]   (etcdutl's form: FILE
 *                                                                       is a page file)
 *   concord util hashkv --data-dir DIR [--rev N] [-w …]                (DIR/member/snap/db)
 *
 * The file must not be in use: a serving member holds its lock and hashkv refuses (etcdutl
 * would wait for the lock). Unlike etcdutl, a missing file is an error rather than created.
 */
import type { Disk } from "../io/disk.ts";
import { openBackend } from "../backend/open.ts";
import { LockedError } from "../backend/errors.ts";
import { EtcdError } from "../base/errors.ts";
import { MvccStore } from "../mvcc/kv_store.ts";
import { DataDirLockedError } from "../server/member.ts";
import { Exit } from "./ctl_exit.ts";
import { renderTable } from "./ctl_print_table.ts";
import {
  dataDirPaths,
  mustExist,
  parseUtilArgs,
  processIo,
  ProgressLine,
  reportExit,
  UtilExit,
  type UtilIo,
} from "./util_io.ts";

/** etcdutl's HashKV result. */
export interface HashKv {
  hash: number;
  /** The revision hashed up to (the requested one, or the current revision for 0). */
  hashRevision: number;
  /** The compacted revision (-1 before any compaction, as etcd reports it). */
  compactRevision: number;
}

const USAGE = `Prints the KV history hash of a given file

Usage:
  concord util hashkv <filename> [flags]
  concord util hashkv --data-dir DIR [flags]

Flags:
      --rev int            maximum revision to hash (default: latest revision)
      --data-dir string    hash DIR/member/snap/db instead of <filename>
  -w, --write-out string   set the output format (fields, json, protobuf, simple, table)`;

/**
 * Hashes the page file at `db` up to `rev` (0: the current revision). `inUse` names what to
 * blame when the file is locked (a data dir, or the file itself).
 */
export async function hashKvFile(
  disk: Disk,
  db: string,
  rev: number,
  opts: { dataDir?: string; onStage?: (stage: string) => void } = {},
): Promise<HashKv> {
  await mustExist(disk, db);
  let backend;
  try {
    backend = await openBackend(disk, db);
  } catch (err) {
    if (err instanceof LockedError && opts.dataDir !== undefined) {
      throw new DataDirLockedError(opts.dataDir, "the backend file", { cause: err });
    }
    throw err;
  }
  try {
    opts.onStage?.("loading the key index");
    const store = MvccStore.open(backend);
    try {
      opts.onStage?.("hashing");
      const h = store.hashKV(rev);
      return { hash: h.hash, hashRevision: rev === 0 ? h.rev : rev, compactRevision: h.compactRev };
    } finally {
      await store.close();
    }
  } finally {
    await backend.close();
  }
}

/** The result in etcdutl's `-w` format (without the final newline). */
export function formatHashKv(h: HashKv, format: string): string {
  switch (format) {
    case "simple":
      return `${h.hash}, ${h.hashRevision}, ${h.compactRevision}`;
    case "json":
      return JSON.stringify({
        hash: h.hash,
        hashRevision: h.hashRevision,
        compactRevision: h.compactRevision,
      });
    case "table":
      return renderTable(
        ["hash", "hash revision", "compact revision"],
        [[String(h.hash), String(h.hashRevision), String(h.compactRevision)]],
      ).replace(/\n$/, "");
    case "fields":
      return [
        `"Hash" : ${h.hash}`,
        `"Hash revision" : ${h.hashRevision}`,
        `"Compact revision" : ${h.compactRevision}`,
      ].join("\n");
    case "protobuf":
      throw new UtilExit(Exit.BadFeature, "protobuf not supported as output format");
    default:
      throw new UtilExit(Exit.BadFeature, "unsupported output format");
  }
}

/** mvcc's own error text (etcdutl prints ErrCompacted / ErrFutureRev without the prefix). */
function mvccText(err: EtcdError): string {
  return err.message.replace(/^etcdserver: /, "");
}

/** Runs `concord util hashkv …` and returns etcdutl's exit code. */
export async function runHashKvUtil(args: string[], io: UtilIo = processIo()): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    io.out(USAGE);
    return 0;
  }
  try {
    const parsed = parseUtilArgs(args, {
      "rev": "int",
      "data-dir": "string",
      "write-out": "string",
    });
    const format = String(parsed.flags.get("write-out") ?? "simple");
    if (!["simple", "json", "table", "fields", "protobuf"].includes(format)) {
      throw new UtilExit(Exit.BadFeature, "unsupported output format");
    }
    const dataDir = parsed.flags.get("data-dir") as string | undefined;
    const want = dataDir === undefined ? 1 : 0;
    if (parsed.positional.length !== want) {
      throw new UtilExit(
        Exit.Error,
        dataDir === undefined
          ? `accepts 1 arg(s), received ${parsed.positional.length}`
          : `--data-dir and a <filename> are mutually exclusive`,
      );
    }
    const rev = Number(parsed.flags.get("rev") ?? 0n);
    const db = dataDir === undefined ? parsed.positional[0] : dataDirPaths(dataDir).db;
    const progress = new ProgressLine(io);
    let h: HashKv;
    try {
      h = await hashKvFile(io.disk, db, rev, {
        dataDir,
        onStage: (stage) => progress.update(() => `hashkv ${db}: ${stage}…`, true),
      });
    } finally {
      progress.done();
    }
    io.out(formatHashKv(h, format));
    return 0;
  } catch (err) {
    if (err instanceof EtcdError) return reportExit(io, new UtilExit(Exit.Error, mvccText(err)));
    return reportExit(io, err);
  }
}
