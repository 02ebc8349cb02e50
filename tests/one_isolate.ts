/**
 * The whole suite as one test module: imports every test file under tests/ (the files
 * `deno test tests/` would pick, in the same order), so `deno test tests/one_isolate.ts` runs
 * the same tests in one isolate instead of one fresh isolate per file.
 *
 * Why: `deno test` starts every file in a new isolate and compiles lib/ again for it. Measured
 * (a loaded shared machine, so noisy): 0.3-0.4 s of CPU per file even for a file with one
 * empty test, and 30 files of tests/{auth,base,io,lease,snap,wal} took 17.3 s of CPU and 65 s
 * of wall one isolate per file against 4.9 s and 18 s in one isolate, with the same 104 tests
 * passing. With 261 files that start-up is most of what the suite spends outside its tests.
 *
 * What it gives up: a file's leftovers (a timer it forgot, a global it set) live on into
 * the files after it instead of dying with its isolate. Deno 2.9's op and resource sanitizers
 * are off unless asked for (`--sanitize-ops --sanitize-resources`), so per-file isolates
 * hid such leftovers rather than reported them.
 *
 * Not a test file itself (no `_test` in its name): `deno test tests/` does not pick it, and
 * `deno test tests/` stays the way to run the files one isolate each.
 */

/** Deno's default test file pattern: `{*_,*.,}test.{ts,tsx,mts,js,mjs,jsx}`. */
const TEST_FILE = /(^|[_.])test\.(ts|tsx|mts|js|mjs|jsx)$/;

/** The test files under `dir`, as paths relative to it with `/`, depth first. */
async function testFiles(dir: URL, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) {
      out.push(...await testFiles(new URL(`${e.name}/`, dir), `${prefix}${e.name}/`));
    } else if (e.isFile && TEST_FILE.test(e.name)) {
      out.push(`${prefix}${e.name}`);
    }
  }
  return out;
}

const here = new URL("./", import.meta.url);
// deno test orders the files by path; so do we (code unit order, as Rust compares strings)
const files = (await testFiles(here)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
if (files.length === 0) throw new Error(`no test files under ${here.pathname}`);
for (const f of files) await import(new URL(f, here).href);
