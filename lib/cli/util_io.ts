/**
 * What the etcdutl-style tools (`concord util defrag|hashkv|verify`) share: where they write,
 * etcdutl's flag parsing and failure shape (`Error: <message>` on stderr and its exit codes),
 * the data dir's paths and lock, and a progress line drawn only on a terminal.
 */
import { type Disk, type DiskFile, joinPath } from "../io/disk.ts";
import { RealDisk } from "../io/real_disk.ts";
import { LOCK_FILE } from "../wal/wal.ts";
import { DataDirLockedError } from "../server/member.ts";
import { Exit } from "./ctl_exit.ts";

/** Where a tool writes and which disk it works on (tests pass their own). */
export interface UtilIo {
  /** One line of output (stdout). */
  out: (line: string) => void;
  /** One line of diagnostics (stderr). */
  err: (line: string) => void;
  disk: Disk;
  /**
   * Draws raw text on the terminal (no newline added); undefined when stdout or stderr is
   * not a terminal, so scripts and pipes never see progress.
   */
  progress?: (text: string) => void;
}

/** The process's stdout and stderr, the real disk, progress on stderr when both are TTYs. */
export function processIo(): UtilIo {
  const enc = new TextEncoder();
  const tty = Deno.stdout.isTerminal() && Deno.stderr.isTerminal();
  return {
    out: (l) => console.log(l),
    err: (l) => console.error(l),
    disk: new RealDisk(),
    progress: tty ? (t) => Deno.stderr.writeSync(enc.encode(t)) : undefined,
  };
}

/** A failure that ends the tool with etcdutl's `Error: <message>` and `code`. */
export class UtilExit extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = "UtilExit";
  }
}

/** Prints `err` the way cobrautl.ExitWithError does and returns the exit code. */
export function reportExit(io: UtilIo, err: unknown): number {
  if (err instanceof UtilExit) {
    io.err(`Error: ${err.message}`);
    return err.code;
  }
  io.err(`Error: ${err instanceof Error ? err.message : String(err)}`);
  return Exit.Error;
}

/** How a flag takes its value. */
export type FlagKind = "string" | "int" | "bool";

/** Parsed command line: flags by long name, and the positional arguments. */
export interface UtilArgs {
  flags: Map<string, string | bigint | boolean>;
  positional: string[];
}

/**
 * Parses `args` as cobra does for these commands (`--flag value`, `--flag=value`, `-w value`
 * for --write-out). Unknown flags and missing values fail like cobra (exit 1).
 */
export function parseUtilArgs(
  args: string[],
  spec: Record<string, FlagKind>,
  shorts: Record<string, string> = { w: "write-out" },
): UtilArgs {
  const flags = new Map<string, string | bigint | boolean>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      positional.push(a);
      continue;
    }
    const long = a.startsWith("--");
    const eq = a.indexOf("=");
    const raw = a.slice(long ? 2 : 1, eq >= 0 ? eq : undefined);
    const name = long ? raw : shorts[raw];
    const kind = name === undefined ? undefined : spec[name];
    if (name === undefined || kind === undefined) {
      throw new UtilExit(
        Exit.Error,
        long ? `unknown flag: --${raw}` : `unknown shorthand flag: '${raw}' in ${a}`,
      );
    }
    let value: string | undefined = eq >= 0 ? a.slice(eq + 1) : undefined;
    if (kind === "bool") {
      if (value !== undefined && value !== "true" && value !== "false") {
        throw new UtilExit(
          Exit.Error,
          `invalid argument "${value}" for "--${name}" flag: strconv.ParseBool: parsing ` +
            `"${value}": invalid syntax`,
        );
      }
      flags.set(name, value !== "false");
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= args.length) {
        throw new UtilExit(Exit.Error, `flag needs an argument: --${name}`);
      }
      value = args[++i];
    }
    if (kind === "int") {
      if (!/^[+-]?\d+$/.test(value)) {
        throw new UtilExit(
          Exit.Error,
          `invalid argument "${value}" for "--${name}" flag: strconv.ParseInt: parsing ` +
            `"${value}": invalid syntax`,
        );
      }
      flags.set(name, BigInt(value));
    } else flags.set(name, value);
  }
  return { flags, positional };
}

/** The files of a member under its data dir, as etcd lays them out. */
export interface DataDirPaths {
  member: string;
  snap: string;
  /** The page file (etcd's bolt db). */
  db: string;
  wal: string;
}

/** etcd's datadir.ToBackendFileName / ToSnapDir / ToWALDir (`walDir` overrides the WAL's). */
export function dataDirPaths(dataDir: string, walDir = ""): DataDirPaths {
  const member = joinPath(dataDir, "member");
  const snap = joinPath(member, "snap");
  return {
    member,
    snap,
    db: joinPath(snap, "db"),
    wal: walDir !== "" ? walDir : joinPath(member, "wal"),
  };
}

/** Go's os.Stat error for a missing path, which etcdutl prints as is. */
export async function mustExist(disk: Disk, path: string): Promise<void> {
  if (!(await disk.exists(path))) {
    throw new Error(`stat ${path}: no such file or directory`);
  }
}

/**
 * Takes the WAL directory's lock (the one a serving member holds for its whole life), so an
 * offline tool and a member never work on the same data dir at once. Returns undefined when
 * the WAL has no lock file; throws DataDirLockedError when a member holds it.
 */
export async function lockWal(
  disk: Disk,
  dataDir: string,
  walDir: string,
): Promise<DiskFile | undefined> {
  // a member creates the lock file when it opens the WAL: without one, no member holds it
  const path = joinPath(walDir, LOCK_FILE);
  if (!(await disk.exists(path))) return undefined;
  const file = await disk.open(path);
  if (!(await file.tryLock())) {
    await file.close();
    throw new DataDirLockedError(dataDir, "the WAL");
  }
  return file;
}

/**
 * A progress line on the terminal, redrawn at most every 100 ms; does nothing when the tool
 * has no terminal to draw on.
 */
export class ProgressLine {
  readonly #draw: ((text: string) => void) | undefined;
  #last = 0;
  #shown = false;

  constructor(io: UtilIo) {
    this.#draw = io.progress;
  }

  /** Shows `text` (built only when it will be drawn). */
  update(text: () => string, force = false): void {
    if (this.#draw === undefined) return;
    const now = Date.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    this.#draw(`\r\x1b[K${text()}`);
    this.#shown = true;
  }

  /** Clears the line, leaving the terminal as it was. */
  done(): void {
    if (this.#draw !== undefined && this.#shown) this.#draw("\r\x1b[K");
    this.#shown = false;
  }
}

/** `n` of `total` as a percentage with one decimal, capped below 100 until done. */
export function percent(n: number, total: number): string {
  if (total <= 0) return "0.0%";
  return `${Math.min(99.9, (n / total) * 100).toFixed(1)}%`;
}
