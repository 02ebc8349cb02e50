import assert from "node:assert/strict";
import { waitFor, withServer } from "./test_server.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** A raw HTTP/1.1 client socket: write text, read until a condition or the server closes. */
class Raw {
  private text = "";
  closed = false;
  private constructor(readonly conn: Deno.Conn) {}

  static async connect(port: number): Promise<Raw> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new Raw(conn);
  }

  async send(s: string | Uint8Array): Promise<void> {
    const b = typeof s === "string" ? te.encode(s) : s;
    let off = 0;
    while (off < b.length) off += await this.conn.write(b.subarray(off));
  }

  /** Read until `cond(text)` holds or the server closes; fails after `ms`. */
  async until(cond: (text: string) => boolean, ms = 5000): Promise<string> {
    const deadline = Date.now() + ms;
    const buf = new Uint8Array(65536);
    while (!cond(this.text) && !this.closed) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; got ${JSON.stringify(this.text.slice(0, 300))}`);
      const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left));
      const n = await Promise.race([this.conn.read(buf).catch(() => null), timeout]);
      clearTimeout(timer);
      if (n === "timeout") continue;
      if (n === null) this.closed = true;
      else this.text += td.decode(buf.subarray(0, n));
    }
    return this.text;
  }

  /** Read until the server closes the connection. */
  closedText(ms = 5000): Promise<string> {
    return this.until(() => false, ms);
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

function count(text: string, re: RegExp): number {
  return [...text.matchAll(new RegExp(re.source, "g"))].length;
}

async function session(
  limits: Parameters<typeof withServer>[0],
  fn: (c: Raw) => Promise<void>,
): Promise<void> {
  await withServer(limits, async (server) => {
    const c = await Raw.connect(server.port);
    try {
      await fn(c);
    } finally {
      c.close();
    }
  });
}

Deno.test("h1: pipelined requests are answered in order on one connection", async () => {
  await session({}, async (c) => {
    await c.send(
      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
        "GET /url HTTP/1.1\r\nHost: example.org:99\r\n\r\n",
    );
    const text = await c.until((t) => t.includes("example.org"));
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(text.indexOf("abc") < text.indexOf("http://example.org:99/url"), text);
    assert.equal(c.closed, false);
  });
});

Deno.test("h1: chunked request body (extensions, trailers) and trailers only with TE", async () => {
  await session({}, async (c) => {
    await c.send(
      "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n\r\n" +
        "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nx-client-trailer: 1\r\n\r\n",
    );
    const text = await c.until((t) => t.endsWith("\r\n\r\n") && t.includes("x-sum"));
    assert.match(text, /transfer-encoding: chunked/);
    assert.match(text, /\r\n5\r\nabcde\r\n0\r\nx-sum: 495\r\n\r\n$/);
    await c.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
    const text2 = await c.until((t) => count(t, /HTTP\/1\.1 200/) === 2 && t.endsWith("0\r\n\r\n"));
    assert.equal(count(text2, /x-sum/), 1, "no trailer without TE: trailers");
  });
});

Deno.test("h1: streamed response chunks arrive before the response ends", async () => {
  await session({}, async (c) => {
    await c.send("GET /stream/3 HTTP/1.1\r\nHost: a\r\n\r\n");
    const first = await c.until((t) => t.includes("chunk 0"));
    assert.ok(!first.includes("0\r\n\r\n"));
    const all = await c.until((t) => t.endsWith("0\r\n\r\n"));
    assert.match(all, /chunk 0\n[\s\S]*chunk 1\n[\s\S]*chunk 2\n/);
  });
});

Deno.test("h1: HTTP/1.0 gets a close-delimited or sized response and the connection closes", async () => {
  await session({}, async (c) => {
    await c.send("GET /url HTTP/1.0\r\nHost: a\r\n\r\n");
    const text = await c.closedText();
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /connection: close/);
    assert.ok(text.endsWith("http://a/url"));
  });
});

Deno.test("h1: HEAD has no body; 404 for unknown paths keeps the connection", async () => {
  await session({}, async (c) => {
    await c.send(
      "HEAD /url HTTP/1.1\r\nHost: a\r\n\r\nPOST /nope HTTP/1.1\r\nHost: a\r\n" +
        "Content-Length: 5\r\n\r\nhello" + "GET /url HTTP/1.1\r\nHost: b\r\n\r\n",
    );
    const text = await c.until((t) => t.includes("http://b/url"));
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n(?:[^\r]+\r\n)*\r\nHTTP\/1\.1 404 Not Found\r\n/);
  });
});

Deno.test("h1: Expect: 100-continue gets an interim response", async () => {
  await session({}, async (c) => {
    await c.send(
      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    );
    await c.until((t) => t.startsWith("HTTP/1.1 100 Continue\r\n\r\n"));
    await c.send("body");
    const text = await c.until((t) => t.includes("body"));
    assert.match(text, /HTTP\/1\.1 200 OK/);
  });
});

Deno.test("h1: absolute-form target sets the URL's authority", async () => {
  await session({}, async (c) => {
    await c.send("GET http://proxy.example:8080/url HTTP/1.1\r\nHost: other\r\n\r\n");
    const text = await c.until((t) => t.endsWith("0\r\n\r\n"));
    assert.ok(text.includes("\r\nhttp://proxy.example:8080/url\r\n"), text);
  });
});

const badCases: [string, string, number, Parameters<typeof withServer>[0]][] = [
  ["garbage request line", "HELLO\r\n\r\n", 400, {}],
  ["bad header line", "GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400, {}],
  ["HTTP/2.0 in a request line", "GET / HTTP/2.0\r\n\r\n", 505, {}],
  [
    "Content-Length and Transfer-Encoding together",
    "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    400,
    {},
  ],
  ["bad Content-Length", "POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, {}],
  ["unknown transfer coding", "POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, {}],
  [
    "bad chunk size",
    "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
    400,
    {},
  ],
  [
    "head larger than maxHeaderListSize",
    `GET / HTTP/1.1\r\nx-big: ${"a".repeat(3000)}\r\n\r\n`,
    431,
    { maxHeaderListSize: 1024 },
  ],
  [
    "Content-Length over maxBodyBytes (the handler's answer, then close)",
    "POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\n",
    500,
    { maxBodyBytes: 1000 },
  ],
];

for (const [name, request, status, limits] of badCases) {
  Deno.test(`h1 bad request: ${name} -> ${status}, connection closed`, async () => {
    await session(limits, async (c) => {
      await c.send(request);
      const text = await c.closedText();
      assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `));
      assert.match(text, /connection: close/);
    });
  });
}

Deno.test("h1: chunked body over maxBodyBytes fails the body; the connection closes", async () => {
  await withServer({ maxBodyBytes: 100 }, async (server, obs) => {
    const c = await Raw.connect(server.port);
    try {
      await c.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
      await c.send(`c8\r\n${"x".repeat(200)}\r\n0\r\n\r\n`);
      const text = await c.closedText();
      assert.match(text, /^HTTP\/1\.1 500 /);
      assert.deepEqual(obs.bodyErrors, ["BodyTooLargeError"]);
    } finally {
      c.close();
    }
  });
});

Deno.test("h1: a peer that trickles its head is disconnected after headerTimeoutMs", async () => {
  await session({ headerTimeoutMs: 300 }, async (c) => {
    await c.send("GET / HTTP/1.1\r\nHost: a\r\n");
    const text = await c.closedText(5000);
    assert.equal(text, "");
    assert.ok(c.closed);
  });
});

Deno.test("h2: a peer that never sends the preface is disconnected", async () => {
  await session({ headerTimeoutMs: 300 }, async (c) => {
    await c.send("PRI * HTTP/2.0\r\n");
    await c.closedText(5000);
    assert.ok(c.closed);
  });
});

Deno.test("h1: a client that goes away aborts the running handler's signal", async () => {
  await withServer({}, async (server, obs) => {
    const c = await Raw.connect(server.port);
    await c.send("GET /hang HTTP/1.1\r\nHost: a\r\n\r\n");
    await waitFor(() => obs.requests === 1, "request");
    c.close();
    await waitFor(() => obs.aborted === 1, "abort");
  });
});

Deno.test("h1: pipelined request read ahead while the handler runs is still served", async () => {
  await session({}, async (c) => {
    await c.send("GET /stream/2 HTTP/1.1\r\nHost: a\r\n\r\nGET /url HTTP/1.1\r\nHost: z\r\n\r\n");
    const text = await c.until((t) => t.includes("http://z/url"));
    assert.ok(text.indexOf("chunk 1") < text.indexOf("http://z/url"));
  });
});

Deno.test("server: close() lets an in-flight HTTP/1.1 response finish and closes idle ones", async () => {
  const { serveHttp } = await import("../../lib/http/server.ts");
  const { testHandler } = await import("./test_server.ts");
  const obs = { aborted: 0, bodyErrors: [], requests: 0 };
  const server = await serveHttp({ handler: testHandler(obs) });
  const busy = await Raw.connect(server.port);
  const idle = await Raw.connect(server.port);
  try {
    await idle.send("GET /url HTTP/1.1\r\nHost: a\r\n\r\n");
    await idle.until((t) => t.endsWith("0\r\n\r\n"));
    await busy.send("GET /stream/5 HTTP/1.1\r\nHost: a\r\n\r\n");
    await busy.until((t) => t.includes("chunk 0"));
    await server.close();
    assert.match(await busy.closedText(), /chunk 4\n\r\n0\r\n\r\n$/);
    await idle.closedText();
    assert.ok(idle.closed);
  } finally {
    busy.close();
    idle.close();
  }
});

Deno.test("server: garbage on a TLS listener does not disturb it", async () => {
  const { serveHttp } = await import("../../lib/http/server.ts");
  const { testHandler } = await import("./test_server.ts");
  const dir = await Deno.makeTempDir();
  try {
    const gen = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-keyout",
        `${dir}/k.pem`,
        "-out",
        `${dir}/c.pem`,
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    assert.equal(gen.code, 0);
    const obs = { aborted: 0, bodyErrors: [], requests: 0 };
    const server = await serveHttp({
      handler: testHandler(obs),
      tls: {
        cert: await Deno.readTextFile(`${dir}/c.pem`),
        key: await Deno.readTextFile(`${dir}/k.pem`),
      },
      limits: { headerTimeoutMs: 500 },
    });
    try {
      const c = await Raw.connect(server.port);
      await c.send("GET / HTTP/1.1\r\n\r\n" + "\x16\x03\x01\x00\x05hello");
      await c.closedText();
      c.close();
      const ok = await new Deno.Command("curl", {
        args: ["-sS", "--cacert", `${dir}/c.pem`, `https://localhost:${server.port}/url`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(ok.stdout), `https://localhost:${server.port}/url`);
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function curl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command("curl", { args, stdout: "piped", stderr: "piped" }).output();
  return { code: o.code, out: td.decode(o.stdout), err: td.decode(o.stderr) };
}

Deno.test("h2c upgrade: curl --http2 on http:// gets 101 and its answer over HTTP/2", async () => {
  await withServer({}, async (server, obs) => {
    const base = `http://127.0.0.1:${server.port}`;
    const r = await curl(["-sS", "-v", "--http2", "-w", "\n%{http_version}", `${base}/url?x=1`]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /101 Switching Protocols/);
    assert.equal(r.out, `${base}/url?x=1\n2`);
    // Two requests: the second reuses the upgraded HTTP/2 connection.
    const two = await curl(["-sS", "-v", "--http2", `${base}/url?a`, `${base}/url?b`]);
    assert.equal(two.code, 0, two.err);
    assert.equal(two.out, `${base}/url?a${base}/url?b`);
    assert.equal((two.err.match(/101 Switching Protocols/g) ?? []).length, 1);
    // A request with a body is not upgraded: answered as HTTP/1.1.
    const post = await curl([
      "-sS",
      "--http2",
      "-w",
      "\n%{http_version}",
      "-d",
      "x",
      `${base}/url`,
    ]);
    assert.equal(post.out, `${base}/url\n1.1`);
    assert.equal(obs.requests, 4);
  });
});

Deno.test("h2c upgrade: a malformed HTTP2-Settings is served as plain HTTP/1.1", async () => {
  await session({}, async (c) => {
    await c.send(
      "GET /url HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n" +
        "HTTP2-Settings: AAM\r\n\r\n",
    );
    const text = await c.until((t) => t.endsWith("0\r\n\r\n"));
    assert.match(text, /^HTTP\/1\.1 200 OK/);
  });
});

Deno.test("server: connections beyond maxConnections are closed at accept", async () => {
  await withServer({ maxConnections: 2 }, async (server) => {
    const a = await Raw.connect(server.port);
    const b = await Raw.connect(server.port);
    try {
      await a.send("GET /url HTTP/1.1\r\nHost: a\r\n\r\n");
      await a.until((t) => t.endsWith("0\r\n\r\n"));
      await b.send("GET /url HTTP/1.1\r\nHost: b\r\n\r\n");
      await b.until((t) => t.endsWith("0\r\n\r\n"));
      const c = await Raw.connect(server.port);
      try {
        await c.send("GET /url HTTP/1.1\r\nHost: c\r\n\r\n").catch(() => {});
        assert.equal(await c.closedText(), "");
      } finally {
        c.close();
      }
      // Once a connection ends, a new one is served again.
      a.close();
      let served = false;
      for (const end = Date.now() + 5000; !served && Date.now() < end;) {
        const d = await Raw.connect(server.port);
        try {
          await d.send("GET /url HTTP/1.1\r\nHost: d\r\n\r\n").catch(() => {});
          served = (await d.until((t) => t.endsWith("0\r\n\r\n"), 2000)).endsWith("0\r\n\r\n");
        } catch {
          // closed at accept: the server has not seen the first connection end yet
        } finally {
          d.close();
        }
      }
      assert.ok(served, "a connection is accepted again");
    } finally {
      a.close();
      b.close();
    }
  });
});
