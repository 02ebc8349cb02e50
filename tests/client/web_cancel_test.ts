/**
 * Cancelling over gRPC-web (fetch) ends the stream on both sides: the reader stops at once
 * and the member drops the watch. Deno's fetch alone does not do it once the fetch's Request
 * and Response objects are garbage collected (lib/client/fetch_abort.ts): each test makes
 * garbage before aborting, so that a collection runs in between, and does it ten times
 * (without the fix, on Deno 2.9.6, the first abort already hung in 4 runs of 4; with 1 MB
 * of garbage instead of 16, 3 runs in 4 hung by the fifth).
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { Client, GrpcCode } from "../../lib/client/mod.ts";
import { webTransport } from "../../lib/client/transport.ts";
import { toEtcdError } from "../../lib/client/errors.ts";
import { Watch as WatchService } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { startTestServer, type TestServer, waitFor } from "../server/harness.ts";
import { makeGarbage, within } from "./abort_helpers.ts";

const ROUNDS = 10;

/** A watch stream's requests as fetch sends them: one create request. */
async function* createRequest() {
  yield {
    requestUnion: { case: "createRequest" as const, value: { key: new TextEncoder().encode("k") } },
  };
}

/** Waits until the member serves no watch stream. */
function noStreams(s: TestServer, what: string): Promise<void> {
  return waitFor(what, () => Promise.resolve(s.server.member.hub.streamCount === 0), 5000);
}

Deno.test("gRPC-web: an aborted watch stream fails its pending read and leaves the member", async () => {
  const s = await startTestServer();
  const t = webTransport(s.url);
  try {
    const watch = createClient(WatchService, t.transport).watch;
    for (let i = 0; i < ROUNDS; i++) {
      const ac = new AbortController();
      const it = watch(createRequest(), { signal: ac.signal })[Symbol.asyncIterator]();
      const created = await it.next();
      assert.equal(created.done, false);
      assert.equal(created.value.created, true);
      assert.equal(s.server.member.hub.streamCount, 1);
      const pending = it.next();
      await new Promise((r) => setTimeout(r, 0)); // the read is under way
      makeGarbage();
      ac.abort();
      await within(
        pending.then(
          () => assert.fail("the aborted stream delivered a response"),
          (e) => assert.equal(toEtcdError(e).code, GrpcCode.Canceled),
        ),
        5000,
        `round ${i}: the aborted read's failure`,
      );
      await noStreams(s, `round ${i}: the member dropping the aborted watch`);
    }
  } finally {
    await t.close();
    await s.close();
  }
});

Deno.test("gRPC-web: a cancelled Watch ends its iteration and the member drops it", async () => {
  const s = await startTestServer();
  const c = new Client({ endpoints: [s.url], transport: webTransport });
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const w = c.watch(`k${i}`);
      await w.ready;
      assert.equal(s.server.member.hub.streamCount, 1);
      const ended = (async () => {
        for await (const _ of w) assert.fail("no event expected");
      })();
      await new Promise((r) => setTimeout(r, 0)); // the stream's read is under way
      makeGarbage();
      w.cancel();
      await within(ended, 5000, `round ${i}: the iteration's end`);
      await noStreams(s, `round ${i}: the member dropping the cancelled watch`);
    }
  } finally {
    await c.close();
    await s.close();
  }
});
