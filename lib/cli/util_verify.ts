/**
 * `concord util verify --data-dir DIR`: an offline consistency check of a stopped member's
 * files (etcd's server/verify, extended to what Concord's files allow). It reads only, and
 * refuses while a member holds the data dir (WAL or page file lock).
 *
 * Checked, each failure named with where it is:
 * - the page file: both meta pages (one torn by a crash mid-commit is a warning: the file
 *   opens from the other), the file long enough for its newest meta, and every page reachable
 *   from it (lib/backend/check.ts: checksums, page types, key order and bounds, even depth,
 *   no page reached twice, every page exactly one of reachable or free);
 * - the MVCC data: the "key" and "meta" buckets exist, every key is a revision and every value
 *   a KeyValue whose mod revision is its key's, each key's history is a valid chain (versions
 *   count up from 1 at its create revision; a deletion follows a live revision), revisions a
 *   finished compaction removes are gone, leased keys name leases that exist (a warning);
 * - the WAL: every record (CRCs, chain), entry indexes without gaps, the last HardState's
 *   commit covered by the log (a torn tail is a warning: restart discards it);
 * - the raft snapshots: the newest valid one the WAL names exists and reads; other broken
 *   files are warnings;
 * - across them (etcd's validateConsistentIndex): the backend's consistent index is at most
 *   the WAL's HardState commit and at least the newest snapshot's index, and its term at most
 *   the HardState's.
 *
 * Exit 0 when no error was found (warnings printed), 1 otherwise.
 */
import { type Disk, type DiskFile, joinPath } from "../io/disk.ts";
import { checkTree } from "../backend/check.ts";
import { decodeMeta, type Meta } from "../backend/meta.ts";
import { MAX_PAGE_SIZE, MIN_PAGE_SIZE } from "../backend/page.ts";
import { Pager } from "../backend/pager.ts";
import { Tx, type TxOwner } from "../backend/tx.ts";
import { LEASE_BUCKET, leaseIdFromKey } from "../lease/lease_record.ts";
import { decodeKeyValue } from "../mvcc/kv_codec.ts";
import { bytesToKey } from "../mvcc/key_bytes.ts";
import { bytesToRev, bytesToU64, isTombstone, REV_BYTES_LEN } from "../mvcc/revision.ts";
import { DataDirLockedError } from "../server/member.ts";
import { snapFileName, Snapshotter } from "../snap/snapshotter.ts";
import { RecordType } from "../wal/record.ts";
import { inspectWal, type WalReport } from "../wal/inspect.ts";
import { WalCorruptError, WalNotFoundError } from "../wal/errors.ts";
import type { HardState } from "../base/raftpb.ts";
import { goQuote } from "./ctl_gofmt.ts";
import { Exit } from "./ctl_exit.ts";
import {
  dataDirPaths,
  lockWal,
  parseUtilArgs,
  percent,
  processIo,
  ProgressLine,
  reportExit,
  UtilExit,
  type UtilIo,
} from "./util_io.ts";

/** One thing found wrong: an error fails the check, a warning does not. */
export interface Finding {
  severity: "error" | "warning";
  message: string;
}

/** What verify found and the figures it read. */
export interface VerifyReport {
  findings: Finding[];
  /** Facts read along the way (printed as the summary). */
  facts: string[];
}

/** What the page file's MVCC data says, for the cross checks. */
interface BackendFacts {
  consistentIndex: number;
  term: number;
}

const enc = new TextEncoder();
const MAX_FINDINGS = 100;

class Findings {
  readonly list: Finding[] = [];
  #dropped = 0;
  error(message: string): void {
    this.#add({ severity: "error", message });
  }
  warning(message: string): void {
    this.#add({ severity: "warning", message });
  }
  #add(f: Finding): void {
    if (this.list.length < MAX_FINDINGS) this.list.push(f);
    else this.#dropped++;
  }
  get dropped(): number {
    return this.#dropped;
  }
}

/** Reads the meta page in `slot` at page size `ps`; returns it or why it is invalid. */
function readMeta(file: DiskFile, slot: number, ps: number): Meta | string {
  const buf = new Uint8Array(Math.min(ps, MAX_PAGE_SIZE));
  const n = file.readAtSync(buf, slot * ps);
  try {
    const m = decodeMeta(buf.subarray(0, n), slot);
    if (slot === 1 && m.pageSize !== ps) return `page size ${m.pageSize} at offset ${ps}`;
    return m;
  } catch (err) {
    return (err as Error).message.replace(/^page file corrupt: page \d+: /, "");
  }
}

/** The page file's checks (see the file comment); returns the MVCC facts when readable. */
async function verifyPageFile(
  disk: Disk,
  db: string,
  f: Findings,
  facts: string[],
  progress: ProgressLine,
): Promise<BackendFacts | undefined> {
  const file = await disk.open(db, { readOnly: true });
  try {
    if (!(await file.tryLock())) throw new Error("locked");
    const size = await file.size();
    const m0 = readMeta(file, 0, MIN_PAGE_SIZE);
    let m1: Meta | string = "no valid page size";
    if (typeof m0 !== "string") m1 = readMeta(file, 1, m0.pageSize);
    else {
      for (let ps = MIN_PAGE_SIZE; ps <= MAX_PAGE_SIZE && typeof m1 === "string"; ps *= 2) {
        if (ps * 2 <= size) m1 = readMeta(file, 1, ps);
      }
    }
    const valid = [m0, m1].filter((m): m is Meta => typeof m !== "string");
    if (valid.length === 0) {
      f.error(`page file ${db}: no valid meta page (meta 0: ${m0}; meta 1: ${m1})`);
      return undefined;
    }
    const meta = valid.reduce((a, b) => (b.txid > a.txid ? b : a));
    for (const [slot, m] of [[0, m0], [1, m1]] as const) {
      if (typeof m === "string") {
        f.warning(
          `page file ${db}: meta page ${slot} is invalid (${m}); the file opens from meta ` +
            `page ${meta.txid % 2} (transaction ${meta.txid}): a crash during a commit leaves ` +
            `this, and the next commit rewrites it`,
        );
      }
    }
    facts.push(
      `page file ${db}: ${size} bytes, page size ${meta.pageSize}, transaction ${meta.txid}, ` +
        `${meta.hwm} pages`,
    );
    if (size < meta.hwm * meta.pageSize) {
      f.error(
        `page file ${db}: truncated: transaction ${meta.txid} needs ${meta.hwm} pages ` +
          `(${meta.hwm * meta.pageSize} bytes) but the file has ${size} bytes`,
      );
      return undefined;
    }
    const pager = new Pager(file, meta.pageSize, meta.hwm, 64 << 20);
    progress.update(() => `verify: checking ${meta.hwm} pages of ${db}…`, true);
    const problems = checkTree(pager, meta);
    for (const p of problems) f.error(`page file ${db}: ${p}`);
    if (problems.length > 0) return undefined;
    // the pages are sound: read the MVCC data through a read-only transaction
    const owner: TxOwner = { pager, finish: () => Promise.resolve() };
    const tx = new Tx(owner, meta, false);
    try {
      return verifyMvcc(tx, f, facts, progress);
    } finally {
      tx.rollback();
    }
  } finally {
    await file.close();
  }
}

/** A key's history so far in the scan. */
interface KeyState {
  main: number;
  tombstone: boolean;
  version: number;
  create: number;
  /** Revisions at or below the compaction seen for this key. */
  compacted: number;
}

function revText(main: number, sub: number): string {
  return `{${main} ${sub}}`;
}

/** The MVCC checks over the page file's buckets. */
function verifyMvcc(
  tx: Tx,
  f: Findings,
  facts: string[],
  progress: ProgressLine,
): BackendFacts | undefined {
  const metaBucket = tx.bucket(enc.encode("meta"));
  const keyBucket = tx.bucket(enc.encode("key"));
  if (!metaBucket || !keyBucket) {
    f.error(`page file: bucket "${!metaBucket ? "meta" : "key"}" is missing (not a member's file)`);
    return undefined;
  }
  const u64 = (name: string): number => {
    const v = metaBucket.get(enc.encode(name));
    if (v === undefined) return 0;
    try {
      return bytesToU64(v);
    } catch (err) {
      f.error(`meta bucket: ${name} is not a counter (${(err as Error).message})`);
      return 0;
    }
  };
  const rev = (name: string): number => {
    const v = metaBucket.get(enc.encode(name));
    if (v === undefined) return -1;
    try {
      return bytesToRev(v).main;
    } catch (err) {
      f.error(`meta bucket: ${name} is not a revision (${(err as Error).message})`);
      return -1;
    }
  };
  const consistentIndex = u64("consistent_index");
  const term = u64("term");
  const finished = rev("finishedCompactRev");
  const scheduled = rev("scheduledCompactRev");
  if (scheduled >= 0 && finished > scheduled) {
    f.error(
      `meta bucket: finished compaction ${finished} is beyond the scheduled one ${scheduled}`,
    );
  }
  // a compaction still running (scheduled past finished) may have removed part of its range
  const compactedTo = Math.max(finished, scheduled);
  const settled = scheduled <= finished;

  const leases = new Set<bigint>();
  const leaseBucket = tx.bucket(enc.encode(LEASE_BUCKET));
  if (leaseBucket) {
    const c = leaseBucket.cursor();
    for (let ok = c.first(); ok; ok = c.next()) {
      try {
        leases.add(leaseIdFromKey(c.key()));
      } catch (err) {
        f.error(`lease bucket: ${(err as Error).message}`);
      }
    }
  }

  const keys = new Map<string, KeyState>();
  const missingLeases = new Set<bigint>();
  let lastMain = 0;
  let lastSub = -1;
  let count = 0;
  const c = keyBucket.cursor();
  // the newest revision, for the progress line's total
  let newest = 0;
  if (c.last() && c.key().length >= REV_BYTES_LEN) newest = bytesToRev(c.key()).main;
  for (let ok = c.first(); ok; ok = c.next()) {
    count++;
    if ((count & 0xfff) === 0) {
      progress.update(() =>
        `verify: revision ${lastMain} of ${newest} (${percent(lastMain, newest)}), ` +
        `${count} revisions checked…`
      );
    }
    const k = c.key();
    if (k.length !== REV_BYTES_LEN && !(k.length === REV_BYTES_LEN + 1 && isTombstone(k))) {
      f.error(`key bucket: key ${goQuote(k)} is not a revision`);
      continue;
    }
    const { main, sub } = bytesToRev(k);
    const tomb = isTombstone(k);
    const at = revText(main, sub);
    if (main < 1 || main < lastMain || (main === lastMain && sub <= lastSub)) {
      f.error(`key bucket: revision ${at} is out of order (after ${revText(lastMain, lastSub)})`);
    }
    lastMain = main;
    lastSub = sub;
    let kv;
    try {
      kv = decodeKeyValue(c.value());
    } catch (err) {
      f.error(`key bucket: revision ${at}: value is not a KeyValue (${(err as Error).message})`);
      continue;
    }
    const name = goQuote(kv.key);
    const id = bytesToKey(kv.key);
    const prev = keys.get(id);
    const below = main <= compactedTo;
    if (!tomb) {
      if (kv.modRevision !== main) {
        f.error(`revision ${at} of key ${name}: mod revision ${kv.modRevision}, not ${main}`);
      }
      if (kv.version < 1 || kv.createRevision < 1 || kv.createRevision > main) {
        f.error(
          `revision ${at} of key ${name}: version ${kv.version} and create revision ` +
            `${kv.createRevision} are not a live key's`,
        );
      } else if (prev && !prev.tombstone) {
        if (kv.version !== prev.version + 1 || kv.createRevision !== prev.create) {
          f.error(
            `revision ${at} of key ${name}: version ${kv.version} (create ${kv.createRevision}) ` +
              `does not follow version ${prev.version} (create ${prev.create}) at revision ` +
              `${prev.main}: revisions are not monotonic`,
          );
        }
      } else if (prev || kv.createRevision === main) {
        if (kv.version !== 1 || kv.createRevision !== main) {
          f.error(
            `revision ${at} of key ${name}: version ${kv.version} (create ` +
              `${kv.createRevision}) where a new key starts at version 1 created at ${main}`,
          );
        }
      } else if (kv.createRevision > compactedTo) {
        f.error(
          `revision ${at} of key ${name}: its history from create revision ` +
            `${kv.createRevision} is missing, and no compaction (at ${compactedTo}) removed it`,
        );
      }
      if (kv.lease !== 0n && !leases.has(kv.lease) && !missingLeases.has(kv.lease)) {
        missingLeases.add(kv.lease);
        f.warning(
          `revision ${at} of key ${name}: lease ${kv.lease.toString(16)} is not in the lease ` +
            `bucket (the key stays; etcd tolerates this)`,
        );
      }
    } else if ((!prev || prev.tombstone) && main > compactedTo) {
      f.error(`revision ${at}: deletion of key ${name}, which has no live revision before it`);
    }
    const compacted = (prev?.compacted ?? 0) + (below ? 1 : 0);
    // a compaction at C keeps, per key, only the newest revision at or below C: a put, or a
    // deletion at exactly C (etcd 3.6 keeps that tombstone; its hash leaves it out)
    if (settled && below && ((tomb && main !== finished) || compacted > 1)) {
      f.error(
        `revision ${at} of key ${name}: the compaction at ${finished} should have removed ` +
          `${tomb ? "this deletion" : `revision ${prev?.main}`}`,
      );
    }
    keys.set(id, {
      main,
      tombstone: tomb,
      version: tomb ? 0 : kv.version,
      create: tomb ? 0 : kv.createRevision,
      compacted,
    });
  }
  if (finished > lastMain && lastMain > 0) {
    // a compaction at the current revision is allowed; past it is not
    f.error(`meta bucket: finished compaction ${finished} is beyond the last revision ${lastMain}`);
  }
  facts.push(
    `mvcc: ${count} revisions of ${keys.size} keys, current revision ${Math.max(lastMain, 1)}, ` +
      `compacted ${finished}, consistent index ${consistentIndex}, term ${term}`,
  );
  return { consistentIndex, term };
}

/** What the WAL says, for the cross checks. */
interface WalFacts {
  hardState: HardState;
  /** The newest snapshot marker at or below the commit (etcd's ValidSnapshotEntries). */
  snapshot: { index: number; term: number };
}

async function verifyWal(
  disk: Disk,
  dir: string,
  f: Findings,
  facts: string[],
): Promise<WalFacts | undefined> {
  const markers: { index: number; term: number }[] = [];
  let last = 0;
  let gap: string | undefined;
  let report: WalReport;
  try {
    report = await inspectWal(disk, dir, (rec) => {
      if (rec.type === RecordType.Snapshot) {
        markers.push({ index: rec.snapshot.index, term: rec.snapshot.term });
        if (last === 0) last = rec.snapshot.index;
      } else if (rec.type === RecordType.Entry) {
        const i = rec.entry.index;
        if (last !== 0 && i > last + 1 && gap === undefined) {
          gap = `WAL ${dir}: entry ${i} follows entry ${last} (${rec.segment}@${rec.offset}): ` +
            `entries ${last + 1}..${i - 1} are missing`;
        }
        last = i;
      }
    });
  } catch (err) {
    if (err instanceof WalCorruptError || err instanceof WalNotFoundError) {
      f.error(err.message);
      return undefined;
    }
    throw err;
  }
  if (gap !== undefined) f.error(gap);
  const hs = report.hardState ?? { term: 0, vote: 0n, commit: 0 };
  facts.push(
    `WAL ${dir}: ${report.segments.length} segment(s), entries ${report.firstIndex}..` +
      `${report.lastIndex}, HardState term ${hs.term} commit ${hs.commit}`,
  );
  if (report.tornTail) {
    const t = report.tornTail;
    f.warning(
      `WAL ${dir}: torn tail: ${t.discardedBytes} bytes after offset ${t.offset} of ${t.file} ` +
        `(${t.reason}); never acknowledged, discarded when the member next starts`,
    );
  }
  const logEnd = Math.max(report.lastIndex, report.lastSnapshot?.index ?? 0);
  if (hs.commit > logEnd) {
    f.error(
      `WAL ${dir}: HardState commit ${hs.commit} is beyond the log's last index ${logEnd}`,
    );
  }
  const valid = markers.filter((m) => m.index <= hs.commit);
  const snapshot = valid.length > 0 ? valid[valid.length - 1] : { index: 0, term: 0 };
  return { hardState: hs, snapshot };
}

async function verifySnapFiles(
  disk: Disk,
  dir: string,
  wal: WalFacts | undefined,
  f: Findings,
  facts: string[],
): Promise<number> {
  const snaps = new Snapshotter(disk, dir);
  const names = await snaps.snapNames();
  let newest = 0;
  let bad = 0;
  const want = wal && wal.snapshot.index > 0
    ? snapFileName(wal.snapshot.term, wal.snapshot.index)
    : undefined;
  for (const name of names) {
    try {
      const s = await snaps.read(name);
      newest = Math.max(newest, s.metadata.index);
    } catch (err) {
      bad++;
      const msg = `snapshot ${joinPath(dir, name)}: ${(err as Error).message}`;
      if (name === want) f.error(`${msg} (the WAL's newest snapshot: the member cannot start)`);
      else f.warning(`${msg} (not the one the member starts from)`);
    }
  }
  if (want !== undefined && !names.includes(want)) {
    f.error(
      `snapshot ${joinPath(dir, want)} is missing: the WAL's newest snapshot (index ` +
        `${wal!.snapshot.index}) has no file, the member cannot start`,
    );
  }
  facts.push(`snapshots ${dir}: ${names.length} file(s)${bad > 0 ? `, ${bad} unreadable` : ""}`);
  return newest;
}

/** Verifies the member files under `dataDir`; see the file comment. */
export async function verifyDataDir(
  disk: Disk,
  dataDir: string,
  opts: { walDir?: string; progress?: ProgressLine } = {},
): Promise<VerifyReport> {
  const paths = dataDirPaths(dataDir, opts.walDir ?? "");
  const f = new Findings();
  const facts: string[] = [];
  const progress = opts.progress ?? new ProgressLine({ out: () => {}, err: () => {}, disk });
  if (!(await disk.exists(paths.member)) && !(await disk.exists(paths.wal))) {
    throw new Error(`${dataDir} holds no member (no ${paths.member})`);
  }
  const walLock = await lockWal(disk, dataDir, paths.wal);
  try {
    let backend: BackendFacts | undefined;
    if (await disk.exists(paths.db)) {
      try {
        backend = await verifyPageFile(disk, paths.db, f, facts, progress);
      } catch (err) {
        if ((err as Error).message === "locked") {
          throw new DataDirLockedError(dataDir, "the backend file");
        }
        throw err;
      }
    } else f.error(`page file ${paths.db} is missing`);
    progress.update(() => `verify: reading the WAL…`, true);
    const wal = await verifyWal(disk, paths.wal, f, facts);
    const newestSnap = await verifySnapFiles(disk, paths.snap, wal, f, facts);
    if (backend && wal) {
      const { consistentIndex: ci, term } = backend;
      const hs = wal.hardState;
      if (ci > hs.commit) {
        f.error(`backend.ConsistentIndex (${ci}) must be <= WAL.HardState.commit (${hs.commit})`);
      }
      if (term > hs.term) {
        f.error(`backend.Term (${term}) must be <= WAL.HardState.term, (${hs.term})`);
      }
      if (ci < wal.snapshot.index) {
        f.error(
          `backend.ConsistentIndex (${ci}) must be >= last snapshot index (${wal.snapshot.index})`,
        );
      }
    }
    if (backend && newestSnap > backend.consistentIndex) {
      f.error(
        `snapshot at index ${newestSnap} is beyond the backend's consistent index ` +
          `(${backend.consistentIndex}): the page file lost applied entries`,
      );
    }
    if (f.dropped > 0) {
      f.error(`… and ${f.dropped} more problems (only the first ${MAX_FINDINGS} are listed)`);
    }
    return { findings: f.list, facts };
  } finally {
    progress.done();
    await walLock?.close();
  }
}

const USAGE = `Verifies the consistency of a stopped member's WAL, snapshots and page file

Usage:
  concord util verify --data-dir DIR [flags]

Flags:
      --data-dir string   Required. The data directory of a member that is not running.
      --wal-dir string    the member's WAL directory when not <data-dir>/member/wal`;

/** Runs `concord util verify …`: 0 when no error was found, 1 otherwise. */
export async function runVerifyUtil(args: string[], io: UtilIo = processIo()): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    io.out(USAGE);
    return 0;
  }
  try {
    const parsed = parseUtilArgs(args, { "data-dir": "string", "wal-dir": "string" }, {});
    if (parsed.positional.length > 0) {
      throw new UtilExit(
        Exit.Error,
        `unknown command "${parsed.positional[0]}" for "concord util verify"`,
      );
    }
    const dataDir = String(parsed.flags.get("data-dir") ?? "");
    if (dataDir === "") throw new UtilExit(Exit.Error, `required flag(s) "data-dir" not set`);
    const report = await verifyDataDir(io.disk, dataDir, {
      walDir: String(parsed.flags.get("wal-dir") ?? ""),
      progress: new ProgressLine(io),
    });
    for (const fact of report.facts) io.out(fact);
    const errors = report.findings.filter((x) => x.severity === "error");
    for (const x of report.findings) io.out(`${x.severity}: ${x.message}`);
    if (errors.length > 0) {
      io.out(`verification of ${dataDir} failed: ${errors.length} error(s)`);
      return Exit.Error;
    }
    io.out(`verification of ${dataDir} successful`);
    return 0;
  } catch (err) {
    return reportExit(io, err);
  }
}
