/**
 * serveHttp with `requireClientCert` (node:tls): curl and Deno's fetch with a client
 * certificate over HTTP/2 and HTTP/1.1, the verified Common Name in the request's context
 * values, refused handshakes (no certificate, another CA, a silent peer), large bodies both
 * ways (read pause/resume, write drain), and a graceful close with a request in flight.
 */
import assert from "node:assert/strict";
import type { UniversalHandlerFn, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { type HttpServer, PEER_CERTIFICATE, serveHttp } from "../../lib/http/server.ts";
import { NodeTlsConn, READ_HIGH_WATER } from "../../lib/http/node_tls_conn.ts";
import { connect, createServer, type TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { makePki, type Pki } from "./mtls_pki.ts";

const dec = new TextDecoder();
const enc = new TextEncoder();

async function* once(b: Uint8Array): AsyncIterable<Uint8Array> {
  yield b;
}

/** Request body length and a checksum over it. */
async function digest(req: UniversalServerRequest): Promise<{ n: number; sum: number }> {
  let n = 0;
  let sum = 0;
  for await (const c of req.body as AsyncIterable<Uint8Array>) {
    for (const b of c) sum = (sum * 31 + b) % 1_000_000_007;
    n += c.length;
  }
  return { n, sum };
}

function pattern(n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 9)) & 0xff;
  return b;
}

/**
 * /whoami: {cn, version} (cn null when the request has no PEER_CERTIFICATE);
 * /sum: length and checksum of the body; /big/<n>: n octets of `pattern`;
 * /gate: answers once `gate` is opened.
 */
function handler(gate: { wait: Promise<void>; entered: () => void }): UniversalHandlerFn {
  return async (req) => {
    const path = new URL(req.url).pathname;
    const json = (v: unknown) => ({
      status: 200,
      header: new Headers({ "content-type": "application/json" }),
      body: once(enc.encode(JSON.stringify(v))),
    });
    if (path === "/whoami") {
      const peer = req.contextValues?.get(PEER_CERTIFICATE);
      return json({ cn: peer === undefined ? null : peer.commonName, version: req.httpVersion });
    }
    if (path === "/sum") return json(await digest(req));
    if (path.startsWith("/big/")) {
      return { status: 200, body: once(pattern(Number(path.slice(5)))) };
    }
    if (path === "/gate") {
      gate.entered();
      await gate.wait;
      return json({ gate: "open" });
    }
    return { status: 404 };
  };
}

async function curl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "10", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

interface Fixture {
  pki: Pki;
  server: HttpServer;
  url: string;
  gate: { open(): void; entered: Promise<void> };
  /** curl options presenting client `name`'s certificate and trusting the CA. */
  as(name: string): string[];
}

async function withServer(
  f: (x: Fixture) => Promise<void>,
  limits?: { headerTimeoutMs?: number },
): Promise<void> {
  const pki = await makePki({ alice: "alice", nocn: "" });
  let open!: () => void;
  let entered!: () => void;
  const wait = new Promise<void>((r) => open = r);
  const enteredP = new Promise<void>((r) => entered = r);
  try {
    const server = await serveHttp({
      handler: handler({ wait, entered }),
      tls: {
        cert: await Deno.readTextFile(pki.server.cert),
        key: await Deno.readTextFile(pki.server.key),
        ca: await Deno.readTextFile(pki.ca),
        requireClientCert: true,
      },
      limits: { maxBodyBytes: 8 * 1024 * 1024, ...limits },
    });
    try {
      await f({
        pki,
        server,
        url: `https://127.0.0.1:${server.port}`,
        gate: { open, entered: enteredP },
        as: (name) => {
          const c = name === "stranger"
            ? pki.stranger
            : name === "serverOnly"
            ? pki.serverOnly
            : pki.clients[name];
          return ["--cacert", pki.ca, "--cert", c.cert, "--key", c.key];
        },
      });
    } finally {
      open();
      await server.close();
    }
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
}

Deno.test("mtls: curl with a client certificate over HTTP/2 and HTTP/1.1 sees its CN", async () => {
  await withServer(async ({ url, as }) => {
    for (const [flag, version] of [["--http2", "2"], ["--http1.1", "1.1"]]) {
      const r = await curl([...as("alice"), flag, `${url}/whoami`]);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(JSON.parse(r.out), { cn: "alice", version });
      // A verified certificate without a CN: present, with an empty name (as Go reports it).
      const n = await curl([...as("nocn"), flag, `${url}/whoami`]);
      assert.equal(n.code, 0, n.err);
      assert.deepEqual(JSON.parse(n.out), { cn: "", version });
    }
    // Several requests on one HTTP/1.1 keep-alive connection and one h2 connection.
    for (const flag of ["--http2", "--http1.1"]) {
      const r = await curl([...as("alice"), flag, `${url}/whoami`, `${url}/whoami`]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out.split('"cn":"alice"').length, 3, r.out);
    }
  });
});

Deno.test("mtls: no certificate, one from another CA, or a server-only one fails the handshake", async () => {
  await withServer(async ({ url, pki, as }) => {
    for (const flag of ["--http2", "--http1.1"]) {
      const none = await curl(["--cacert", pki.ca, flag, `${url}/whoami`]);
      assert.notEqual(none.code, 0, none.out);
      assert.equal(none.out, "");
      // Another CA's client; our CA's certificate without clientAuth usage (etcd refuses both).
      for (const who of ["stranger", "serverOnly"]) {
        const other = await curl([...as(who), flag, `${url}/whoami`]);
        assert.notEqual(other.code, 0, `${who}: ${other.out}`);
        assert.equal(other.out, "");
      }
    }
    // The refusals did not hurt the listener.
    const ok = await curl([...as("alice"), `${url}/whoami`]);
    assert.equal(ok.code, 0, ok.err);
  });
});

Deno.test("mtls: Deno's fetch with a client certificate streams 4 MiB each way", async () => {
  await withServer(async ({ url, pki }) => {
    const size = 4 * 1024 * 1024;
    const body = pattern(size);
    const expected = { n: 0, sum: 0 };
    for (const b of body) expected.sum = (expected.sum * 31 + b) % 1_000_000_007;
    expected.n = size;
    for (const http2 of [true, false]) {
      const client = Deno.createHttpClient({
        caCerts: [await Deno.readTextFile(pki.ca)],
        cert: await Deno.readTextFile(pki.clients.alice.cert),
        key: await Deno.readTextFile(pki.clients.alice.key),
        http1: !http2,
        http2,
      });
      try {
        const up = await fetch(`${url}/sum`, { method: "POST", body, client });
        assert.equal(up.status, 200);
        assert.deepEqual(await up.json(), expected);
        const down = await fetch(`${url}/big/${size}`, { client });
        assert.equal(down.status, 200);
        const got = new Uint8Array(await down.arrayBuffer());
        assert.equal(got.length, size);
        assert.deepEqual(got, body);
        const who = await fetch(`${url}/whoami`, { client });
        assert.deepEqual(await who.json(), { cn: "alice", version: http2 ? "2" : "1.1" });
      } finally {
        client.close();
      }
    }
  });
});

Deno.test("mtls: a peer that never handshakes is dropped after headerTimeoutMs", async () => {
  await withServer(async ({ server, url, as }) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      // The server closes the socket: read ends (null, or reset) instead of hanging.
      const r = await conn.read(new Uint8Array(64)).catch(() => null);
      assert.equal(r, null);
    } finally {
      conn.close();
    }
    const ok = await curl([...as("alice"), `${url}/whoami`]);
    assert.equal(ok.code, 0, ok.err);
  }, { headerTimeoutMs: 300 });
});

Deno.test("mtls: close() drains an in-flight HTTP/2 request, then refuses connections", async () => {
  await withServer(async ({ server, url, as, gate }) => {
    const pending = curl([...as("alice"), "--http2", `${url}/gate`]);
    await gate.entered;
    const closed = server.close();
    gate.open();
    const r = await pending;
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), { gate: "open" });
    await closed;
    const after = await curl([...as("alice"), `${url}/whoami`]);
    assert.notEqual(after.code, 0);
  });
});

Deno.test("mtls: requireClientCert without a CA is refused before binding", async () => {
  await assert.rejects(
    serveHttp({
      handler: () => Promise.resolve({ status: 200 }),
      tls: { cert: "x", key: "y", requireClientCert: true },
    }),
    /requireClientCert needs a CA/,
  );
});

/**
 * A NodeTlsConn over a node:tls server socket, with the raw sockets of both ends exposed so a
 * test can watch the stream states (paused, needs drain) the adapter is meant to drive.
 */
async function withPair(
  f: (x: { conn: NodeTlsConn; server: TLSSocket; client: TLSSocket }) => Promise<void>,
): Promise<void> {
  const pki = await makePki({});
  const ca = await Deno.readTextFile(pki.ca);
  const srv = createServer({
    cert: await Deno.readTextFile(pki.server.cert),
    key: await Deno.readTextFile(pki.server.key),
  });
  try {
    const accepted = new Promise<TLSSocket>((r) => srv.once("secureConnection", r));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as AddressInfo).port;
    const client = connect({ host: "127.0.0.1", port, ca });
    const closed = new Promise((r) => client.once("close", r));
    await new Promise<void>((r, j) => {
      client.once("secureConnect", () => r());
      client.once("error", j);
    });
    const server = await accepted;
    const conn = new NodeTlsConn(server);
    try {
      await f({ conn, server, client });
    } finally {
      conn.destroy();
      client.destroy();
      await closed;
    }
  } finally {
    await new Promise((r) => srv.close(r));
    await Deno.remove(pki.dir, { recursive: true });
  }
}

/** Waits (bounded) until `cond` holds, checking after each event-loop turn. */
async function until(what: string, cond: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Reads exactly `n` octets from the conn. */
async function readN(conn: NodeTlsConn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const k = await conn.read(out.subarray(got, Math.min(n, got + 10_000)));
    if (k === null) throw new Error(`end after ${got} of ${n}`);
    got += k;
  }
  return out;
}

Deno.test("mtls: NodeTlsConn pauses an unread socket and resumes as it is read", async () => {
  await withPair(async ({ conn, server, client }) => {
    const size = 2 * READ_HIGH_WATER + 12345;
    const data = pattern(size);
    client.write(data);
    await until("the server socket to pause", () => server.isPaused());
    const got = await readN(conn, size);
    assert.deepEqual(got, data);
    assert.equal(server.isPaused(), false);
    // The peer's end of stream reads as null once the data is consumed.
    client.end();
    assert.equal(await conn.read(new Uint8Array(10)), null);
  });
});

Deno.test("mtls: NodeTlsConn write waits for drain; close still delivers what was written", async () => {
  await withPair(async ({ conn, server, client }) => {
    client.pause();
    const size = 8 * 1024 * 1024;
    const data = pattern(size);
    let settled = false;
    const w = conn.write(data).then((n) => {
      settled = true;
      return n;
    });
    // The written octets are copied: the caller may reuse its buffer at once.
    data.fill(0, 0, 100);
    await until("the socket to need a drain", () => server.writableNeedDrain);
    await Promise.resolve();
    assert.equal(settled, false, "write resolved while the socket was full");
    const chunks: Uint8Array[] = [];
    let n = 0;
    const ended = new Promise<void>((r) => client.once("end", () => r()));
    client.on("data", (c: Uint8Array) => {
      chunks.push(c);
      n += c.length;
    });
    client.resume();
    assert.equal(await w, size);
    conn.close();
    await ended;
    assert.equal(n, size);
    const got = new Uint8Array(n);
    let o = 0;
    for (const c of chunks) {
      got.set(c, o);
      o += c.length;
    }
    assert.deepEqual(got, pattern(size));
    await assert.rejects(conn.write(new Uint8Array(1)), Deno.errors.BrokenPipe);
  });
});

Deno.test("mtls: a port already in use is refused at start", async () => {
  const pki = await makePki({});
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await assert.rejects(
      serveHttp({
        handler: () => Promise.resolve({ status: 200 }),
        port: (taken.addr as Deno.NetAddr).port,
        tls: {
          cert: await Deno.readTextFile(pki.server.cert),
          key: await Deno.readTextFile(pki.server.key),
          ca: await Deno.readTextFile(pki.ca),
          requireClientCert: true,
        },
      }),
      /in use|EADDRINUSE/i,
    );
  } finally {
    taken.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});
