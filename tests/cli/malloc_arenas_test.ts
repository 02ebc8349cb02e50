import assert from "node:assert/strict";
import { capMallocArenas } from "../../lib/cli/malloc_arenas.ts";

const MODULE = new URL("../../lib/cli/malloc_arenas.ts", import.meta.url).href;
const PHASES = new URL("../../bench/memory_phases.ts", import.meta.url).href;

/**
 * A child process that caps the arenas (or not), then makes Deno's blocking pool start many
 * threads that allocate, and prints the glibc arenas it has before and after.
 */
async function arenasAfterThreads(cap: boolean): Promise<{ before: number; after: number }> {
  const code = `
    import { capMallocArenas } from "${MODULE}";
    import { smapsBreakdown } from "${PHASES}";
    const arenas = () => smapsBreakdown(Deno.readTextFileSync("/proc/self/smaps")).arenaCount;
    if (${cap} && !capMallocArenas({}).capped) throw new Error("not capped");
    const before = arenas();
    await Promise.all(Array.from({ length: 64 }, () => Deno.readTextFile("/proc/self/smaps")));
    console.log(JSON.stringify({ before, after: arenas() }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test({
  name: "malloc arenas: capped, new threads share the arenas that exist; uncapped, they grow",
  // glibc's arenas, compared with the defaults (which a MALLOC_ARENA_MAX here would change)
  ignore: Deno.build.os !== "linux" || Deno.env.get("MALLOC_ARENA_MAX") !== undefined,
  fn: async () => {
    const capped = await arenasAfterThreads(true);
    const free = await arenasAfterThreads(false);
    assert.equal(capped.after, capped.before, JSON.stringify(capped));
    assert.ok(free.after > free.before + 2, JSON.stringify(free));
  },
});

Deno.test("malloc arenas: the user's MALLOC_ARENA_MAX is left to rule", () => {
  const r = capMallocArenas({ MALLOC_ARENA_MAX: "4" });
  assert.equal(r.capped, false);
  assert.match(r.detail, /MALLOC_ARENA_MAX=4 from the environment/);
});
