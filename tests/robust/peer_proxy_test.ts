/**
 * The peer proxy against a plain TCP echo server: this test's process is "member 0" (told
 * from /proc, as members are), the echo server is "member 1"; bytes pass, are delayed, held
 * by a blackhole until healed, dropped, and connections are cut and refused until healed.
 */
import assert from "node:assert/strict";
import { PeerProxy } from "./peer_proxy.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** An echo server on a free port; `close` stops it and its connections. */
function echoServer(): { port: number; close: () => Promise<void> } {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const tasks: Promise<void>[] = [];
  const loop = (async () => {
    for await (const c of l) {
      conns.add(c);
      tasks.push(c.readable.pipeTo(c.writable).catch(() => {}).finally(() => conns.delete(c)));
    }
  })().catch(() => {});
  return {
    port: l.addr.port,
    close: async () => {
      l.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
      await loop;
      await Promise.all(tasks);
    },
  };
}

/** A read left pending by a timeout, per connection, so its bytes are not lost. */
const pending = new WeakMap<Deno.Conn, Promise<Uint8Array | null>>();

/** Reads until `want` bytes came, the connection ended (null), or `ms` passed ("timeout"). */
async function readText(
  c: Deno.Conn,
  want: number,
  ms: number,
): Promise<string | null | "timeout"> {
  let got = "";
  const deadline = Date.now() + ms;
  while (got.length < want) {
    let read = pending.get(c);
    if (read === undefined) {
      const buf = new Uint8Array(1024);
      read = c.read(buf).then((n) => n === null ? null : buf.subarray(0, n), () => null);
      pending.set(c, read);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      read,
      new Promise<"timeout">((res) =>
        timer = setTimeout(() => res("timeout"), deadline - Date.now())
      ),
    ]);
    clearTimeout(timer);
    if (r === "timeout") return got === "" ? "timeout" : got;
    pending.delete(c);
    if (r === null) return got === "" ? null : got;
    got += dec.decode(r);
  }
  return got;
}

async function withProxy(fn: (p: PeerProxy, dial: () => Promise<Deno.Conn>) => Promise<void>) {
  const echo = echoServer();
  const unused = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const proxy = new PeerProxy({
    targets: [unused.addr.port, echo.port],
    pids: () => [Deno.pid, undefined],
  });
  const dialed: Deno.Conn[] = [];
  try {
    await fn(proxy, async () => {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: proxy.ports[1] });
      dialed.push(c);
      return c;
    });
  } finally {
    for (const c of dialed) {
      try {
        c.close();
      } catch {
        // closed by the proxy
      }
    }
    await proxy.close();
    await echo.close();
    unused.close();
  }
}

Deno.test("peer proxy: passes bytes both ways and tells which member dialed", async () => {
  await withProxy(async (proxy, dial) => {
    const c = await dial();
    await c.write(enc.encode("hello"));
    assert.equal(await readText(c, 5, 5000), "hello");
    assert.equal(proxy.connections, 1);
    assert.equal(
      proxy.unidentified + proxy.gone,
      0,
      "the dialer (this process) was not found in /proc",
    );
  });
});

Deno.test("peer proxy: delays one direction by the link's delay", async () => {
  await withProxy(async (proxy, dial) => {
    const c = await dial();
    proxy.set(1, 0, { kind: "delay", ms: 300 });
    const t0 = performance.now();
    await c.write(enc.encode("slow"));
    assert.equal(await readText(c, 4, 5000), "slow");
    const took = performance.now() - t0;
    assert.ok(took >= 295, `echo came back in ${took.toFixed(0)} ms, not delayed`);
    proxy.heal();
  });
});

Deno.test("peer proxy: a blackhole holds the bytes until healed, then they flow", async () => {
  await withProxy(async (proxy, dial) => {
    const c = await dial();
    proxy.set(0, 1, { kind: "blackhole" });
    await c.write(enc.encode("held"));
    assert.equal(await readText(c, 4, 400), "timeout", "bytes passed a blackhole");
    proxy.heal();
    assert.equal(await readText(c, 4, 5000), "held");
  });
});

Deno.test("peer proxy: dropped bytes are lost, later ones pass once healed", async () => {
  await withProxy(async (proxy, dial) => {
    const c = await dial();
    await c.write(enc.encode("a"));
    assert.equal(await readText(c, 1, 5000), "a");
    proxy.set(1, 0, { kind: "drop" });
    await c.write(enc.encode("b"));
    assert.equal(await readText(c, 1, 400), "timeout", "bytes passed a drop");
    proxy.heal();
    await c.write(enc.encode("c"));
    assert.equal(await readText(c, 1, 5000), "c");
  });
});

Deno.test("peer proxy: a cut closes the link's connections and refuses new ones until healed", async () => {
  await withProxy(async (proxy, dial) => {
    const c = await dial();
    await c.write(enc.encode("x"));
    assert.equal(await readText(c, 1, 5000), "x");
    proxy.cut(1, 0);
    assert.equal(await readText(c, 1, 5000), null, "the cut connection stayed open");
    const refused = await dial();
    assert.equal(await readText(refused, 1, 5000), null, "a new connection was accepted");
    proxy.heal();
    const again = await dial();
    await again.write(enc.encode("y"));
    assert.equal(await readText(again, 1, 5000), "y");
  });
});
