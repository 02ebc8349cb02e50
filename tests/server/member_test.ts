import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { defaultConfig } from "../../lib/server/config.ts";
import { DataDirLockedError, Member } from "../../lib/server/member.ts";
import { RequestKind } from "../../lib/server/request.ts";
import { PutRequestSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { applyRange } from "../../lib/mvcc/applier.ts";

const enc = new TextEncoder();

function config(dir: string) {
  const cfg = defaultConfig("t");
  cfg.dataDir = dir;
  cfg.backendBatchIntervalMs = 10;
  return cfg;
}

Deno.test("member: boots a cluster of one, applies puts through raft, replays after restart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let m = await Member.start(config(dir));
    await m.ready;
    assert.ok(m.isLeader);
    const revs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const a = await m.propose({
        kind: RequestKind.Put,
        req: create(PutRequestSchema, { key: enc.encode(`k${i}`), value: enc.encode(`v${i}`) }),
      });
      assert.equal(a.kind, "put");
      if (a.kind === "put") revs.push(a.r.header.revision);
    }
    assert.deepEqual(revs, [2, 3, 4, 5, 6]);
    await m.linearizableRead();
    const id = m.id;
    const applied = m.appliedIndex;
    await m.stop();
    m = await Member.start(config(dir));
    await m.ready;
    assert.equal(m.id, id);
    assert.ok(m.appliedIndex >= applied);
    const r = applyRange(m.store, { key: enc.encode("k"), rangeEnd: enc.encode("l") });
    assert.equal(r.count, 5);
    assert.equal(r.header.revision, 6);
    assert.equal(r.kvs[4].modRevision, 6);
    await m.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("member: a second member on the same data dir gets a clear error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = await Member.start(config(dir));
    await assert.rejects(
      () => Member.start(config(dir)),
      (e: unknown) =>
        e instanceof DataDirLockedError && /is in use by another member/.test(e.message),
    );
    await m.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
