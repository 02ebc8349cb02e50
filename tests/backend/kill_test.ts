// A real kill -9: a child process commits in a loop and reports each durable transaction id;
// after SIGKILL at a random moment the file reopens to a committed state at least as new as
// the last one reported. Replay with SEED=<seed>.
import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";
import { DB } from "../../lib/backend/db.ts";

const dec = new TextDecoder();

Deno.test("kill -9 during commits leaves a committed state no older than the last reported", async () => {
  const seed = testSeed();
  console.log(`kill: seed=${seed}`);
  const rand = new Rand(seed);
  const dir = await Deno.makeTempDir({ prefix: "concord-backend-kill-" });
  try {
    const path = `${dir}/k.db`;
    const fixture = new URL("./fixtures/commit_loop.ts", import.meta.url).pathname;
    for (let round = 0; round < 2; round++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", fixture, path],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const stopAfter = rand.range(5, 120);
      let last = -1;
      let seen = 0;
      let buf = "";
      const reader = child.stdout.getReader();
      while (seen < stopAfter) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value);
        const lines = buf.split("\n");
        buf = lines.pop()!;
        for (const l of lines) {
          last = Number(l);
          seen++;
        }
      }
      child.kill("SIGKILL");
      const status = await child.status;
      await reader.cancel();
      assert.equal(status.signal, "SIGKILL", "the child was killed, not finished");
      assert.ok(last > 0, "the child reported commits");
      const db = await DB.open(new RealDisk(), path);
      try {
        assert.ok(db.meta.txid >= last, `reopened at ${db.meta.txid}, child reported ${last}`);
        assert.deepEqual(db.check(), []);
        db.view((tx) => {
          const b = tx.bucket(new TextEncoder().encode("b"))!;
          const n = Number(dec.decode(b.get(new TextEncoder().encode("counter"))!));
          let keys = 0;
          const c = b.cursor();
          for (let ok = c.first(); ok; ok = c.next()) keys++;
          // Every commit added one key; the counter and key count agree with a whole commit.
          assert.equal(keys, n + 2, `counter ${n} but ${keys} keys`);
        });
      } finally {
        await db.close();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
