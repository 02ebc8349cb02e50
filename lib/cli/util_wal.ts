/**
 * `concord util wal …`: offline checks of a WAL directory, like etcd's `etcd-dump-logs`.
 * Reads only (no lock, no repair), so it is safe to run against a live member's WAL.
 *
 *   verify --wal-dir DIR     check every record; exit 0 when sound (a torn tail is reported:
 *                            the member discards it when it next opens the WAL), 1 on corruption
 *   dump --wal-dir DIR [--start-index N] [--data]
 *                            print every record (entries from index N), then the summary
 */
import { EntryType } from "../base/raftpb.ts";
import type { Disk } from "../io/disk.ts";
import { RealDisk } from "../io/real_disk.ts";
import { WalCorruptError } from "../wal/errors.ts";
import { type InspectedRecord, inspectWal, type WalReport } from "../wal/inspect.ts";
import { RecordType } from "../wal/record.ts";

/** Where the command writes, and which disk it reads (tests pass a SimDisk). */
export interface WalUtilIo {
  out: (line: string) => void;
  err: (line: string) => void;
  disk: Disk;
}

const USAGE = `usage: concord util wal <command> --wal-dir DIR
commands:
  verify --wal-dir DIR                         check every record of the WAL
  dump --wal-dir DIR [--start-index N] [--data]  print the records, then a summary`;

interface Parsed {
  command: string;
  walDir: string;
  startIndex: number;
  data: boolean;
}

function parse(args: string[]): Parsed | string {
  const [command, ...rest] = args;
  if (command !== "verify" && command !== "dump") {
    return command === undefined ? "missing command" : `unknown command "${command}"`;
  }
  const out: Parsed = { command, walDir: "", startIndex: 0, data: false };
  for (let i = 0; i < rest.length; i++) {
    const [flag, inline] = rest[i].split("=", 2) as [string, string | undefined];
    const value = () => inline ?? rest[++i];
    switch (flag) {
      case "--wal-dir": {
        const v = value();
        if (!v) return "--wal-dir needs a directory";
        out.walDir = v;
        break;
      }
      case "--start-index": {
        const v = Number(value());
        if (command !== "dump" || !Number.isSafeInteger(v) || v < 0) {
          return "--start-index needs a non-negative integer (dump only)";
        }
        out.startIndex = v;
        break;
      }
      case "--data":
        if (command !== "dump") return "--data is for dump only";
        out.data = true;
        break;
      default:
        return `unknown flag "${rest[i]}"`;
    }
  }
  if (out.walDir === "") return "--wal-dir is required";
  return out;
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function hex(v: bigint): string {
  return v.toString(16);
}

const ENTRY_TYPES: Record<number, string> = {
  [EntryType.Normal]: "normal",
  [EntryType.ConfChange]: "confchange",
  [EntryType.ConfChangeV2]: "confchangev2",
};

function describe(rec: InspectedRecord, withData: boolean): string {
  const at = `${rec.segment}@${rec.offset}`;
  switch (rec.type) {
    case RecordType.Entry: {
      const e = rec.entry;
      const base = `entry    term=${e.term} index=${e.index} type=${
        ENTRY_TYPES[e.type]
      } size=${e.data.length}`;
      const data = withData ? ` data=${base64(e.data)}` : "";
      return `${base}${data}  (${at})`;
    }
    case RecordType.State:
      return `state    term=${rec.state.term} vote=${
        hex(rec.state.vote)
      } commit=${rec.state.commit}  (${at})`;
    case RecordType.Metadata:
      return `metadata node=${hex(rec.metadata.nodeId)} cluster=${
        hex(rec.metadata.clusterId)
      }  (${at})`;
    case RecordType.Crc:
      return `crc      prev=${
        rec.crc.toString(16).padStart(8, "0")
      } version=${rec.version}  (${at})`;
    case RecordType.Snapshot: {
      const cs = rec.snapshot.confState;
      return `snapshot term=${rec.snapshot.term} index=${rec.snapshot.index} voters=[${
        cs.voters.map(hex).join(",")
      }] learners=[${cs.learners.map(hex).join(",")}]  (${at})`;
    }
  }
}

function summary(dir: string, r: WalReport): string[] {
  const lines = [
    `WAL ${dir}: ${r.segments.length} segment(s), ${r.bytes} bytes of records`,
    `  segments: ${r.segments[0].name} .. ${r.segments[r.segments.length - 1].name}`,
  ];
  if (r.metadata) {
    lines.push(`  member ${hex(r.metadata.nodeId)} of cluster ${hex(r.metadata.clusterId)}`);
  }
  lines.push(
    `  records: ${r.counts.entry} entries, ${r.counts.state} states, ${r.counts.snapshot} snapshots, ${r.counts.metadata} metadata, ${r.counts.crc} crc`,
  );
  if (r.counts.entry > 0) lines.push(`  entry indexes ${r.firstIndex} .. ${r.lastIndex}`);
  if (r.hardState) {
    const h = r.hardState;
    lines.push(`  last HardState: term=${h.term} vote=${hex(h.vote)} commit=${h.commit}`);
  }
  if (r.lastSnapshot) {
    lines.push(`  last snapshot: term=${r.lastSnapshot.term} index=${r.lastSnapshot.index}`);
  }
  return lines;
}

/**
 * Runs `concord util wal <args>`. Returns the exit code: 0 when the WAL is sound, 1 when it is
 * corrupt or cannot be read, 2 for a usage error.
 */
export async function runWalUtil(args: string[], io: Partial<WalUtilIo> = {}): Promise<number> {
  const out = io.out ?? ((line: string) => console.log(line));
  const err = io.err ?? ((line: string) => console.error(line));
  const disk = io.disk ?? new RealDisk();
  if (args.length === 0 || args[0] === "help" || args.includes("--help")) {
    (args.length === 0 ? err : out)(USAGE);
    return args.length === 0 ? 2 : 0;
  }
  const parsed = parse(args);
  if (typeof parsed === "string") {
    err(`concord util wal: ${parsed}`);
    err(USAGE);
    return 2;
  }
  try {
    const dump = parsed.command === "dump";
    const report = await inspectWal(
      disk,
      parsed.walDir,
      dump
        ? (rec) => {
          if (rec.type === RecordType.Entry && rec.entry.index < parsed.startIndex) return;
          out(describe(rec, parsed.data));
        }
        : undefined,
    );
    for (const line of summary(parsed.walDir, report)) out(line);
    if (report.tornTail) {
      const t = report.tornTail;
      out(
        `  torn tail: ${t.discardedBytes} bytes after offset ${t.offset} of ${t.file} (${t.reason}); ` +
          `they were never acknowledged and are discarded when the WAL is next opened`,
      );
    }
    out(`OK: every record verified`);
    return 0;
  } catch (e) {
    if (e instanceof WalCorruptError) {
      err(`CORRUPT: ${e.message}`);
      return 1;
    }
    err(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
