import assert from "node:assert/strict";
import * as concord from "../mod.ts";

Deno.test("mod.ts: an embedder can open a store on a simulated disk and use it", async () => {
  const disk = new concord.SimDisk();
  await disk.mkdirAll("/data");
  const backend = await concord.backend.openBackend(disk, "/data/db", {
    clock: new concord.SimClock(),
  });
  const store = concord.MvccStore.open(backend);
  const enc = new TextEncoder();
  concord.mvcc.applyPut(store, { key: enc.encode("k"), value: enc.encode("v") });
  const got = concord.mvcc.applyRange(store, { key: enc.encode("k") });
  assert.equal(new TextDecoder().decode(got.kvs[0].value), "v");
  assert.equal(got.header.revision, 2);
  await store.close();
  await backend.close();
  assert.equal(typeof concord.raft.RawNode, "function");
  assert.equal(typeof concord.serveHttp, "function");
  assert.equal(typeof concord.createApiHandler, "function");
});
