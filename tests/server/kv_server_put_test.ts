/**
 * KvServer.put's two paths: a put without credentials on a member without auth, within its
 * quota, is proposed in the call's synchronous step (docs/perf.md, "put-1000 tail, sixth
 * session"); anything else (a token, which is resolved even with auth off) goes through the
 * general path. Either way a failure is a rejected promise, never a throw.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Errors } from "../../lib/base/errors.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { NOBODY } from "../../lib/server/caller.ts";
import { defaultConfig } from "../../lib/server/config.ts";
import { KvServer } from "../../lib/server/kv_server.ts";
import { Member } from "../../lib/server/member.ts";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";

const enc = new TextEncoder();
const put = (key: string, value = "v") =>
  create(pb.PutRequestSchema, { key: enc.encode(key), value: enc.encode(value) });

Deno.test("KvServer.put: proposed at once without credentials; a token or bad input waits or fails as before", async () => {
  const cfg = defaultConfig("kvput");
  cfg.dataDir = "/kvput/member";
  const m = await Member.start(cfg, { log: () => {}, disk: new SimDisk().process() });
  try {
    await m.ready;
    // the member's own first proposals (its published attributes) are answered first
    const until = Date.now() + 10_000;
    while (m.proposalsPending > 0) {
      if (Date.now() > until) throw new Error("the member's own proposals did not finish");
      await new Promise((r) => setTimeout(r, 10));
    }
    const kv = new KvServer(m);
    // the fast path: the entry is proposed before put returns
    const first = kv.put(put("a"), NOBODY);
    first.catch(() => {}); // awaited below; kept from an unhandled rejection if a check fails first
    assert.equal(m.proposalsPending, 1, "proposed in the call's synchronous step");
    const second = kv.put(put("a", "w"), NOBODY);
    second.catch(() => {});
    assert.equal(m.proposalsPending, 2);
    const [r1, r2] = await Promise.all([first, second]);
    assert.ok(r1.header !== undefined && r2.header !== undefined);
    assert.equal(r2.header.revision, r1.header.revision + 1n, "answered in proposal order");
    assert.equal(m.proposalsPending, 0);

    // bad input: a rejected promise with etcd's error, nothing proposed
    let bad: Promise<pb.PutResponse> | undefined;
    assert.doesNotThrow(() => (bad = kv.put(put(""), NOBODY)));
    assert.equal(m.proposalsPending, 0);
    await assert.rejects(bad!, (e) => Errors.emptyKey.is(e));

    // a token goes the general path: resolved (and refused) even with auth off
    const withToken = kv.put(put("b"), { token: "bogus" });
    assert.equal(m.proposalsPending, 0, "not proposed before the token is resolved");
    await assert.rejects(withToken, (e) => Errors.invalidAuthToken.is(e));
    assert.equal(m.proposalsPending, 0);
  } finally {
    await m.stop();
  }
});
