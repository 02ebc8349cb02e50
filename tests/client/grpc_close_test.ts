/**
 * The gRPC transport's close() against members that never answer: a listener that accepts
 * TCP and then says nothing (what a SIGSTOPped member looks like, its kernel still completing
 * handshakes). close() must end at once whatever the member does, without waiting out a
 * connect in flight, and leave no connection behind (the sanitizers check).
 */
import assert from "node:assert/strict";
import { Client } from "../../lib/client/mod.ts";
import { grpcTransport } from "../../lib/client/grpc_transport.ts";

/**
 * Accepts connections and never writes a byte; reads only to see each one end, counting the
 * connections open at once. `close` drops them all.
 */
function silentListener() {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const draining: Promise<void>[] = [];
  let open = 0;
  let maxOpen = 0;
  const drain = async (c: Deno.Conn) => {
    const buf = new Uint8Array(4096);
    try {
      while (await c.read(buf) !== null) { /* the client's preface: ignored */ }
    } catch {
      // closed by close() below
    }
    open--;
  };
  const accepting = (async () => {
    for await (const c of l) {
      conns.push(c);
      maxOpen = Math.max(maxOpen, ++open);
      draining.push(drain(c));
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(l.addr as Deno.NetAddr).port}`,
    accepted: () => conns.length,
    maxOpen: () => maxOpen,
    async close() {
      l.close();
      await accepting;
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      await Promise.all(draining);
    },
  };
}

/** Resolves once `cond` holds, polling; throws after `ms`. */
async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** How long `p` took, or Infinity if it had not settled within `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<number> {
  const t0 = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<number>((r) => timer = setTimeout(() => r(Infinity), ms));
  const took = await Promise.race([p.then(() => performance.now() - t0), late]);
  clearTimeout(timer);
  return took;
}

Deno.test("grpc transport: close() during a connect to a member that never answers ends at once", async () => {
  const member = silentListener();
  // a connect timeout far past the bound below: close must not wait it out
  const client = new Client({
    endpoints: [member.url],
    transport: grpcTransport({ connectTimeoutMs: 60_000 }),
  });
  try {
    const call = client.get("k", { timeoutMs: 60_000 }).then(() => undefined, (e) => e);
    await waitFor("the client's connection", () => member.accepted() > 0);
    const took = await within(client.close(), 3000);
    assert.ok(took < 3000, `close() took ${took} ms with a connect in flight`);
    const err = await call;
    assert.ok(err instanceof Error, "the call failed once the client closed");
  } finally {
    await client.close();
    await member.close();
  }
});

Deno.test("grpc transport: calls waiting on a connect that fails share it; close() leaves no connect behind", async () => {
  const member = silentListener();
  const client = new Client({
    endpoints: [member.url],
    transport: grpcTransport({ connectTimeoutMs: 300 }),
  });
  try {
    // a burst of calls on a member that never answers: after the first connect timed out,
    // each waiter started a connect of its own, and close() awaited only the last
    const calls = Array.from(
      { length: 10 },
      () => client.get("k", { timeoutMs: 60_000 }).then(() => undefined, (e) => e),
    );
    await waitFor("a connect after the first one failed", () => member.accepted() >= 2);
    // one connect at a time (two while the listener has yet to see the last one end)
    assert.ok(member.maxOpen() <= 2, `${member.maxOpen()} connects at once`);
    const took = await within(client.close(), 3000);
    assert.ok(took < 3000, `close() took ${took} ms`);
    for (const err of await Promise.all(calls)) assert.ok(err instanceof Error);
    // every connect ended with close(): none is accepted later
    const n = member.accepted();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(member.accepted(), n, "a connect started after close()");
  } finally {
    await client.close();
    await member.close();
  }
});
