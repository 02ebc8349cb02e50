import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";
import { Wal } from "../../lib/wal/wal.ts";
import { killTestEntry } from "./fixtures/kill_entry.ts";

const FIXTURE = new URL("./fixtures/kill_writer.ts", import.meta.url).pathname;

/** Reads lines from the child's stdout; `onLine` returns true to kill the child. */
async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      onLine(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  }
  if (pending !== "") onLine(pending);
}

Deno.test("kill -9 at a random moment: every acknowledged index is present on reopen", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const tmp = await Deno.makeTempDir();
  try {
    for (let round = 0; round < 2; round++) {
      const dir = `${tmp}/wal${round}`;
      const killAfter = rand.range(1, 1500);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", FIXTURE, dir, String(64 * 1024)],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      let acked = 0;
      let lines = 0;
      let killed = false;
      const stderr = new Response(child.stderr).text();
      await readLines(child.stdout, (line) => {
        const index = Number(line);
        assert.ok(Number.isSafeInteger(index) && index > acked, `bad line ${line}`);
        acked = index;
        if (++lines >= killAfter && !killed) {
          killed = true;
          child.kill("SIGKILL");
        }
      });
      const status = await child.status;
      const err = await stderr;
      assert.ok(killed, `child exited before the kill: ${err}`);
      assert.equal(status.signal, "SIGKILL", err);
      console.log(`round ${round}: killed after ${lines} acks, last acked index ${acked}`);

      const { wal, contents } = await Wal.open({
        disk: new RealDisk(),
        dir,
        segmentSize: 64 * 1024,
      });
      assert.ok(contents.entries.length >= acked, `${contents.entries.length} < ${acked}`);
      for (let i = 0; i < contents.entries.length; i++) {
        assert.deepEqual(contents.entries[i], killTestEntry(i + 1));
      }
      await wal.close();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
