/**
 * bodyFollowsSignal against a real fetch. The abort comes after enough garbage that V8
 * collects the fetch's Response first: Deno's fetch alone then loses the abort (see
 * fetch_abort.ts), so what the test sees is the wrapper's doing.
 */
import assert from "node:assert/strict";
import { bodyFollowsSignal } from "../../lib/client/fetch_abort.ts";
import { makeGarbage, within } from "./abort_helpers.ts";

/**
 * A Deno.serve server answering with `chunks`, then ending, or (`hold`) staying open until
 * `stop`, which ends what it still serves and shuts it down.
 */
function streamingServer(chunks: string[], hold: boolean) {
  let cancelled!: () => void;
  const cancel = new Promise<void>((r) => cancelled = r);
  const open = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    let ctrl!: ReadableStreamDefaultController<Uint8Array>;
    return new Response(
      new ReadableStream<Uint8Array>({
        start(c) {
          ctrl = c;
          for (const s of chunks) c.enqueue(new TextEncoder().encode(s));
          if (hold) open.add(c);
          else c.close();
        },
        cancel() {
          open.delete(ctrl);
          cancelled();
        },
      }),
    );
  });
  async function stop() {
    for (const c of open) c.close();
    await server.shutdown();
  }
  return { url: `http://127.0.0.1:${server.addr.port}/`, stop, cancel };
}

Deno.test("bodyFollowsSignal: an abort fails the pending read with its reason and ends the response", async () => {
  const s = streamingServer(["first"], true);
  try {
    const ac = new AbortController();
    const reader = bodyFollowsSignal(await fetch(s.url, { signal: ac.signal }), ac.signal)
      .body!.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), "first");
    const pending = reader.read();
    await new Promise((r) => setTimeout(r, 0)); // the read is under way
    makeGarbage();
    const reason = new Error("cancelled by the test");
    ac.abort(reason);
    await within(
      pending.then(() => assert.fail("the aborted body delivered"), (e) => assert.equal(e, reason)),
      2000,
      "the pending read's failure",
    );
    // the fetch's own body was cancelled: the connection closed, the server saw it go
    await within(s.cancel, 5000, "the server's response being cancelled");
  } finally {
    await s.stop();
  }
});

Deno.test("bodyFollowsSignal: a body that ends is passed whole; a later abort changes nothing", async () => {
  const s = streamingServer(["a", "b", "c"], false);
  try {
    const ac = new AbortController();
    const res = bodyFollowsSignal(await fetch(s.url, { signal: ac.signal }), ac.signal);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "abc");
    ac.abort();
  } finally {
    await s.stop();
  }
});

Deno.test("bodyFollowsSignal: an already aborted signal fails the body at once; no signal, no change", async () => {
  const reason = new Error("gone before");
  const failed = bodyFollowsSignal(new Response("x"), AbortSignal.abort(reason));
  await assert.rejects(failed.text(), (e) => e === reason);
  const plain = new Response("y");
  assert.equal(bodyFollowsSignal(plain, undefined), plain);
  const empty = new Response(null);
  assert.equal(bodyFollowsSignal(empty, new AbortController().signal), empty);
});
