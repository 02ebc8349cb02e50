/**
 * The HTTP/2 client against Concord's own server: backpressure both ways (a streamed request
 * body under a small server window, a large response read slowly under a small client
 * window), requests beyond MAX_CONCURRENT_STREAMS waiting for a slot, long-lived gRPC streams
 * in both directions, abort, and PING.
 */
import assert from "node:assert/strict";
import type { UniversalHandlerFn, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { ErrorCode } from "../../lib/http/frame.ts";
import { H2ClientSession, type H2Response, H2StreamError } from "../../lib/http/h2_client.ts";
import { type HttpLimits, type HttpServer, serveHttp } from "../../lib/http/server.ts";
import { echoHandler } from "./echo_service.ts";
import { waitFor } from "./test_server.ts";

const te = new TextEncoder();
const td = new TextDecoder();

async function bodyOf(r: H2Response): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of r.body) parts.push(c);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A gate the test opens; handlers wait on it. */
function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => open = r);
  return { wait, open };
}

async function* once(b: Uint8Array): AsyncIterable<Uint8Array> {
  yield b;
}

/** Does `p` settle within `ms`? (Used only to show that something stays pending.) */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let t: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((r) => t = setTimeout(() => r(false), ms));
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(t);
  }
}

interface Fixture {
  server: HttpServer;
  session: H2ClientSession;
}

async function withSession(
  handler: UniversalHandlerFn,
  limits: Partial<HttpLimits>,
  fn: (f: Fixture) => Promise<void>,
  streamWindow?: number,
): Promise<void> {
  const server = await serveHttp({ handler, limits });
  try {
    const session = await H2ClientSession.connect({
      url: `http://127.0.0.1:${server.port}`,
      streamWindow,
    });
    try {
      await fn({ server, session });
    } finally {
      await session.close();
    }
  } finally {
    await server.close();
  }
}

Deno.test("h2 client: a streamed request body waits for the server's window (backpressure)", async () => {
  const g = gate();
  let received = 0;
  let sum = 0;
  const handler: UniversalHandlerFn = async (req: UniversalServerRequest) => {
    await g.wait; // read nothing until the test opens the gate
    for await (const c of req.body as AsyncIterable<Uint8Array>) {
      for (const b of c) sum = (sum + b) % 1_000_003;
      received += c.length;
    }
    return { status: 200, body: once(te.encode(String(received))) };
  };
  // 16 KiB stream window, connection window left at 64 KiB.
  await withSession(
    handler,
    { streamWindow: 16384, connectionWindow: 65535 },
    async ({ session }) => {
      const st = session.request({ method: "POST", path: "/sink", body: "stream" });
      const chunk = 4096;
      const total = 1024 * 1024;
      let resolved = 0;
      let expectSum = 0;
      const writes: Promise<void>[] = [];
      for (let off = 0; off < total; off += chunk) {
        const b = new Uint8Array(chunk);
        for (let i = 0; i < chunk; i++) b[i] = (off + i * 13) & 0xff;
        for (const x of b) expectSum = (expectSum + x) % 1_000_003;
        writes.push(st.write(b).then(() => void resolved++));
      }
      // Exactly the window's worth is handed over; the rest waits.
      await waitFor(() => resolved === 16384 / chunk, "the first window's writes");
      assert.equal(
        await settlesWithin(writes[16384 / chunk], 100),
        false,
        "write beyond the window",
      );
      assert.equal(resolved, 16384 / chunk);
      g.open();
      await Promise.all(writes);
      st.end();
      const r = await st.response;
      assert.equal(td.decode(await bodyOf(r)), String(total));
      assert.equal(received, total);
      assert.equal(sum, expectSum);
    },
  );
});

Deno.test("h2 client: a large response read slowly is held back by the client's window", async () => {
  let produced = 0;
  const piece = 16384;
  const pieces = 256; // 4 MiB
  const handler: UniversalHandlerFn = () =>
    Promise.resolve({
      status: 200,
      body: (async function* () {
        for (let i = 0; i < pieces; i++) {
          produced++;
          yield new Uint8Array(piece).fill(i & 0xff);
        }
      })(),
      trailer: new Headers({ "x-done": "yes" }),
    });
  const window = 65536;
  await withSession(handler, {}, async ({ session }) => {
    const r = await session.request({ method: "GET", path: "/big" }).response;
    const it = r.body[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.done, false);
    // Unread, the server can get at most the window (and what it buffers itself) ahead.
    await waitFor(() => produced * piece >= window, "the server to fill the window");
    await settlesWithin(new Promise(() => {}), 100);
    assert.ok(produced * piece <= window + 8 * piece, `produced ${produced} pieces while unread`);
    // Read the rest slowly: every byte arrives, in order.
    let n = (first.value as Uint8Array).length;
    let i = 0;
    for (;;) {
      const c = await it.next();
      if (c.done) break;
      for (let k = 0; k < c.value.length; k += 4096) {
        assert.equal(c.value[k], Math.floor((n + k) / piece) & 0xff);
      }
      n += c.value.length;
      if (++i % 64 === 0) await new Promise((res) => setTimeout(res, 1));
    }
    assert.equal(n, piece * pieces);
    assert.deepEqual(await r.trailers, [["x-done", "yes"]]);
  }, window);
});

Deno.test("h2 client: requests beyond MAX_CONCURRENT_STREAMS wait for a slot instead of failing", async () => {
  const g = gate();
  let inside = 0;
  let most = 0;
  let served = 0;
  const handler: UniversalHandlerFn = async () => {
    inside++;
    most = Math.max(most, inside);
    await g.wait;
    inside--;
    served++;
    return { status: 200, body: once(te.encode(String(served))) };
  };
  await withSession(handler, { maxConcurrentStreams: 4 }, async ({ session }) => {
    const streams = Array.from(
      { length: 40 },
      () => session.request({ method: "GET", path: "/x" }),
    );
    await waitFor(() => inside === 4, "4 requests at the server");
    assert.equal(session.activeStreams, 40);
    assert.deepEqual(streams.map((s) => s.id).filter((id) => id !== 0), [1, 3, 5, 7]);
    g.open();
    const bodies = await Promise.all(streams.map(async (s) => bodyOf(await s.response)));
    assert.equal(bodies.length, 40);
    assert.equal(served, 40);
    assert.equal(most, 4);
    assert.equal(session.activeStreams, 0);
  });
});

Deno.test("h2 client: long-lived gRPC streams: client streaming with write()/end(), server streaming", async () => {
  await withSession(echoHandler(), {}, async ({ session }) => {
    const grpc: [string, string][] = [["content-type", "application/grpc"], ["te", "trailers"]];
    const msg = (v: string) => {
      const s = te.encode(v);
      const out = new Uint8Array(7 + s.length);
      out[4] = 2 + s.length;
      out[5] = 0x0a;
      out[6] = s.length;
      out.set(s, 7);
      return out;
    };
    const up = session.request({
      method: "POST",
      path: "/test.Echo/Collect",
      headers: grpc,
      body: "stream",
    });
    for (const w of ["a", "bb", "ccc"]) await up.write(msg(w));
    up.end();
    const r = await up.response;
    assert.deepEqual(await bodyOf(r), msg("a|bb|ccc"));
    assert.equal(new Map(await r.trailers).get("grpc-status"), "0");

    const down = session.request({
      method: "POST",
      path: "/test.Echo/Count",
      headers: grpc,
      body: msg("5,2"),
    });
    const dr = await down.response;
    const got = await bodyOf(dr);
    const want = [0, 1, 2, 3, 4].map((i) => msg(String(i)));
    assert.deepEqual(got, new Uint8Array(want.flatMap((m) => [...m])));
    assert.equal(new Map(await dr.trailers).get("grpc-status"), "0");
  });
});

Deno.test("h2 client: an AbortSignal resets the stream and the server's handler sees the cancel", async () => {
  let entered = 0;
  let aborted = 0;
  const handler: UniversalHandlerFn = async (req) => {
    entered++;
    await new Promise<void>((resolve) => {
      if (req.signal.aborted) resolve();
      req.signal.addEventListener("abort", () => resolve());
    });
    aborted++;
    return { status: 200 };
  };
  await withSession(handler, {}, async ({ session }) => {
    const ac = new AbortController();
    const st = session.request({
      method: "POST",
      path: "/hang",
      body: "stream",
      signal: ac.signal,
    });
    await st.write(te.encode("some"));
    await waitFor(() => entered === 1, "the handler to start");
    ac.abort(new Error("test gave up"));
    const e = await st.response.then(() => null, (x) => x);
    assert.ok(e instanceof H2StreamError, String(e));
    assert.equal(e.code, ErrorCode.CANCEL);
    assert.equal(e.retryable, false);
    await assert.rejects(st.write(te.encode("more")), H2StreamError);
    await waitFor(() => aborted === 1, "the server to see the cancel");
    assert.equal(session.activeStreams, 0);
    // Aborted before the request starts: nothing is sent at all.
    const pre = session.request({ method: "GET", path: "/hang", signal: AbortSignal.abort() });
    await assert.rejects(pre.response, H2StreamError);
    assert.equal(pre.id, 0);
    // The connection is still fine.
    assert.ok((await session.ping()) >= 0);
    assert.equal(entered, 1);
  });
});

Deno.test("h2 client: breaking out of a response body resets the stream", async () => {
  let aborted = 0;
  const handler: UniversalHandlerFn = (req) => {
    req.signal.addEventListener("abort", () => aborted++);
    return Promise.resolve({
      status: 200,
      body: (async function* () {
        for (let i = 0;; i++) {
          yield new Uint8Array(1000).fill(i & 0xff);
          await new Promise((r) => setTimeout(r, 2));
          if (req.signal.aborted) return;
        }
      })(),
    });
  };
  await withSession(handler, {}, async ({ session }) => {
    const r = await session.request({ method: "GET", path: "/endless" }).response;
    let n = 0;
    for await (const c of r.body) {
      n += c.length;
      if (n >= 5000) break;
    }
    await waitFor(() => aborted === 1, "the server to see the reset");
    await assert.rejects(r.trailers, H2StreamError);
    assert.throws(() => r.body[Symbol.asyncIterator](), TypeError);
  });
});

Deno.test("h2 client: our server's close() mid-request: GOAWAY, the request finishes, new ones are refused", async () => {
  const g = gate();
  let entered = 0;
  const handler: UniversalHandlerFn = async () => {
    entered++;
    await g.wait;
    return { status: 200, body: once(te.encode("finished")) };
  };
  const server = await serveHttp({ handler });
  const session = await H2ClientSession.connect({ url: `http://127.0.0.1:${server.port}` });
  try {
    const st = session.request({ method: "GET", path: "/slow" });
    await waitFor(() => entered === 1, "the request at the server");
    const closing = server.close();
    await waitFor(() => !session.available, "the client to see GOAWAY");
    const e = (() => {
      try {
        session.request({ method: "GET", path: "/late" });
      } catch (x) {
        return x;
      }
    })();
    assert.ok(e instanceof H2StreamError && e.retryable, String(e));
    g.open();
    assert.equal(td.decode(await bodyOf(await st.response)), "finished");
    const why = await session.closed;
    assert.ok(why instanceof Error, String(why));
    await closing;
  } finally {
    session.destroy();
    await server.close();
  }
});

Deno.test("h2 client: an answer that comes before the request body ends: writes stop at the server's reset", async () => {
  // The handler answers at once without reading; the server drops the rest of the body for a
  // while, then resets the stream.
  const handler: UniversalHandlerFn = () =>
    Promise.resolve({ status: 403, body: once(te.encode("no")) });
  await withSession(handler, {}, async ({ session }) => {
    const st = session.request({ method: "POST", path: "/refuse", body: "stream" });
    const r = await st.response;
    assert.equal(r.status, 403);
    assert.equal(td.decode(await bodyOf(r)), "no");
    assert.deepEqual(await r.trailers, []);
    let stoppedBy: unknown;
    for (let i = 0; i < 10_000; i++) {
      try {
        await st.write(new Uint8Array(16384));
      } catch (e) {
        stoppedBy = e;
        break;
      }
    }
    assert.ok(stoppedBy instanceof H2StreamError, String(stoppedBy));
    // NO_ERROR after the server's linger: until then the server drops what it no longer
    // expects, it does not refuse it as DATA after END_STREAM (STREAM_CLOSED)
    assert.equal(stoppedBy.code, ErrorCode.NO_ERROR, stoppedBy.message);
    assert.equal(session.activeStreams, 0);
    // Ending a stream whose answer is complete just closes it.
    const st2 = session.request({ method: "POST", path: "/refuse", body: "stream" });
    assert.equal((await st2.response).status, 403);
    // DATA after the answer, then a round trip (the server's answer to that DATA, if any,
    // comes before the PING's ACK): a next write is not refused with STREAM_CLOSED (a gRPC
    // client failed the call with "write ECANCELED" before it read the answer's status); a
    // reset after the linger (100 ms, a loaded machine) is NO_ERROR
    await st2.write(new Uint8Array(16384));
    await session.ping();
    const late = await st2.write(new Uint8Array(16384)).then(() => undefined, (e: unknown) => e);
    if (late !== undefined) {
      assert.ok(late instanceof H2StreamError, String(late));
      assert.equal(late.code, ErrorCode.NO_ERROR, late.message);
    }
    st2.end();
    await waitFor(() => session.activeStreams === 0, "the stream to close");
    assert.ok((await session.ping()) >= 0);
  });
});

/**
 * A bidirectional stream that answers every second request chunk with both: the pattern that
 * Nagle's algorithm stalls (the second small write waits for the ACK of the first, which the
 * server delays, having nothing to send yet).
 */
const pairEcho: UniversalHandlerFn = (req) =>
  Promise.resolve({
    status: 200,
    body: (async function* () {
      let held: Uint8Array | undefined;
      for await (const c of req.body as AsyncIterable<Uint8Array>) {
        if (held === undefined) held = c.slice();
        else {
          const both = new Uint8Array(held.length + c.length);
          both.set(held);
          both.set(c, held.length);
          held = undefined;
          yield both;
        }
      }
    })(),
    trailer: new Headers({ "x-end": "1" }),
  });

Deno.test("h2 client: a bidirectional stream exchanges 100 message pairs without Nagle stalls", async () => {
  await withSession(pairEcho, {}, async ({ session }) => {
    const st = session.request({ method: "POST", path: "/bidi", body: "stream" });
    const rounds = 100;
    let it: AsyncIterator<Uint8Array> | undefined;
    let r: H2Response | undefined;
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      await st.write(te.encode(`a${i}`));
      await new Promise((res) => setTimeout(res, 0)); // two separate socket writes
      await st.write(te.encode(`b${i}`));
      r ??= await st.response;
      it ??= r.body[Symbol.asyncIterator]();
      const got = await it.next();
      assert.equal(td.decode(got.value), `a${i}b${i}`);
      times.push(performance.now() - t0);
    }
    // Nagle with delayed ACKs costs about 40 ms a round; without, the median is a few ms even
    // on a loaded machine.
    const median = times.sort((x, y) => x - y)[rounds >> 1];
    assert.ok(median < 32, `median round ${median.toFixed(1)} ms`);
    st.end();
    assert.equal((await it!.next()).done, true);
    assert.deepEqual(await r!.trailers, [["x-end", "1"]]);
  });
});

Deno.test("h2 client: requests racing the server's close(): a retryable failure was never processed", async () => {
  const processed = new Set<string>();
  let closing: Promise<void> | undefined;
  const started: { server?: HttpServer } = {};
  const handler: UniversalHandlerFn = async (req) => {
    const id = req.header.get("x-req") ?? "?";
    processed.add(id);
    // Close while about 20 requests are in flight and more keep coming.
    if (processed.size === 60) closing = started.server!.close();
    await new Promise((r) => setTimeout(r, 1));
    return { status: 200, body: once(te.encode(id)) };
  };
  const server = await serveHttp({ handler, limits: { maxConcurrentStreams: 16 } });
  started.server = server;
  const session = await H2ClientSession.connect({ url: `http://127.0.0.1:${server.port}` });
  try {
    const outcomes = new Map<string, "ok" | "retryable" | "failed">();
    let next = 0;
    await Promise.all(Array.from({ length: 20 }, async () => {
      while (next < 300) {
        const id = String(next++);
        try {
          const r = await session.request({ method: "GET", path: "/x", headers: [["x-req", id]] })
            .response;
          assert.equal(td.decode(await bodyOf(r)), id);
          outcomes.set(id, "ok");
        } catch (e) {
          assert.ok(e instanceof H2StreamError, String(e));
          outcomes.set(id, e.retryable ? "retryable" : "failed");
        }
      }
    }));
    await closing;
    const count = (k: string) => [...outcomes.values()].filter((v) => v === k).length;
    assert.equal(outcomes.size, 300);
    assert.ok(count("ok") >= 60 && count("retryable") > 0, `${count("ok")} ok`);
    for (const [id, o] of outcomes) {
      if (o === "ok") assert.ok(processed.has(id), `request ${id} answered but not processed`);
      if (o === "retryable") assert.ok(!processed.has(id), `retryable request ${id} was processed`);
    }
    assert.ok(await session.closed instanceof Error);
  } finally {
    session.destroy();
    await server.close();
  }
});

Deno.test("h2 client: ping() measures a round trip", async () => {
  await withSession(echoHandler(), {}, async ({ session }) => {
    const rtts = await Promise.all([session.ping(), session.ping(), session.ping()]);
    for (const rtt of rtts) {
      assert.equal(typeof rtt, "number");
      assert.ok(rtt >= 0 && rtt < 1000, `rtt ${rtt}`);
    }
  });
});
