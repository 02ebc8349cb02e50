import assert from "node:assert/strict";
import { NotFoundError } from "../../lib/io/disk.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";

Deno.test("real disk: positional I/O, rename, readDir, lock exclusion", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-io-" });
  try {
    const disk = new RealDisk();
    const f = await disk.open(`${dir}/a`, { create: true });
    await Promise.all([
      f.writeAt(Uint8Array.of(1, 1), 0),
      f.writeAt(Uint8Array.of(2, 2), 4),
    ]);
    await f.sync();
    const buf = new Uint8Array(8);
    assert.deepEqual(await f.readAt(buf, 0), 6);
    assert.deepEqual([...buf.subarray(0, 6)], [1, 1, 0, 0, 2, 2]);
    const two = new Uint8Array(2);
    assert.equal(f.readAtSync(two, 4), 2);
    assert.deepEqual([...two], [2, 2]);
    assert.deepEqual(await f.tryLock(), true);
    const g = await disk.open(`${dir}/a`);
    assert.deepEqual(await g.tryLock(), false);
    await f.close();
    assert.deepEqual(await g.tryLock(), true);
    await g.close();
    await disk.rename(`${dir}/a`, `${dir}/b`);
    await disk.syncDir(dir);
    assert.deepEqual(await disk.readDir(dir), ["b"]);
    await assert.rejects(() => disk.open(`${dir}/a`), NotFoundError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
