/**
 * The HTTP/2 client against a peer that froze part way (a SIGSTOPped member: its kernel
 * still takes connections and buffers bytes, the process answers nothing): every wait in
 * connect() ends on its timeout, and a session ends (`closed`) on destroy() or close() even
 * with a write stuck on a full socket.
 */
import assert from "node:assert/strict";
import { H2ClientSession } from "../../lib/http/h2_client.ts";

// SETTINGS {INITIAL_WINDOW_SIZE: 2^31-1}, and a WINDOW_UPDATE opening the connection window
const SETTINGS_BIG_WINDOW = [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff];
const SETTINGS_ACK = [0, 0, 0, 4, 1, 0, 0, 0, 0];
const CONN_WINDOW_UPDATE = [0, 0, 4, 8, 0, 0, 0, 0, 0, 0x7f, 0, 0, 0];

/** A listener whose connections get `greeting` and are then never read. */
function frozenPeer(greeting: number[]) {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of l) {
      conns.push(c);
      if (greeting.length > 0) await c.write(new Uint8Array(greeting));
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(l.addr as Deno.NetAddr).port}`,
    async close() {
      l.close();
      await accepting;
      for (const c of conns) c.close();
    },
  };
}

/** How long `p` took to settle, or Infinity past `ms`. */
async function settleTime(p: Promise<unknown>, ms: number): Promise<number> {
  const t0 = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<number>((r) => timer = setTimeout(() => r(Infinity), ms));
  const took = await Promise.race([
    p.then(() => performance.now() - t0, () => performance.now() - t0),
    late,
  ]);
  clearTimeout(timer);
  return took;
}

Deno.test("h2 client frozen peer: SETTINGS sent, ours never acknowledged: connect ends on its timeout", async () => {
  const peer = frozenPeer(SETTINGS_BIG_WINDOW);
  try {
    const connecting = H2ClientSession.connect({ url: peer.url, connectTimeoutMs: 200 });
    const err = await connecting.then(() => undefined, (e) => e as Error);
    assert.match(err?.message ?? "connected", /longer than 200 ms/);
  } finally {
    await peer.close();
  }
});

for (const how of ["destroy", "close"] as const) {
  Deno.test(`h2 client frozen peer: ${how}() ends a session whose writes are stuck on a full socket`, async () => {
    const peer = frozenPeer([...SETTINGS_BIG_WINDOW, ...SETTINGS_ACK, ...CONN_WINDOW_UPDATE]);
    try {
      const s = await H2ClientSession.connect({ url: peer.url, connectTimeoutMs: 5000 });
      const st = s.request({ method: "POST", path: "/up", body: "stream" });
      const response = st.response.then(() => undefined, (e) => e);
      const chunk = new Uint8Array(1 << 20);
      // more than loopback's socket buffers take (a few MiB): the last writes stay pending
      const writes = Array.from(
        { length: 64 },
        () => st.write(chunk).then(() => true, () => false),
      );
      let settled = 0;
      for (const w of writes) w.then(() => settled++);
      const until = Date.now() + 5000;
      let last = -1;
      while (settled !== last) {
        if (Date.now() > until) break;
        last = settled;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(settled < writes.length, "every write went through to a peer that reads nothing");
      const ending = how === "destroy" ? (s.destroy(), s.closed) : s.close(100);
      const took = await settleTime(ending, 3000);
      assert.ok(took < 3000, `${how}() took ${took} ms with writes stuck`);
      const done = await Promise.all(writes);
      assert.ok(done.includes(false), "the stuck writes failed");
      assert.ok(await response instanceof Error);
    } finally {
      await peer.close();
    }
  });
}
