import assert from "node:assert/strict";
import { EntryType } from "../../lib/base/raftpb.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { runWalUtil } from "../../lib/cli/util_wal.ts";
import { Wal } from "../../lib/wal/wal.ts";

async function fixture(): Promise<{ disk: SimDisk; segments: string[] }> {
  const disk = new SimDisk();
  const wal = await Wal.create({
    disk,
    dir: "/w",
    metadata: { nodeId: 0xabcn, clusterId: 0xdefn },
    segmentSize: 2048,
  });
  for (let i = 1; i <= 30; i++) {
    await wal.save({ term: 2, vote: 0xabcn, commit: i - 1 }, [
      { index: i, term: 2, type: EntryType.Normal, data: new Uint8Array(100).fill(i) },
    ]);
  }
  await wal.saveSnapshot({
    index: 20,
    term: 2,
    confState: {
      voters: [0xabcn],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    },
  });
  const segments = wal.segments.map((s) => `/w/${s}`);
  await wal.close();
  return { disk, segments };
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

Deno.test("verify: a sound WAL exits 0 and says what it holds", async () => {
  const { disk, segments } = await fixture();
  const c = capture();
  assert.equal(await runWalUtil(["verify", "--wal-dir", "/w"], { ...c.io, disk }), 0);
  const text = c.out.join("\n");
  assert.match(text, new RegExp(`${segments.length} segment\\(s\\)`));
  assert.match(text, /member abc of cluster def/);
  assert.match(text, /30 entries/);
  assert.match(text, /entry indexes 1 \.\. 30/);
  assert.match(text, /last HardState: term=2 vote=abc commit=29/);
  assert.match(text, /last snapshot: term=2 index=20/);
  assert.match(text, /^OK/m);
  assert.deepEqual(c.err, []);
});

Deno.test("verify: corruption exits 1 naming the file and offset", async () => {
  const { disk, segments } = await fixture();
  disk.flipBits(segments[1], 200, 0x10);
  const c = capture();
  assert.equal(await runWalUtil(["verify", "--wal-dir=/w"], { ...c.io, disk }), 1);
  assert.match(c.err.join("\n"), new RegExp(`CORRUPT: .*${segments[1]} at offset \\d+`));
});

Deno.test("dump: prints every record, from --start-index for entries", async () => {
  const { disk } = await fixture();
  const c = capture();
  const code = await runWalUtil(["dump", "--wal-dir", "/w", "--start-index", "25", "--data"], {
    ...c.io,
    disk,
  });
  assert.equal(code, 0);
  const entries = c.out.filter((l) => l.startsWith("entry"));
  assert.deepEqual(
    entries.map((l) => /index=(\d+)/.exec(l)![1]),
    ["25", "26", "27", "28", "29", "30"],
  );
  assert.match(entries[0], /term=2 index=25 type=normal size=100 data=GRkZ/);
  assert.ok(c.out.some((l) => /^snapshot term=2 index=20 voters=\[abc\]/.test(l)));
  assert.ok(c.out.some((l) => l.startsWith("metadata node=abc cluster=def")));
});

Deno.test("usage errors exit 2; a missing WAL exits 1", async () => {
  const disk = new SimDisk();
  for (const args of [[], ["frob"], ["verify"], ["verify", "--wal-dir"], ["verify", "--x", "1"]]) {
    const c = capture();
    assert.equal(await runWalUtil(args, { ...c.io, disk }), 2, args.join(" "));
    assert.match(c.err.join("\n"), /usage: concord util wal/);
  }
  const c = capture();
  assert.equal(await runWalUtil(["verify", "--wal-dir", "/none"], { ...c.io, disk }), 1);
  assert.match(c.err.join("\n"), /no WAL directory in \/none/);
});
