/**
 * How long a defrag holds the event loop, in-process: a page file on the real disk is filled
 * (`--keys` values of `--value-bytes`, every other one deleted again), then a 1 ms interval
 * timer measures the gaps between its ticks, first for 3 s with nothing else running (this
 * machine's own stalls), then during `backend.defrag()`.
 *
 *   deno run -A bench/defrag_stall.ts [--keys=8192] [--value-bytes=16384]
 *                                     [--batch-bytes=262144] [--sync-bytes=1048576]
 *
 * The figures in docs/perf.md ("Online defragmentation") came from this; the machine is shared,
 * so read the idle gaps beside the defrag's.
 */
import { RealDisk } from "../lib/io/real_disk.ts";
import { openBackend } from "../lib/backend/open.ts";

function flag(name: string, def: number): number {
  const a = Deno.args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? def : Number(a.slice(name.length + 3));
}

const keys = flag("keys", 8192);
const valueBytes = flag("value-bytes", 16384);
const dir = await Deno.makeTempDir({ prefix: "concord-defrag-stall-" });
const enc = new TextEncoder();
try {
  const b = await openBackend(new RealDisk(), `${dir}/db`, {
    defrag: { batchBytes: flag("batch-bytes", 256 << 10), syncBytes: flag("sync-bytes", 1 << 20) },
  });
  b.write.createBucket("key");
  for (let i = 0; i < keys; i++) {
    b.write.put("key", enc.encode(`k${String(i).padStart(8, "0")}`), new Uint8Array(valueBytes));
    if (i % 500 === 0) await b.commit();
  }
  await b.commit();
  for (let i = 0; i < keys; i += 2) {
    b.write.delete("key", enc.encode(`k${String(i).padStart(8, "0")}`));
  }
  await b.commit();
  const before = b.stats();

  let last = performance.now();
  let worst = 0;
  const gaps: number[] = [];
  const timer = setInterval(() => {
    const now = performance.now();
    const gap = now - last;
    worst = Math.max(worst, gap);
    if (gap > 50) gaps.push(Math.round(gap));
    last = now;
  }, 1);
  const report = (what: string) => {
    console.log(
      `${what}: longest gap ${worst.toFixed(0)} ms; gaps over 50 ms: [${gaps.join(", ")}]`,
    );
    worst = 0;
    gaps.length = 0;
  };
  await new Promise((r) => setTimeout(r, 3000));
  report("idle 3 s");
  const t0 = performance.now();
  await b.defrag();
  const took = performance.now() - t0;
  report(`defrag ${(took / 1000).toFixed(2)} s`);
  clearInterval(timer);
  const after = b.stats();
  console.log(
    `file ${(before.fileBytes / 2 ** 20).toFixed(0)} MiB -> ${
      (after.fileBytes / 2 ** 20).toFixed(0)
    } MiB`,
  );
  await b.close();
} finally {
  await Deno.remove(dir, { recursive: true });
}
