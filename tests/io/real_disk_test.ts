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

Deno.test("real disk: small writes and inline syncs keep order with queued async I/O", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-io-" });
  try {
    const disk = new RealDisk();
    const f = await disk.open(`${dir}/a`, { create: true });
    // a large write (async path), then a small one over part of it (synchronous path), then
    // an inline sync: the file must show them applied in call order
    const big = new Uint8Array((1 << 20) + 10).fill(7);
    const pending = [
      f.writeAt(big, 0),
      f.writeAt(Uint8Array.of(9, 9, 9), 5),
      f.sync({ inline: true }),
      f.writeAt(Uint8Array.of(8), big.length),
      f.sync(),
    ];
    await Promise.all(pending);
    assert.equal(await f.size(), big.length + 1);
    const head = new Uint8Array(10);
    await f.readAt(head, 0);
    assert.deepEqual([...head], [7, 7, 7, 7, 7, 9, 9, 9, 7, 7]);
    const tail = new Uint8Array(2);
    assert.equal(f.readAtSync(tail, big.length - 1), 2);
    assert.deepEqual([...tail], [7, 8]);
    await f.close();
    await assert.rejects(() => f.sync({ inline: true }), /closed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
