// A member whose disk fills (docs/testing.md, finding 8): the backend commit that cannot be
// made durable fails the member with its error, as etcd exits on a failed bbolt commit. The
// member stops serving, says why through `failure` and `failed` (what `concord serve` exits
// on), and the process goes on: before, the commit's rejection was unhandled and ended it.
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { defaultConfig } from "../../lib/server/config.ts";
import { Member } from "../../lib/server/member.ts";
import { RequestKind } from "../../lib/server/request.ts";
import { Errors } from "../../lib/base/errors.ts";
import { PutRequestSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";

const enc = new TextEncoder();

function put(key: string, value: string) {
  return {
    kind: RequestKind.Put as const,
    req: create(PutRequestSchema, { key: enc.encode(key), value: enc.encode(value) }),
  };
}

Deno.test("member on a full disk: a failed backend commit fails the member with its error", async () => {
  const disk = new SimDisk();
  await disk.mkdirAll("/sim");
  const cfg = defaultConfig("full");
  cfg.dataDir = "/sim/data";
  cfg.backendBatchIntervalMs = 100;
  const clock = new SimClock();
  const m = await Member.start(cfg, {
    disk: disk.process(),
    clock,
    log: () => {},
    walSegmentBytes: 256 * 1024, // (64 MiB segments would be 64 MiB buffers here)
  });
  await m.ready;
  for (let i = 0; i < 20; i++) await m.propose(put(`k${i}`, "v".repeat(100)));
  clock.advance(100); // the batch reaches the page file
  await m.backend.commit();
  // the WAL's segment is preallocated: what fills now is the page file as it grows
  disk.capacity = 0;
  disk.capacity = -disk.room() + 1024;
  for (let i = 0; i < 50; i++) await m.propose(put(`big${i}`, "x".repeat(1000)));
  // the background commit (every 100 ms) fails; nobody awaits it
  for (let i = 0; i < 100 && m.failure === null; i++) {
    clock.advance(10);
    await new Promise((r) => setTimeout(r, 0));
  }
  assert.notEqual(m.failure, null, "the member failed");
  const err = await m.failed;
  assert.equal(err, m.failure);
  assert.match(String((err as Error).message), /commit of transaction \d+ failed/);
  assert.match(String((err as Error).cause), /no space left on device/);
  await assert.rejects(
    m.propose(put("after", "1")),
    (e) => Errors.stopped().message === (e as Error).message,
  );
  await m.stop(); // the failure was reported; stopping releases the rest without throwing it
});
