/**
 * Caps glibc malloc's arenas for a long-running member.
 *
 * glibc gives each thread that allocates while another holds the main arena a new arena, up
 * to 8 per core, and every arena keeps freed memory resident. A member's threads (Deno's
 * tokio workers, V8's platform workers and the blocking pool that runs fsync and file I/O)
 * grew 15 arenas on this 2-core machine holding 45 MiB resident, a fifth of the member's peak
 * RSS; with at most 2 they held 3.5 MiB (docs/perf.md "Memory per request, fifth session").
 * `MALLOC_ARENA_MAX` does this only if it is in the environment before the process starts,
 * which a `deno compile`d binary cannot arrange for its users, so the member sets the same
 * limit itself with `mallopt(M_ARENA_MAX)` through FFI. glibc fixes its arena limit when the
 * ninth arena would be made; the few arenas made before this call (the threads that exist at
 * start) stay, and later threads share them.
 *
 * Nothing is changed when the user set MALLOC_ARENA_MAX (theirs rules), when FFI is not
 * permitted, or off Linux or glibc (no libc.so.6 with mallopt): the member then runs with
 * malloc's defaults, as before, and the returned text says why.
 */

/** glibc's mallopt parameter number of M_ARENA_MAX (malloc.h). */
const M_ARENA_MAX = -8;

/** The cap: as many arenas as cores on the machines this is measured on, and no more. */
export const ARENA_MAX = 2;

/** What capMallocArenas did, for the member's log. */
export interface ArenaCap {
  capped: boolean;
  /** Why not, or the limit set. */
  detail: string;
}

/** Sets M_ARENA_MAX to {@link ARENA_MAX} unless the module comment's exceptions apply. */
export function capMallocArenas(
  env: Readonly<Record<string, string>> = Deno.env.toObject(),
): ArenaCap {
  if (env.MALLOC_ARENA_MAX !== undefined) {
    return {
      capped: false,
      detail: `MALLOC_ARENA_MAX=${env.MALLOC_ARENA_MAX} from the environment`,
    };
  }
  if (Deno.build.os !== "linux") {
    return { capped: false, detail: `not on Linux (${Deno.build.os})` };
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return { capped: false, detail: "FFI not permitted" };
  }
  let lib;
  try {
    lib = Deno.dlopen("libc.so.6", {
      gnu_get_libc_version: { parameters: [], result: "pointer" },
      mallopt: { parameters: ["i32", "i32"], result: "i32" },
    });
  } catch (err) {
    // musl and other C libraries: no glibc arenas to cap
    return { capped: false, detail: `no glibc (${(err as Error).message})` };
  }
  try {
    const version = lib.symbols.gnu_get_libc_version();
    const glibc = version === null ? "?" : Deno.UnsafePointerView.getCString(version);
    if (lib.symbols.mallopt(M_ARENA_MAX, ARENA_MAX) !== 1) {
      return { capped: false, detail: `glibc ${glibc} refused M_ARENA_MAX` };
    }
    return { capped: true, detail: `M_ARENA_MAX=${ARENA_MAX} (glibc ${glibc})` };
  } finally {
    lib.close();
  }
}
