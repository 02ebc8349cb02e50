/**
 * `concord util snapshot export`: leaving Concord for etcd. Writes an etcd-format snapshot —
 * a bbolt file with etcd's buckets followed by its SHA-256, as `etcdctl snapshot save` writes
 * — from a Concord snapshot file or a stopped member's data dir. etcd's own `etcdctl snapshot
 * restore` then makes an etcd data dir of it that serves the same keys and revisions.
 *
 * Concord keeps etcd's buckets with etcd's keys and values, so the export copies them entry
 * by entry (lib/backend/bbolt/writer.ts lays the pages). One thing cannot travel: passwords
 * set in Concord are PBKDF2 hashes, which etcd cannot verify (etcd only knows bcrypt); those
 * users are listed on stderr and need `etcdctl user passwd` in etcd (log in as a user whose
 * password came from etcd, or disable auth before exporting). Users brought from etcd keep
 * their bcrypt hashes and log in as before.
 */
import { createHash } from "node:crypto";
import { type Disk, joinPath } from "../io/disk.ts";
import { openBackend } from "../backend/open.ts";
import type { Backend } from "../backend/backend.ts";
import { BoltWriter } from "../backend/bbolt/writer.ts";
import { decodeUser } from "../auth/auth_records.ts";
import { isBcrypt } from "../auth/bcrypt.ts";
import { copyVerified } from "./util_snapshot.ts";
import { isEtcdSnapshot } from "./util_snapshot_etcd.ts";

/** etcd 3.4's buckets, in name order (the order bbolt keeps them in). */
export const ETCD_BUCKETS = [
  "alarm",
  "auth",
  "authRoles",
  "authUsers",
  "cluster",
  "key",
  "lease",
  "members",
  "members_removed",
  "meta",
];

const SHA_LEN = 32;
const CHUNK = 1 << 20;
/** Entries read from the page file per step (the backend's range is synchronous). */
const STEP = 1_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What `export` wrote. */
export interface ExportResult {
  /** Bytes of the bbolt file (the output is 32 bytes more). */
  size: number;
  /** Entries written, over all buckets. */
  entries: number;
  /** Users whose password hash etcd cannot verify (set in Concord: PBKDF2). */
  pbkdf2Users: string[];
}

/** Copies every etcd bucket of `backend` into a new bbolt file at `out`. */
async function writeBolt(disk: Disk, backend: Backend, out: string): Promise<ExportResult> {
  const w = await BoltWriter.create(disk, out);
  let entries = 0;
  const pbkdf2Users: string[] = [];
  try {
    for (const name of ETCD_BUCKETS) {
      const nameBytes = encoder.encode(name);
      const tree = w.bucket(nameBytes);
      let start = new Uint8Array(0);
      for (;;) {
        let last: Uint8Array | undefined;
        let n = 0;
        backend.read.range(name, start, undefined, (k, v) => {
          tree.add(k.slice(), v.slice());
          if (name === "authUsers") {
            const user = decodeUser(v);
            if (!user.noPassword && !isBcrypt(decoder.decode(user.password))) {
              pbkdf2Users.push(user.name);
            }
          }
          last = k;
          n++;
        }, STEP);
        entries += n;
        await w.flush();
        if (n < STEP || last === undefined) break;
        start = new Uint8Array([...(last as Uint8Array), 0]);
      }
      w.endBucket(nameBytes, tree);
    }
    const size = await w.finish();
    return { size, entries, pbkdf2Users };
  } catch (err) {
    await w.abort().catch(() => {});
    throw err;
  }
}

/** Appends the SHA-256 of the file's content, as etcdctl snapshot save does. */
async function appendSha256(disk: Disk, path: string, size: number): Promise<void> {
  const f = await disk.open(path);
  try {
    const digest = createHash("sha256");
    const buf = new Uint8Array(CHUNK);
    for (let off = 0; off < size;) {
      const n = await f.readAt(buf.subarray(0, Math.min(CHUNK, size - off)), off);
      if (n <= 0) throw new Error(`${path}: short read at ${off}`);
      digest.update(buf.subarray(0, n));
      off += n;
    }
    await f.writeAt(new Uint8Array(digest.digest()), size);
    if (await f.size() !== size + SHA_LEN) throw new Error(`${path}: unexpected size after write`);
    await f.sync();
  } finally {
    await f.close();
  }
}

/** Where to export from: a Concord snapshot file, or a stopped member's data dir. */
export type ExportSource = { snapshot: string; skipHashCheck?: boolean } | { dataDir: string };

/**
 * Writes an etcd snapshot of `source` to `out` (which must not exist); on failure nothing is
 * left at `out`. A data dir whose member is running is refused (its page file is locked).
 */
export async function exportEtcdSnapshot(
  disk: Disk,
  source: ExportSource,
  out: string,
): Promise<ExportResult> {
  if (await disk.exists(out)) throw new Error(`${out}: file exists`);
  const part = `${out}.part`;
  if (await disk.exists(part)) await disk.remove(part);
  let tmp: string | undefined;
  try {
    let db: string;
    if ("snapshot" in source) {
      if (await isEtcdSnapshot(disk, source.snapshot)) {
        throw new Error(`${source.snapshot} is already an etcd snapshot`);
      }
      tmp = await Deno.makeTempDir({ prefix: "concord-export-" });
      db = joinPath(tmp, "db");
      await copyVerified(disk, source.snapshot, db, source.skipHashCheck ?? false);
    } else {
      db = joinPath(source.dataDir, "member", "snap", "db");
      if (!await disk.exists(db)) throw new Error(`${source.dataDir}: no member db at ${db}`);
    }
    const backend = await openBackend(disk, db);
    let result: ExportResult;
    try {
      result = await writeBolt(disk, backend, part);
    } finally {
      await backend.close();
    }
    await appendSha256(disk, part, result.size);
    await disk.rename(part, out);
    return result;
  } catch (err) {
    await disk.remove(part).catch(() => {});
    throw err;
  } finally {
    if (tmp !== undefined) await Deno.remove(tmp, { recursive: true });
  }
}
