/**
 * The HTTP/2 client (lib/http/h2_client.ts) against Concord's own server: unary requests with
 * bodies and trailers, gRPC through a Connect router, concurrency on one connection.
 */
import assert from "node:assert/strict";
import { H2ClientSession, type H2Response } from "../../lib/http/h2_client.ts";
import { serveHttp } from "../../lib/http/server.ts";
import { echoHandler } from "./echo_service.ts";
import { withServer } from "./test_server.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** The whole body of `r`. */
export async function bodyOf(r: H2Response): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of r.body) {
    parts.push(c);
    n += c.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A gRPC length-prefixed message holding a StringValue `v` (field 1, string). */
function grpcStringValue(v: string): Uint8Array {
  const s = te.encode(v);
  assert.ok(s.length < 128);
  const msg = new Uint8Array(2 + s.length);
  msg[0] = 0x0a;
  msg[1] = s.length;
  msg.set(s, 2);
  const out = new Uint8Array(5 + msg.length);
  new DataView(out.buffer).setUint32(1, msg.length);
  out.set(msg, 5);
  return out;
}

Deno.test("h2 client: unary POST with a body gets the echo and its trailers", async () => {
  await withServer({}, async (server) => {
    const s = await H2ClientSession.connect({ url: `http://127.0.0.1:${server.port}` });
    try {
      assert.equal(s.available, true);
      const body = new Uint8Array(100_000);
      for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
      let sum = 0;
      for (const b of body) sum = (sum + b) % 65536;
      const st = s.request({ method: "POST", path: "/echo", body });
      assert.equal(st.id, 1);
      const r = await st.response;
      assert.equal(r.status, 200);
      assert.deepEqual(r.headers.find(([n]) => n === "content-type"), [
        "content-type",
        "application/octet-stream",
      ]);
      assert.ok(r.headers.every(([n]) => !n.startsWith(":")));
      assert.deepEqual(await bodyOf(r), body);
      assert.deepEqual(await r.trailers, [["x-sum", String(sum)]]);
    } finally {
      await s.close();
    }
  });
});

Deno.test("h2 client: GET without a body, a 404 without trailers, request headers arrive", async () => {
  await withServer({}, async (server) => {
    const s = await H2ClientSession.connect({ url: new URL(`http://127.0.0.1:${server.port}`) });
    try {
      const big = await s.request({ method: "GET", path: "/big/300000" }).response;
      const b = await bodyOf(big);
      assert.equal(b.length, 300000);
      for (let i = 0; i < b.length; i += 997) assert.equal(b[i], i & 0xff);
      assert.deepEqual(await big.trailers, []);

      const nf = await s.request({ method: "GET", path: "/nowhere" }).response;
      assert.equal(nf.status, 404);
      assert.equal((await bodyOf(nf)).length, 0);
      assert.deepEqual(await nf.trailers, []);

      const h = await s.request({
        method: "GET",
        path: "/headers",
        headers: [["x-one", "1"], ["x-two", "zwei"]],
      }).response;
      const seen = new Map<string, string>(JSON.parse(td.decode(await bodyOf(h))));
      assert.equal(seen.get("x-one"), "1");
      assert.equal(seen.get("x-two"), "zwei");
      const u = await s.request({ method: "GET", path: "/url?a=b" }).response;
      assert.equal(td.decode(await bodyOf(u)), `http://127.0.0.1:${server.port}/url?a=b`);
    } finally {
      await s.close();
    }
  });
});

Deno.test("h2 client: invalid requests are refused before anything is sent", async () => {
  await withServer({}, async (server, obs) => {
    const s = await H2ClientSession.connect({ url: `http://127.0.0.1:${server.port}` });
    try {
      assert.throws(
        () => s.request({ method: "GET", path: "/", headers: [["X-Up", "1"]] }),
        TypeError,
      );
      assert.throws(
        () => s.request({ method: "GET", path: "/", headers: [["connection", "x"]] }),
        TypeError,
      );
      assert.throws(
        () => s.request({ method: "GET", path: "/", headers: [[":path", "/x"]] }),
        TypeError,
      );
      assert.throws(
        () => s.request({ method: "GET", path: "/", headers: [["x", "a\r\nb"]] }),
        TypeError,
      );
      assert.throws(
        () => s.request({ method: "GET", path: "/", headers: [["te", "gzip"]] }),
        TypeError,
      );
      assert.throws(() => s.request({ method: "GET", path: "nope" }), TypeError);
      assert.throws(() => s.request({ method: "CONNECT", path: "/" }), TypeError);
      const w = s.request({ method: "POST", path: "/echo", body: te.encode("x") });
      await assert.rejects(w.write(te.encode("y")), TypeError);
      await bodyOf(await w.response);
      assert.equal(obs.requests, 1);
    } finally {
      await s.close();
    }
  });
  await assert.rejects(H2ClientSession.connect({ url: "ftp://127.0.0.1:1" }), TypeError);
  await assert.rejects(
    H2ClientSession.connect({ url: "http://127.0.0.1:1", tls: { caCerts: [] } }),
    TypeError,
  );
});

Deno.test("h2 client: gRPC unary through a Connect router: message and grpc-status trailer", async () => {
  const server = await serveHttp({ handler: echoHandler() });
  const s = await H2ClientSession.connect({ url: `http://127.0.0.1:${server.port}` });
  try {
    for (const word of ["hello", "again", ""]) {
      const r = await s.request({
        method: "POST",
        path: "/test.Echo/Say",
        headers: [["content-type", "application/grpc"], ["te", "trailers"]],
        body: grpcStringValue(word),
      }).response;
      assert.equal(r.status, 200);
      const body = await bodyOf(r);
      const trailers = new Map(await r.trailers);
      assert.equal(trailers.get("grpc-status"), "0");
      // The answer is the same StringValue (proto3 omits an empty string).
      const expect = grpcStringValue(word);
      if (word === "") assert.deepEqual(body, new Uint8Array(5));
      else assert.deepEqual(body, expect);
    }
    // A gRPC error arrives as a trailers-only response (HEADERS with END_STREAM).
    const bad = await s.request({
      method: "POST",
      path: "/test.Echo/Nope",
      headers: [["content-type", "application/grpc"], ["te", "trailers"]],
      body: grpcStringValue("x"),
    }).response;
    const all = new Map([...bad.headers, ...await bad.trailers]);
    assert.notEqual(all.get("grpc-status") ?? String(bad.status), "0");
  } finally {
    await s.close();
    await server.close();
  }
});

Deno.test("h2 client: 200 concurrent and 300 sequential requests share one connection", async () => {
  await withServer({}, async (server) => {
    const s = await H2ClientSession.connect({ url: `http://127.0.0.1:${server.port}` });
    try {
      const results = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const r = await s.request({
            method: "POST",
            path: "/echo",
            headers: [["x-req", String(i)]],
            body: te.encode(`request ${i}`),
          }).response;
          return td.decode(await bodyOf(r));
        }),
      );
      results.forEach((r, i) => assert.equal(r, `request ${i}`));
      for (let i = 0; i < 300; i++) {
        const r = await s.request({ method: "POST", path: "/echo", body: te.encode(`#${i}`) })
          .response;
        assert.equal(td.decode(await bodyOf(r)), `#${i}`);
      }
      assert.equal(s.activeStreams, 0);
    } finally {
      await s.close();
    }
    assert.equal(await s.closed, null);
    assert.equal(s.available, false);
  });
});
