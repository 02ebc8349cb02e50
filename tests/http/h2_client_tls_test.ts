/**
 * The HTTP/2 client over TLS against our own server: ALPN h2 on Deno's TLS listener, and
 * mutual TLS on a listener that requires a client certificate (the server sees the
 * certificate's CN); refused handshakes fail connect() with an error, not a crash.
 */
import assert from "node:assert/strict";
import type { UniversalHandlerFn } from "@connectrpc/connect/protocol";
import { H2ClientSession, type H2Response } from "../../lib/http/h2_client.ts";
import { type HttpServer, PEER_CERTIFICATE, serveHttp } from "../../lib/http/server.ts";
import { makePki, type Pki } from "./mtls_pki.ts";

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

async function* once(b: Uint8Array): AsyncIterable<Uint8Array> {
  yield b;
}

/** Answers every second request chunk with both (the pattern Nagle's algorithm stalls). */
async function* pairs(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  let held: Uint8Array | undefined;
  for await (const c of body) {
    if (held === undefined) held = c.slice();
    else {
      const both = new Uint8Array(held.length + c.length);
      both.set(held);
      both.set(c, held.length);
      held = undefined;
      yield both;
    }
  }
}

/**
 * /whoami: the verified client CN (or "none"); /pair: see `pairs`; /echo: the body back with
 * a length trailer.
 */
const handler: UniversalHandlerFn = async (req) => {
  const path = new URL(req.url).pathname;
  if (path === "/pair") {
    return { status: 200, body: pairs(req.body as AsyncIterable<Uint8Array>) };
  }
  if (path === "/whoami") {
    const peer = req.contextValues?.get(PEER_CERTIFICATE);
    return { status: 200, body: once(te.encode(peer?.commonName ?? "none")) };
  }
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of req.body as AsyncIterable<Uint8Array>) {
    parts.push(c);
    n += c.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return { status: 200, body: once(out), trailer: new Headers({ "x-len": String(n) }) };
};

async function withTls(
  requireClientCert: boolean,
  fn: (pki: Pki, server: HttpServer, ca: string) => Promise<void>,
): Promise<void> {
  const pki = await makePki({ alice: "alice" });
  try {
    const ca = await Deno.readTextFile(pki.ca);
    const server = await serveHttp({
      handler,
      tls: {
        cert: await Deno.readTextFile(pki.server.cert),
        key: await Deno.readTextFile(pki.server.key),
        ca,
        requireClientCert,
      },
    });
    try {
      await fn(pki, server, ca);
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
}

/** Echoes 1 MiB and checks it and the trailer. */
async function echoMiB(s: H2ClientSession): Promise<void> {
  const body = new Uint8Array(1 << 20).map((_, i) => (i * 31 + (i >> 10)) & 0xff);
  const r = await s.request({ method: "POST", path: "/echo", body }).response;
  assert.equal(r.status, 200);
  assert.deepEqual(await bodyOf(r), body);
  assert.deepEqual(await r.trailers, [["x-len", String(1 << 20)]]);
}

/**
 * 60 rounds of two separate small writes answered together: about 40 ms a round if Nagle is
 * on (TCP_NODELAY must be set on both TLS paths: Deno's and node:tls; with it off the median
 * round measured 40-52 ms).
 */
async function noNagle(s: H2ClientSession): Promise<void> {
  const st = s.request({ method: "POST", path: "/pair", body: "stream" });
  let it: AsyncIterator<Uint8Array> | undefined;
  const rounds = 60;
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await st.write(te.encode(`a${i}`));
    await new Promise((res) => setTimeout(res, 0));
    await st.write(te.encode(`b${i}`));
    it ??= (await st.response).body[Symbol.asyncIterator]();
    assert.equal(td.decode((await it.next()).value), `a${i}b${i}`);
    times.push(performance.now() - t0);
  }
  // The median round: about 40 ms with Nagle on, a few ms without (even on a loaded machine).
  const median = times.sort((x, y) => x - y)[rounds >> 1];
  assert.ok(median < 32, `median round ${median.toFixed(1)} ms`);
  st.end();
  assert.equal((await it!.next()).done, true);
}

Deno.test("h2 client tls: https with ALPN h2 against Deno's TLS listener", async () => {
  await withTls(false, async (_pki, server, ca) => {
    const s = await H2ClientSession.connect({
      url: `https://127.0.0.1:${server.port}`,
      tls: { caCerts: [ca] },
    });
    try {
      await echoMiB(s);
      await noNagle(s);
      const who = await s.request({ method: "GET", path: "/whoami" }).response;
      assert.equal(td.decode(await bodyOf(who)), "none");
      assert.ok((await s.ping()) >= 0);
    } finally {
      await s.close();
    }
    assert.equal(await s.closed, null);
    // Without our CA the server's certificate is not trusted.
    await assert.rejects(H2ClientSession.connect({ url: `https://127.0.0.1:${server.port}` }));
  });
});

Deno.test("h2 client tls: mutual TLS with a client certificate the server requires", async () => {
  await withTls(true, async (pki, server, ca) => {
    const url = `https://127.0.0.1:${server.port}`;
    const s = await H2ClientSession.connect({
      url,
      tls: {
        caCerts: [ca],
        cert: await Deno.readTextFile(pki.clients.alice.cert),
        key: await Deno.readTextFile(pki.clients.alice.key),
      },
    });
    try {
      const who = await s.request({ method: "GET", path: "/whoami" }).response;
      assert.equal(td.decode(await bodyOf(who)), "alice");
      await echoMiB(s);
      await noNagle(s);
      const many = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const r = await s.request({ method: "POST", path: "/echo", body: te.encode(`m${i}`) })
            .response;
          return td.decode(await bodyOf(r));
        }),
      );
      many.forEach((m, i) => assert.equal(m, `m${i}`));
    } finally {
      await s.close();
    }
    assert.equal(await s.closed, null);
    // No certificate, or one from a CA the server does not trust: the handshake is refused.
    const noCert = await H2ClientSession.connect({ url, tls: { caCerts: [ca] } }).then(
      (x) => x,
      (e) => e as Error,
    );
    if (noCert instanceof H2ClientSession) {
      // TLS 1.3 may finish the client's handshake before the server checks the certificate;
      // then the refusal arrives as the connection's end, before any SETTINGS.
      noCert.destroy();
      assert.fail("connect without a client certificate succeeded");
    }
    assert.ok(noCert instanceof Error);
    await assert.rejects(
      H2ClientSession.connect({
        url,
        tls: {
          caCerts: [ca],
          cert: await Deno.readTextFile(pki.stranger.cert),
          key: await Deno.readTextFile(pki.stranger.key),
        },
      }),
    );
    await assert.rejects(
      H2ClientSession.connect({ url, tls: { caCerts: [ca], cert: "x" } }),
      TypeError,
    );
  });
});
