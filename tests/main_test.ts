import assert from "node:assert/strict";
import { run } from "../main.ts";

Deno.test("concord help and version exit 0; an unknown command exits 2", async () => {
  assert.equal(await run(["--help"]), 0);
  assert.equal(await run(["version"]), 0);
  assert.equal(await run(["frobnicate"]), 2);
});

Deno.test("concord util wal verify checks a WAL directory from the command line", async () => {
  const { Wal } = await import("../lib/wal/wal.ts");
  const { RealDisk } = await import("../lib/io/real_disk.ts");
  const dir = await Deno.makeTempDir({ prefix: "concord-main-" });
  try {
    const wal = await Wal.create({
      disk: new RealDisk(),
      dir: `${dir}/wal`,
      metadata: { nodeId: 1n, clusterId: 2n },
    });
    await wal.save({ term: 1, vote: 1n, commit: 1 }, [{
      term: 1,
      index: 1,
      type: 0,
      data: new Uint8Array([1]),
    }]);
    await wal.close();
    const cmd = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../main.ts", import.meta.url).pathname,
        "util",
        "wal",
        "verify",
        "--wal-dir",
        `${dir}/wal`,
      ],
      stdout: "piped",
      stderr: "piped",
    });
    const out = await cmd.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(await run(["util", "nope"]), 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
