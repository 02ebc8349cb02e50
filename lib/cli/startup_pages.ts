/**
 * Lets go of the executable's pages that only the start used.
 *
 * The `deno` executable (or a `deno compile`d `concord`) is 96 MB; starting a member touches
 * ~40 MiB of it (V8's start-up snapshot, module loading and transpiling, flag parsing), and
 * those pages stay mapped, counted in the member's RSS and its peak (VmHWM), for as long as it
 * runs, though many are never read again: a member under bench:compare's workloads had 47-48
 * MiB of file-backed pages resident (the executable's and a few libraries'), 30-33 MiB once
 * the start's were let go (docs/perf.md "Peak RSS, sixth session"). Once the member serves, `madvise(MADV_DONTNEED)` on the executable's
 * read-only mappings drops them from this process; a page that is used again is mapped again
 * from the page cache on its first touch (a minor fault, no disk read while the file is
 * cached), so only the pages the member keeps using come back.
 *
 * Only read-only mappings of the executable that hold no private copy (smaps' `Anonymous: 0
 * kB`) are dropped: their contents are the file's, so dropping them loses nothing. A mapping
 * with private pages (relocated data made read-only after start, RELRO) or any writable one is
 * left alone. The pages stay in the system's page cache, shared with other processes that map
 * the same file: what shrinks is this process's resident set (and what it pins there), not
 * the page cache. Done through FFI (`Deno.dlopen("libc.so.6")`), which `concord serve` is run
 * with (`-A`); nothing is done without the FFI permission or off Linux, and the returned text
 * says why, for the member's log.
 */

/** Linux's MADV_DONTNEED (asm-generic/mman-common.h). */
const MADV_DONTNEED = 4;

/** What releaseStartupPages did, for the member's log. */
export interface StartupPagesRelease {
  released: boolean;
  /** Why not, or what was dropped. */
  detail: string;
  /** Resident KiB of the executable's read-only, unmodified mappings before the call. */
  residentKiB: number;
}

/** A read-only mapping of `path` that holds only the file's own pages. */
interface CleanMapping {
  start: bigint;
  end: bigint;
  rssKiB: number;
}

/**
 * The mappings of `path` in /proc/PID/smaps text that are not writable and hold no private
 * (anonymous) page: the ones that can be dropped and read back from the file.
 */
export function cleanMappingsOf(smaps: string, path: string): CleanMapping[] {
  const out: CleanMapping[] = [];
  let cur: (CleanMapping & { ours: boolean; anon: number }) | null = null;
  const finish = () => {
    if (cur?.ours && cur.anon === 0) {
      out.push({ start: cur.start, end: cur.end, rssKiB: cur.rssKiB });
    }
  };
  for (const line of smaps.split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      finish();
      cur = {
        start: BigInt(`0x${head[1]}`),
        end: BigInt(`0x${head[2]}`),
        rssKiB: 0,
        ours: head[4] === path && !head[3].includes("w"),
        // unknown until its Anonymous line is read: not droppable without it
        anon: -1,
      };
      continue;
    }
    if (cur === null) continue;
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) cur.rssKiB = Number(rss[1]);
    const anon = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (anon) cur.anon = Number(anon[1]);
  }
  finish();
  return out;
}

/** Drops the executable's start-up pages from this process (see the module comment). */
export function releaseStartupPages(): StartupPagesRelease {
  const off = (detail: string): StartupPagesRelease => ({
    released: false,
    detail,
    residentKiB: 0,
  });
  if (Deno.build.os !== "linux") return off(`not on Linux (${Deno.build.os})`);
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return off("FFI not permitted");
  }
  let exe: string;
  let smaps: string;
  try {
    exe = Deno.realPathSync(Deno.execPath());
    smaps = Deno.readTextFileSync("/proc/self/smaps");
  } catch (err) {
    return off(`cannot read the executable's mappings (${(err as Error).message})`);
  }
  const maps = cleanMappingsOf(smaps, exe);
  const residentKiB = maps.reduce((n, m) => n + m.rssKiB, 0);
  if (maps.length === 0) return off(`no read-only mapping of ${exe} to drop`);
  let lib;
  try {
    lib = Deno.dlopen("libc.so.6", {
      madvise: { parameters: ["usize", "usize", "i32"], result: "i32" },
    });
  } catch (err) {
    return off(`no libc.so.6 (${(err as Error).message})`);
  }
  try {
    let failed = 0;
    for (const m of maps) {
      if (lib.symbols.madvise(m.start, m.end - m.start, MADV_DONTNEED) !== 0) failed++;
    }
    if (failed === maps.length) {
      return { released: false, detail: "madvise refused every mapping", residentKiB };
    }
    return {
      released: true,
      detail: `${maps.length - failed} of ${maps.length} read-only mappings of ${exe} ` +
        `(${(residentKiB / 1024).toFixed(1)} MiB resident) dropped`,
      residentKiB,
    };
  } finally {
    lib.close();
  }
}
