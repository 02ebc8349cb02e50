import assert from "node:assert/strict";
import { NotFoundError } from "../../lib/io/disk.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";

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

Deno.test("real disk: appends skip their seek, and any other I/O in between lands right", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const dir = await Deno.makeTempDir({ prefix: "concord-io-" });
  try {
    const f = await new RealDisk().open(`${dir}/a`, { create: true });
    let model = new Uint8Array(0);
    const put = (data: Uint8Array, at: number) => {
      if (at + data.length > model.length) {
        const grown = new Uint8Array(at + data.length);
        grown.set(model);
        model = grown;
      }
      model.set(data, at);
    };
    let end = 0;
    for (let i = 0; i < 300; i++) {
      const data = new Uint8Array(1 + rand.int(3000)).fill(i & 0xff);
      const op = rand.int(10);
      if (op < 5) {
        await f.writeAt(data, end); // an append: where the last write ended, usually
        put(data, end);
        end += data.length;
      } else if (op < 7) {
        const at = rand.int(model.length + 1);
        await f.writeAt(data, at);
        put(data, at);
        end = at + data.length;
      } else if (op < 8) {
        const at = rand.int(model.length + 1);
        const buf = new Uint8Array(rand.int(4000));
        const n = await f.readAt(buf, at);
        assert.deepEqual(buf.subarray(0, n), model.subarray(at, at + n));
      } else if (op < 9) {
        const size = rand.int(model.length + 1);
        await f.truncate(size);
        model = model.slice(0, size);
      } else {
        const big = new Uint8Array((1 << 20) + 1 + rand.int(100)).fill(7); // the async path
        const at = rand.int(model.length + 1);
        await f.writeAt(big, at);
        put(big, at);
        end = at + big.length;
      }
    }
    const all = new Uint8Array(model.length + 10);
    assert.equal(await f.readAt(all, 0), model.length, `seed=${seed}`);
    assert.deepEqual(all.subarray(0, model.length), model, `seed=${seed}`);
    await f.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
