// A member whose page file is behind its newest raft snapshot, with no `<index>.snap.db` to
// recover from, refuses to start (docs/testing.md, finding 10): booting from the snapshot
// would skip the entries between the page file's consistent index and the snapshot's, and
// the member would diverge from the cluster. etcd fails the same way ("failed to find
// database snapshot file"). Before, the member started and silently lost those entries.
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { SimClock } from "../../lib/io/clock.ts";
import type { Disk } from "../../lib/io/disk.ts";
import { defaultConfig } from "../../lib/server/config.ts";
import { Member } from "../../lib/server/member.ts";
import { RequestKind } from "../../lib/server/request.ts";
import { PutRequestSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";

const enc = new TextEncoder();
const DB = "/sim/data/member/snap/db";

function put(key: string) {
  return {
    kind: RequestKind.Put as const,
    req: create(PutRequestSchema, { key: enc.encode(key), value: enc.encode("v") }),
  };
}

async function readAll(disk: Disk, path: string): Promise<Uint8Array> {
  const f = await disk.open(path);
  try {
    const buf = new Uint8Array(await f.size());
    await f.readAt(buf, 0);
    return buf;
  } finally {
    await f.close();
  }
}

async function writeAll(disk: Disk, path: string, data: Uint8Array): Promise<void> {
  const f = await disk.open(path);
  try {
    await f.truncate(0);
    await f.writeAt(data, 0);
    await f.sync();
  } finally {
    await f.close();
  }
}

Deno.test("member start: a page file behind the raft snapshot with no snapshot db is refused", async () => {
  const disk = new SimDisk();
  await disk.mkdirAll("/sim");
  const cfg = defaultConfig("behind");
  cfg.dataDir = "/sim/data";
  cfg.snapshotCount = 10;
  const opts = () => ({
    disk: disk.process(),
    clock: new SimClock(),
    log: () => {},
    walSegmentBytes: 256 * 1024,
  });
  let m = await Member.start(cfg, opts());
  await m.ready;
  for (let i = 0; i < 3; i++) await m.propose(put(`early${i}`));
  await m.backend.commit();
  await m.stop();
  const early = await readAll(disk, DB); // the page file at a low consistent index
  m = await Member.start(cfg, opts());
  await m.ready;
  for (let i = 0; i < 30; i++) await m.propose(put(`late${i}`));
  for (let i = 0; i < 100 && m.snapshotIndex === 0; i++) await new Promise((r) => setTimeout(r, 0));
  assert.ok(m.snapshotIndex > 10, `a raft snapshot was taken (at ${m.snapshotIndex})`);
  await m.stop();
  // the page file goes back to what it held before the snapshot's entries
  await writeAll(disk, DB, early);
  await assert.rejects(
    Member.start(cfg, opts()),
    /consistent index \d+ is behind the raft snapshot at \d+ and .*\.snap\.db is missing/,
  );
  // and it let go of its files: the data dir can be opened again (here: still refused)
  await assert.rejects(Member.start(cfg, opts()), /is behind the raft snapshot/);
});
