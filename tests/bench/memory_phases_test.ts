import assert from "node:assert/strict";
import { smapsBreakdown } from "../../bench/memory_phases.ts";

/** One /proc/PID/smaps entry: its header line and an Rss line. */
function entry(range: string, perms: string, path: string, rssKiB: number): string {
  return `${range} ${perms} 00000000 00:00 0 ${path}\nSize: 4 kB\nRss: ${rssKiB} kB\nPss: 1 kB\n`;
}

Deno.test("smapsBreakdown: file, [heap], 64 MiB-aligned arenas and other anonymous memory", () => {
  const text = [
    entry("55d000000000-55d000100000", "r-xp", "/usr/bin/deno", 100),
    entry("55d001000000-55d003000000", "rw-p", "[heap]", 2000),
    // an arena: aligned to 64 MiB, its reservation's rest inaccessible
    entry("7f0000000000-7f0000400000", "rw-p", "", 300),
    entry("7f0000400000-7f0004000000", "---p", "", 0),
    // an arena that fills its 64 MiB
    entry("7f0008000000-7f000c000000", "rw-p", "", 50),
    // aligned, but not followed by the rest of a 64 MiB reservation: not an arena
    entry("7f0010000000-7f0010100000", "rw-p", "", 7),
    // not aligned: V8 pages, stacks, other mappings
    entry("7f0020001000-7f0020401000", "rw-p", "", 400),
    entry("7ffc00000000-7ffc00021000", "rw-p", "[stack]", 20),
  ].join("");
  assert.deepEqual(smapsBreakdown(text), {
    rss: 100 + 2000 + 300 + 50 + 7 + 400 + 20,
    file: 100,
    mainArena: 2000,
    otherArenas: 350,
    otherAnon: 427,
    arenaCount: 2,
  });
});
