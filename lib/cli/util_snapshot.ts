/**
 * `concord util snapshot …`: offline work on a snapshot file, like etcdutl.
 *
 * A snapshot saved with `etcdctl snapshot save` from Concord is the member's page file followed
 * by the 32-byte SHA-256 of that page file (lib/api/maintenance_service.ts). Both commands
 * verify that trailer before anything else, so a truncated or tampered file is refused.
 *
 *   status FILE [-w simple|table|json] [--skip-hash-check]
 *       hash, revision, total keys, total size. The hash is CRC-32C over every bucket's name,
 *       keys and values in bucket-name order, the way etcdutl hashes a bolt file (the bucket
 *       set is Concord's, so the figure is not comparable with an etcd file's).
 *   restore FILE --data-dir DIR [--name N] [--initial-cluster N=URL,…]
 *           [--initial-cluster-token T] [--initial-advertise-peer-urls URL,…] [--wal-dir DIR]
 *           [--skip-hash-check]
 *       writes what a restarting member needs, as etcdutl does for etcd: the page file as
 *       member/snap/db with its consistent index set to the new log's last index; a new WAL
 *       (metadata: the new member and cluster ids) holding the membership as committed
 *       conf-change entries 1..n of term 1; a raft snapshot at index n carrying the membership
 *       and recorded in the WAL. `concord serve --data-dir DIR` then restarts from it and serves
 *       the same keys, revisions, leases and users under the new ids.
 *   export (FILE | --data-dir DIR) OUT [--skip-hash-check]
 *       writes an etcd snapshot of a Concord snapshot or a stopped member (util_snapshot_export.ts).
 *
 * FILE may also be etcd's snapshot (a bbolt file, util_snapshot_etcd.ts): status prints etcd's
 * own figures, and restore imports its buckets into a new page file before the steps above.
 */
import { createHash } from "node:crypto";
import { crc32c } from "../base/crc32c.ts";
import { type Entry, EntryType, type HardState, type Snapshot } from "../base/raftpb.ts";
import type { MemberId } from "../base/types.ts";
import { dirname, type Disk, joinPath } from "../io/disk.ts";
import { RealDisk } from "../io/real_disk.ts";
import { openBackend } from "../backend/open.ts";
import type { Backend } from "../backend/backend.ts";
import { MvccStore } from "../mvcc/kv_store.ts";
import { ConfChangeType, encodeConfChange } from "../raft/mod.ts";
import { Wal } from "../wal/wal.ts";
import { Snapshotter } from "../snap/snapshotter.ts";
import { clusterIdFor, formatId, memberIdFor } from "../server/member_id.ts";
import { parseInitialCluster } from "./serve_flags.ts";
import { MEMBERS_BUCKET, MEMBERS_REMOVED_BUCKET, Membership } from "../server/membership.ts";
import { etcdSnapshotStatus, importEtcdSnapshot, isEtcdSnapshot } from "./util_snapshot_etcd.ts";
import { exportEtcdSnapshot } from "./util_snapshot_export.ts";

/** Where the command writes, and which disk it uses (tests may pass another). */
export interface SnapshotUtilIo {
  out: (line: string) => void;
  err: (line: string) => void;
  disk: Disk;
}

/** A snapshot file that fails its check: the message says what is wrong. */
export class SnapshotFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SnapshotFileError";
  }
}

const USAGE = `usage: concord util snapshot <command> FILE …
commands:
  status FILE [-w simple|table|json] [--skip-hash-check]
                                           hash, revision, total keys and size of a snapshot
                                           (--skip-hash-check: FILE is a bare member/snap/db)
  restore FILE --data-dir DIR [--name NAME] [--initial-cluster NAME=URL,…]
          [--initial-cluster-token TOKEN] [--initial-advertise-peer-urls URL,…]
          [--wal-dir DIR] [--skip-hash-check]
                                           make a data dir that serves the snapshot
                                           (--wal-dir: the WAL there; serve with the same
                                           --wal-dir)
  export (SNAPSHOT | --data-dir DIR) OUT [--skip-hash-check]
                                           write an etcd snapshot (bbolt + SHA-256) of a
                                           Concord snapshot or a stopped member's data dir,
                                           for etcdctl snapshot restore
FILE may be a Concord snapshot or an etcd one (etcdctl snapshot save from etcd 3.4-3.6).`;

/** Every bucket a Concord member keeps (mvcc, lease, auth, alarms). */
const BUCKETS = ["alarm", "auth", "authRoles", "authUsers", "key", "lease", "meta"];

const SHA_LEN = 32;
const CHUNK = 1 << 20;
const encoder = new TextEncoder();

/** What `status` reports. */
export interface SnapshotStatus {
  /** CRC-32C over the buckets (see the file comment). */
  hash: number;
  revision: number;
  totalKey: number;
  /** Bytes of the page file (the file without its SHA-256 trailer). */
  totalSize: number;
}

/**
 * Copies the page file part of snapshot `file` to `dest` (created, synced) while hashing it,
 * and checks the SHA-256 trailer unless `skipHashCheck`. Throws SnapshotFileError on a
 * mismatch; `dest` is then left for the caller to remove.
 */
export async function copyVerified(
  disk: Disk,
  file: string,
  dest: string,
  skipHashCheck = false,
): Promise<number> {
  const src = await disk.open(file, { readOnly: true });
  try {
    const size = await src.size();
    const dbSize = skipHashCheck ? size : size - SHA_LEN;
    if (!skipHashCheck && dbSize <= 0) {
      throw new SnapshotFileError(`${file}: too short (${size} bytes) for a snapshot`);
    }
    const out = await disk.open(dest, { createNew: true });
    try {
      const digest = createHash("sha256");
      const buf = new Uint8Array(CHUNK);
      for (let off = 0; off < dbSize;) {
        const want = Math.min(CHUNK, dbSize - off);
        const n = await src.readAt(buf.subarray(0, want), off);
        if (n <= 0) throw new SnapshotFileError(`${file}: short read at ${off}`);
        const chunk = buf.slice(0, n);
        digest.update(chunk);
        await out.writeAt(chunk, off);
        off += n;
      }
      if (!skipHashCheck) {
        const trailer = new Uint8Array(SHA_LEN);
        if (await src.readAt(trailer, dbSize) !== SHA_LEN) {
          throw new SnapshotFileError(`${file}: short read of the SHA-256 trailer`);
        }
        const got = new Uint8Array(digest.digest());
        if (!got.every((b, i) => b === trailer[i])) {
          throw new SnapshotFileError(
            `${file}: snapshot file integrity check failed: SHA-256 of the content does not ` +
              `match the trailer (corrupt, or not a file from etcdctl snapshot save)`,
          );
        }
      }
      await out.sync();
    } finally {
      await out.close();
    }
    return dbSize;
  } finally {
    await src.close();
  }
}

function bucketHash(b: Backend): { hash: number; keys: number } {
  let hash = 0;
  let keys = 0;
  for (const name of BUCKETS) {
    hash = crc32c(encoder.encode(name), hash);
    b.read.range(name, new Uint8Array(0), undefined, (k, v) => {
      hash = crc32c(k, hash);
      hash = crc32c(v, hash);
      keys++;
    });
  }
  return { hash: hash >>> 0, keys };
}

/** Verifies `file` and reads its status from a temporary copy (the file is not changed). */
export async function snapshotStatus(
  disk: Disk,
  file: string,
  skipHashCheck = false,
): Promise<SnapshotStatus> {
  if (await isEtcdSnapshot(disk, file)) return await etcdSnapshotStatus(disk, file, skipHashCheck);
  const tmp = await Deno.makeTempDir({ prefix: "concord-snapshot-status-" });
  try {
    const db = joinPath(tmp, "db");
    const totalSize = await copyVerified(disk, file, db, skipHashCheck);
    const backend = await openPageFile(disk, file, db);
    try {
      const { hash, keys } = bucketHash(backend);
      const store = MvccStore.open(backend);
      const revision = store.rev();
      await store.close();
      return { hash, revision, totalKey: keys, totalSize };
    } finally {
      await backend.close();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** Opens the copied page file; a file that is not one (an etcd bolt file) says so. */
async function openPageFile(disk: Disk, file: string, db: string) {
  try {
    return await openBackend(disk, db);
  } catch (err) {
    throw new SnapshotFileError(
      `${file}: not a Concord page file nor an etcd (bbolt) snapshot: ` +
        (err as Error).message,
    );
  }
}

/** go-humanize's Bytes (SI units), as etcdutl prints TOTAL SIZE. */
export function humanBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const sizes = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const val = Math.floor((n / Math.pow(1000, e)) * 10 + 0.5) / 10;
  return `${val < 10 ? val.toFixed(1) : val.toFixed(0)} ${sizes[e]}`;
}

function formatStatus(s: SnapshotStatus, format: string): string {
  const hash = s.hash.toString(16);
  const size = humanBytes(s.totalSize);
  if (format === "json") {
    return JSON.stringify({
      hash: s.hash,
      revision: s.revision,
      totalKey: s.totalKey,
      totalSize: s.totalSize,
    });
  }
  if (format === "table") {
    const head = ["HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE"];
    const row = [hash, String(s.revision), String(s.totalKey), size];
    const w = head.map((h, i) => Math.max(h.length, row[i].length));
    const line = "+" + w.map((n) => "-".repeat(n + 2)).join("+") + "+";
    const center = (t: string, n: number) => {
      const left = Math.floor((n - t.length) / 2) + ((n - t.length) % 2);
      return " ".repeat(left) + t + " ".repeat(n - t.length - left);
    };
    const cells = (r: string[], f: (t: string, i: number) => string) =>
      "| " + r.map(f).join(" | ") + " |";
    return [
      line,
      cells(head, (t, i) => center(t, w[i])),
      line,
      cells(row, (t, i) => (i === 3 ? t.padEnd(w[i]) : t.padStart(w[i]))),
      line,
    ].join("\n");
  }
  return `${hash}, ${s.revision}, ${s.totalKey}, ${size}`;
}

/** Options of `restore`, with etcdutl's defaults. */
export interface RestoreOptions {
  dataDir: string;
  name: string;
  initialCluster: Map<string, URL[]>;
  initialClusterToken: string;
  initialAdvertisePeerUrls: URL[];
  skipHashCheck: boolean;
  /** etcdutl's --wal-dir: the WAL goes here instead of `<data-dir>/member/wal`. */
  walDir?: string;
}

function urlText(u: URL): string {
  return u.href.endsWith("/") && u.pathname === "/" ? u.href.slice(0, -1) : u.href;
}

/** What `restore` made: the new ids. */
export interface RestoreResult {
  memberId: MemberId;
  clusterId: bigint;
  /** The raft index of the snapshot (and the consistent index of the db). */
  index: number;
}

/**
 * Restores `file` into `opts.dataDir` (which must not hold a member yet). Everything is built
 * in `<data-dir>/member.restoring` and renamed to `member` last, so an interrupted restore
 * leaves no half member behind that `serve` would start from.
 */
export async function restoreSnapshot(
  disk: Disk,
  file: string,
  opts: RestoreOptions,
): Promise<RestoreResult> {
  const self = opts.initialCluster.get(opts.name);
  if (self === undefined) {
    throw new SnapshotFileError(
      `couldn't find local name "${opts.name}" in the initial cluster configuration`,
    );
  }
  const advertised = opts.initialAdvertisePeerUrls.map(urlText).sort();
  if (self.map(urlText).sort().join(",") !== advertised.join(",")) {
    throw new SnapshotFileError(
      `--initial-cluster has ${opts.name}=${self.map(urlText).join(",")} but ` +
        `--initial-advertise-peer-urls is ${advertised.join(",")}`,
    );
  }
  const memberDir = joinPath(opts.dataDir, "member");
  if (await disk.exists(memberDir)) {
    throw new SnapshotFileError(`data-dir "${opts.dataDir}" exists (it holds a member)`);
  }
  const walDir = opts.walDir !== undefined && opts.walDir !== "" ? opts.walDir : undefined;
  if (walDir !== undefined && await disk.exists(walDir)) {
    throw new SnapshotFileError(`wal-dir "${walDir}" exists`);
  }
  const work = joinPath(opts.dataDir, "member.restoring");
  if (await disk.exists(work)) await Deno.remove(work, { recursive: true });
  // a separate WAL is built beside its final place and renamed there just before the member
  // dir (the commit point), so an interrupted restore leaves neither
  const walWork = walDir !== undefined ? `${walDir}.restoring` : joinPath(work, "wal");
  if (walDir !== undefined && await disk.exists(walWork)) {
    await Deno.remove(walWork, { recursive: true });
  }
  const snapDir = joinPath(work, "snap");
  await disk.mkdirAll(snapDir);
  try {
    // the membership, in --initial-cluster order as etcd lists it
    const members: { id: MemberId; name: string; peerURLs: string[] }[] = [];
    for (const [name, urls] of opts.initialCluster) {
      const peerURLs = urls.map(urlText);
      members.push({ id: await memberIdFor(peerURLs, opts.initialClusterToken), name, peerURLs });
    }
    const memberId = members.find((m) => m.name === opts.name)!.id;
    const clusterId = await clusterIdFor(members.map((m) => m.id));
    const n = members.length;
    const term = 1;

    // 1. the db, verified, with the consistent index of the new log
    const db = joinPath(snapDir, "db");
    if (await isEtcdSnapshot(disk, file)) {
      await importEtcdSnapshot(disk, file, db, opts.skipHashCheck);
    } else {
      await copyVerified(disk, file, db, opts.skipHashCheck);
    }
    const backend = await openPageFile(disk, file, db);
    try {
      const store = MvccStore.open(backend);
      store.setConsistentIndex(n, term);
      await store.close();
      // the new cluster's membership replaces the one the snapshot was taken in (etcd's
      // restore rewrites the members buckets the same way)
      backend.write.deleteBucket(MEMBERS_BUCKET);
      backend.write.deleteBucket(MEMBERS_REMOVED_BUCKET);
      const membership = new Membership(backend);
      for (const m of members) membership.add({ ...m, clientURLs: [], isLearner: false });
      await backend.commit();
    } finally {
      await backend.close();
    }

    // 2. the WAL: the membership as committed conf changes 1..n, then the snapshot record
    const entries: Entry[] = members.map((m, i) => ({
      index: i + 1,
      term,
      type: EntryType.ConfChange,
      data: encodeConfChange({
        type: ConfChangeType.AddNode,
        nodeId: m.id,
        context: encoder.encode(
          JSON.stringify({ name: m.name, peerURLs: m.peerURLs, clientURLs: [] }),
        ),
      }),
    }));
    const confState = {
      voters: members.map((m) => m.id),
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    };
    const snap: Snapshot = {
      // the membership is in the db; the page file travels beside raft snapshots
      data: new Uint8Array(0),
      metadata: { index: n, term, confState },
    };
    await new Snapshotter(disk, snapDir).save(snap);
    const wal = await Wal.create({
      disk,
      dir: walWork,
      metadata: { nodeId: memberId, clusterId },
    });
    try {
      const hs: HardState = { term, vote: 0n, commit: n };
      await wal.save(hs, entries);
      await wal.saveSnapshot({ index: n, term, confState });
    } finally {
      await wal.close();
    }
    if (walDir !== undefined) {
      await disk.rename(walWork, walDir);
      await disk.syncDir(dirname(walDir));
    }
    await disk.syncDir(work);
    await disk.rename(work, memberDir);
    await disk.syncDir(opts.dataDir);
    return { memberId, clusterId, index: n };
  } catch (err) {
    await Deno.remove(work, { recursive: true }).catch(() => {});
    if (walDir !== undefined) await Deno.remove(walWork, { recursive: true }).catch(() => {});
    throw err;
  }
}

function parseUrlList(flag: string, v: string): URL[] {
  return v.split(",").map((s) => s.trim()).filter((s) => s !== "").map((s) => {
    try {
      return new URL(s);
    } catch {
      throw new SnapshotFileError(`--${flag}: invalid url "${s}"`);
    }
  });
}

/** Runs `concord util snapshot …`; returns the exit code. */
export async function runSnapshotUtil(
  args: string[],
  io: SnapshotUtilIo = {
    out: (l) => console.log(l),
    err: (l) => console.error(l),
    disk: new RealDisk(),
  },
): Promise<number> {
  const [command, ...rest] = args;
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith("-")) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = (eq >= 0 ? a.slice(0, eq) : a).replace(/^--?/, "");
    if (name === "skip-hash-check") flags.set(name, true);
    else if (eq >= 0) flags.set(name, a.slice(eq + 1));
    else if (i + 1 < rest.length) flags.set(name, rest[++i]);
    else {
      io.err(`concord util snapshot: flag --${name} needs a value\n${USAGE}`);
      return 2;
    }
  }
  if (command === "export") return await runExport(positional, flags, io);
  if ((command !== "status" && command !== "restore") || positional.length !== 1) {
    io.err(
      `concord util snapshot: ${
        command === undefined || (command !== "status" && command !== "restore")
          ? `unknown command "${command ?? ""}"`
          : "want exactly one snapshot FILE"
      }\n${USAGE}`,
    );
    return 2;
  }
  const file = positional[0];
  const str = (k: string, d: string) => {
    const v = flags.get(k);
    return typeof v === "string" ? v : d;
  };
  try {
    if (command === "status") {
      const format = str("write-out", str("w", "simple"));
      if (!["simple", "table", "json"].includes(format)) {
        io.err(`concord util snapshot status: unknown --write-out "${format}"`);
        return 2;
      }
      for (const k of flags.keys()) {
        if (k !== "w" && k !== "write-out" && k !== "skip-hash-check") {
          io.err(`concord util snapshot status: unknown flag --${k}\n${USAGE}`);
          return 2;
        }
      }
      const skip = flags.get("skip-hash-check") === true;
      io.out(formatStatus(await snapshotStatus(io.disk, file, skip), format));
      return 0;
    }
    const known = [
      "data-dir",
      "name",
      "initial-cluster",
      "initial-cluster-token",
      "initial-advertise-peer-urls",
      "skip-hash-check",
      "wal-dir",
    ];
    for (const k of flags.keys()) {
      if (!known.includes(k)) {
        io.err(`concord util snapshot restore: unknown flag --${k}\n${USAGE}`);
        return 2;
      }
    }
    const name = str("name", "default");
    const opts: RestoreOptions = {
      name,
      dataDir: str("data-dir", `${name}.etcd`),
      initialCluster: parseInitialCluster(str("initial-cluster", `${name}=http://localhost:2380`)),
      initialClusterToken: str("initial-cluster-token", "etcd-cluster"),
      initialAdvertisePeerUrls: parseUrlList(
        "initial-advertise-peer-urls",
        str("initial-advertise-peer-urls", "http://localhost:2380"),
      ),
      skipHashCheck: flags.get("skip-hash-check") === true,
      walDir: str("wal-dir", ""),
    };
    const r = await restoreSnapshot(io.disk, file, opts);
    io.out(
      `restored snapshot ${file} into ${opts.dataDir}: member ${formatId(r.memberId)}, ` +
        `cluster ${formatId(r.clusterId)}, raft index ${r.index}`,
    );
    return 0;
  } catch (err) {
    io.err(`concord util snapshot ${command}: ${(err as Error).message}`);
    return 1;
  }
}

async function runExport(
  positional: string[],
  flags: Map<string, string | true>,
  io: SnapshotUtilIo,
): Promise<number> {
  for (const k of flags.keys()) {
    if (k !== "data-dir" && k !== "skip-hash-check") {
      io.err(`concord util snapshot export: unknown flag --${k}\n${USAGE}`);
      return 2;
    }
  }
  const dataDir = flags.get("data-dir");
  const want = dataDir === undefined ? 2 : 1;
  if (positional.length !== want || dataDir === true) {
    io.err(
      `concord util snapshot export: want ${
        dataDir === undefined
          ? "a Concord snapshot and an OUT file"
          : "one OUT file with --data-dir"
      }\n${USAGE}`,
    );
    return 2;
  }
  const out = positional[want - 1];
  const skipHashCheck = flags.get("skip-hash-check") === true;
  try {
    const r = await exportEtcdSnapshot(
      io.disk,
      typeof dataDir === "string" ? { dataDir } : { snapshot: positional[0], skipHashCheck },
      out,
    );
    for (const u of r.pbkdf2Users) {
      io.err(
        `warning: user "${u}" has a password set in Concord (PBKDF2), which etcd cannot verify: ` +
          `set it again in etcd (etcdctl user passwd ${u})`,
      );
    }
    io.out(`exported ${r.entries} entries (${humanBytes(r.size)}) as an etcd snapshot to ${out}`);
    return 0;
  } catch (err) {
    io.err(`concord util snapshot export: ${(err as Error).message}`);
    return 1;
  }
}
