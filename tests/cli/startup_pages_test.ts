import assert from "node:assert/strict";
import { cleanMappingsOf } from "../../lib/cli/startup_pages.ts";

const MODULE = new URL("../../lib/cli/startup_pages.ts", import.meta.url).href;

const SMAPS = `55d0c0000000-55d0c1000000 r--p 00000000 08:01 123 /opt/deno
Size:              16384 kB
Rss:                4000 kB
Anonymous:             0 kB
55d0c1000000-55d0c3000000 r-xp 01000000 08:01 123 /opt/deno
Size:              32768 kB
Rss:               20000 kB
Anonymous:             0 kB
55d0c3000000-55d0c3100000 r--p 03000000 08:01 123 /opt/deno
Size:               1024 kB
Rss:                1024 kB
Anonymous:           900 kB
55d0c3100000-55d0c3200000 rw-p 03100000 08:01 123 /opt/deno
Size:               1024 kB
Rss:                 800 kB
Anonymous:             0 kB
7f0000000000-7f0000100000 r-xp 00000000 08:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
Size:               1024 kB
Rss:                1000 kB
Anonymous:             0 kB
7f0000200000-7f0000300000 rw-p 00000000 00:00 0
Size:               1024 kB
Rss:                1024 kB
Anonymous:          1024 kB
55d0c4000000-55d0c4100000 r--p 04000000 08:01 123 /opt/deno
Size:               1024 kB
Rss:                 100 kB
`;

Deno.test("startup pages: only the executable's read-only mappings without private pages", () => {
  const maps = cleanMappingsOf(SMAPS, "/opt/deno");
  assert.deepEqual(maps, [
    { start: 0x55d0c0000000n, end: 0x55d0c1000000n, rssKiB: 4000 },
    { start: 0x55d0c1000000n, end: 0x55d0c3000000n, rssKiB: 20000 },
  ]);
  assert.deepEqual(cleanMappingsOf(SMAPS, "/opt/other"), []);
});

Deno.test({
  name: "startup pages: dropped from this process, and what runs after faults back in",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    // in a child, so that this test runner's own pages stay as they are
    const code = `
      import { releaseStartupPages, cleanMappingsOf } from "${MODULE}";
      const exe = Deno.realPathSync(Deno.execPath());
      const resident = () => cleanMappingsOf(Deno.readTextFileSync("/proc/self/smaps"), exe)
        .reduce((n, m) => n + m.rssKiB, 0);
      const before = resident();
      const r = releaseStartupPages();
      const after = resident();
      // the runtime still works: compile and run new code, format a date, hash, read a file
      const sum = new Function("a", "b", "return a + b")(40, 2);
      const text = new Intl.DateTimeFormat("en", { timeZone: "UTC" }).format(0);
      const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(8)))[0];
      const self = Deno.readTextFileSync("/proc/self/status").includes("VmRSS");
      console.log(JSON.stringify({ before, after, r, sum, text, hash, self }));
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", code],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const res = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(res.r.released, true, res.r.detail);
    // what it saw resident is at least what the probe saw a moment before (the lines between
    // may touch more pages, never fewer)
    assert.ok(res.r.residentKiB >= res.before * 0.9, JSON.stringify(res));
    // a started deno has tens of MiB of its executable resident; right after the drop only
    // the pages the few lines since touched are back
    assert.ok(res.before > 10 * 1024, `before ${res.before} KiB`);
    assert.ok(res.after < res.before / 2, `before ${res.before} KiB, after ${res.after} KiB`);
    assert.equal(res.sum, 42);
    assert.equal(res.text, "1/1/1970");
    assert.equal(res.hash, 0xaf); // SHA-256 of eight zero bytes starts with af
    assert.equal(res.self, true);
  },
});

Deno.test({
  name: "startup pages: without the FFI permission nothing is dropped, and it says why",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const code = `
      import { releaseStartupPages } from "${MODULE}";
      console.log(JSON.stringify(releaseStartupPages()));
    `;
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      await Deno.writeTextFile(file, code);
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-prompt", "--allow-read", file],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const r = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.deepEqual(r, { released: false, detail: "FFI not permitted", residentKiB: 0 });
    } finally {
      await Deno.remove(file);
    }
  },
});
