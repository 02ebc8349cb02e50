/**
 * The HTTP/2 client against a raw peer the test drives frame by frame: GOAWAY in the middle,
 * RST_STREAM, a socket closed abruptly, tiny and changing windows, MAX_FRAME_SIZE and
 * CONTINUATION, 1xx heads and padding, garbage, keep-alive and connect timeouts. Every
 * failure must reject the affected promises with H2StreamError and never surface as an
 * unhandled rejection.
 */
import assert from "node:assert/strict";
import { ByteBuffer } from "../../lib/http/byte_buffer.ts";
import {
  ErrorCode,
  Flag,
  FRAME_HEADER_LEN,
  FrameType,
  PREFACE,
  readU32,
  Setting,
  writeFrameHeader,
  writeGoaway,
  writeSettings,
} from "../../lib/http/frame.ts";
import { H2ClientSession, type H2Response, H2StreamError } from "../../lib/http/h2_client.ts";
import { HpackDecoder, HpackEncoder, writeInt, writeStrPlain } from "../../lib/http/hpack.ts";

const te = new TextEncoder();
const td = new TextDecoder();

interface Frame {
  type: number;
  flags: number;
  sid: number;
  payload: Uint8Array;
}

function u32(v: number): Uint8Array {
  return new Uint8Array([(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

/** One end of a connection the test controls: it accepts the client and speaks raw frames. */
class RawPeer {
  readonly listener: Deno.Listener;
  conn: Deno.Conn | undefined;
  #buf = new Uint8Array(0);
  #eof = false;
  readonly enc = new HpackEncoder();
  readonly dec = new HpackDecoder();

  constructor() {
    this.listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  }

  get url(): string {
    return `http://127.0.0.1:${(this.listener.addr as Deno.NetAddr).port}`;
  }

  /** Accepts the client, checks its preface, sends our SETTINGS and ACKs the client's. */
  async accept(settings: [number, number][] = []): Promise<Frame> {
    this.conn = await this.listener.accept();
    const preface = await this.#take(PREFACE.length);
    assert.deepEqual(preface, PREFACE);
    const first = await this.read();
    assert.ok(first !== null && first.type === FrameType.SETTINGS, "client SETTINGS first");
    const b = new ByteBuffer();
    writeSettings(b, settings);
    writeFrameHeader(b, 0, FrameType.SETTINGS, Flag.ACK, 0);
    await this.send(b.view());
    return first;
  }

  async send(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.conn!.write(bytes.subarray(off));
  }

  async frame(type: number, flags: number, sid: number, payload: Uint8Array = new Uint8Array(0)) {
    const b = new ByteBuffer(FRAME_HEADER_LEN + payload.length);
    writeFrameHeader(b, payload.length, type, flags, sid);
    b.bytes(payload);
    await this.send(b.view());
  }

  block(fields: [string, string][]): Uint8Array {
    const b = new ByteBuffer(256);
    this.enc.begin(b);
    for (const [n, v] of fields) this.enc.field(b, n, v);
    return b.view().slice();
  }

  async headers(sid: number, fields: [string, string][], flags: number = Flag.END_HEADERS) {
    await this.frame(FrameType.HEADERS, flags, sid, this.block(fields));
  }

  /** A whole response: 200, `body`, END_STREAM. */
  async respond(sid: number, body: string): Promise<void> {
    await this.headers(sid, [[":status", "200"]]);
    await this.frame(FrameType.DATA, Flag.END_STREAM, sid, te.encode(body));
  }

  decode(payload: Uint8Array): [string, string][] {
    const flat: string[] = [];
    this.dec.decode(payload, 0, payload.length, flat);
    const out: [string, string][] = [];
    for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
    return out;
  }

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(65536);
    let n: number | null;
    try {
      n = await this.conn!.read(chunk);
    } catch {
      n = null;
    }
    if (n === null) {
      this.#eof = true;
      return false;
    }
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  async #take(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      if (!await this.#fill()) throw new Error("eof");
    }
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }

  /** The next frame, or null at the client's end of stream; fails after `ms`. */
  async read(ms = 5000): Promise<Frame | null> {
    let t: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, rej) => {
      t = setTimeout(() => rej(new Error("timed out waiting for a frame")), ms);
    });
    try {
      return await Promise.race([this.#readFrame(), timeout]);
    } finally {
      clearTimeout(t);
    }
  }

  async #readFrame(): Promise<Frame | null> {
    while (this.#buf.length < FRAME_HEADER_LEN) {
      if (this.#eof || !await this.#fill()) return null;
    }
    const len = (this.#buf[0] << 16) | (this.#buf[1] << 8) | this.#buf[2];
    const h = await this.#take(FRAME_HEADER_LEN);
    const payload = await this.#take(len);
    return { type: h[3], flags: h[4], sid: readU32(h, 5) & 0x7fffffff, payload };
  }

  /** Frames up to and including the first matching one. */
  async until(pred: (f: Frame) => boolean, ms = 5000): Promise<Frame[]> {
    const seen: Frame[] = [];
    for (;;) {
      const f = await this.read(ms);
      if (f === null) throw new Error(`client closed; saw types ${seen.map((x) => x.type)}`);
      seen.push(f);
      if (pred(f)) return seen;
    }
  }

  /** Every frame until the client closes the connection. */
  async drain(ms = 5000): Promise<Frame[]> {
    const seen: Frame[] = [];
    for (;;) {
      const f = await this.read(ms);
      if (f === null) return seen;
      seen.push(f);
    }
  }

  close(): void {
    try {
      this.conn?.close();
    } catch {
      // already closed
    }
    this.listener.close();
  }
}

/** Collects unhandled rejections during `fn` (the runner would also fail on them). */
async function noUnhandled(fn: () => Promise<void>): Promise<void> {
  const seen: unknown[] = [];
  const on = (e: PromiseRejectionEvent) => {
    seen.push(e.reason);
    e.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", on);
  try {
    await fn();
    // Let any stray rejection surface.
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    globalThis.removeEventListener("unhandledrejection", on);
  }
  assert.deepEqual(seen, [], "unhandled rejections");
}

async function text(r: H2Response): Promise<string> {
  let s = "";
  for await (const c of r.body) s += td.decode(c);
  return s;
}

async function failure(p: Promise<unknown>): Promise<H2StreamError> {
  const e = await p.then(() => null, (x) => x);
  assert.ok(e instanceof H2StreamError, `expected H2StreamError, got ${e}`);
  return e;
}

const isHeaders = (sid: number) => (f: Frame) => f.type === FrameType.HEADERS && f.sid === sid;

/** Connects a client to a fresh peer; both are closed afterwards. */
async function withPeer(
  settings: [number, number][],
  fn: (peer: RawPeer, s: H2ClientSession) => Promise<void>,
  opts: { keepAliveIntervalMs?: number; keepAliveTimeoutMs?: number } = {},
): Promise<void> {
  const peer = new RawPeer();
  try {
    const [s] = await Promise.all([
      H2ClientSession.connect({ url: peer.url, ...opts }),
      peer.accept(settings),
    ]);
    try {
      await noUnhandled(() => fn(peer, s));
    } finally {
      s.destroy();
      await s.closed;
    }
  } finally {
    peer.close();
  }
}

Deno.test("h2 client peer: GOAWAY in the middle: lower streams finish, higher ones fail retryably", async () => {
  await withPeer([], async (peer, s) => {
    const a = s.request({ method: "GET", path: "/a" });
    const b = s.request({ method: "GET", path: "/b" });
    const c = s.request({ method: "GET", path: "/c" });
    await peer.until(isHeaders(5));
    const g = new ByteBuffer();
    writeGoaway(g, 3, ErrorCode.NO_ERROR, "shutting down");
    await peer.send(g.view());
    const ec = await failure(c.response);
    assert.equal(ec.code, ErrorCode.REFUSED_STREAM);
    assert.equal(ec.retryable, true);
    assert.equal(s.available, false);
    const late = (() => {
      try {
        s.request({ method: "GET", path: "/late" });
        return null;
      } catch (e) {
        return e;
      }
    })();
    assert.ok(late instanceof H2StreamError && late.retryable);
    // The streams at or below last-stream-id complete normally.
    await peer.respond(1, "one");
    await peer.respond(3, "three");
    assert.equal(await text(await a.response), "one");
    assert.equal(await text(await b.response), "three");
    // With nothing left, the client closes the connection itself.
    await peer.drain();
    const why = await s.closed;
    assert.ok(why instanceof H2StreamError && /GOAWAY/.test(why.message), String(why));
    await assert.rejects(s.ping(), H2StreamError);
  });
});

Deno.test("h2 client peer: the socket closed abruptly fails everything pending, nothing crashes", async () => {
  await withPeer([[Setting.MAX_CONCURRENT_STREAMS, 2]], async (peer, s) => {
    const reading = s.request({ method: "GET", path: "/r" });
    const writing = s.request({ method: "POST", path: "/w", body: "stream" });
    const queued = s.request({ method: "GET", path: "/q" });
    await writing.write(te.encode("part"));
    await peer.until((f) => f.type === FrameType.DATA && f.sid === 3);
    await peer.headers(1, [[":status", "200"]]);
    await peer.frame(FrameType.DATA, 0, 1, te.encode("partial"));
    const r = await reading.response;
    const it = r.body[Symbol.asyncIterator]();
    assert.equal(td.decode((await it.next()).value), "partial");
    const pendingPing = s.ping();
    peer.conn!.close();
    const eb = await failure(it.next());
    assert.equal(eb.retryable, false);
    await failure(r.trailers);
    await failure(writing.response);
    await failure(writing.write(te.encode("more")));
    const eq = await failure(queued.response);
    assert.equal(eq.retryable, true, "never sent, so safe to retry");
    await failure(pendingPing);
    const why = await s.closed;
    assert.ok(why instanceof Error && /closed by the server|lost/.test(why.message), String(why));
    assert.equal(s.available, false);
    const refused = (() => {
      try {
        s.request({ method: "GET", path: "/" });
      } catch (e) {
        return e;
      }
    })();
    assert.ok(refused instanceof H2StreamError && refused.retryable, String(refused));
  });
});

Deno.test("h2 client peer: RST_STREAM fails one stream (REFUSED_STREAM retryable), others go on", async () => {
  await withPeer([], async (peer, s) => {
    const a = s.request({ method: "GET", path: "/a" });
    const b = s.request({ method: "GET", path: "/b" });
    const c = s.request({ method: "GET", path: "/c" });
    await peer.until(isHeaders(5));
    await peer.frame(FrameType.RST_STREAM, 0, 1, u32(ErrorCode.REFUSED_STREAM));
    await peer.headers(3, [[":status", "200"]]);
    await peer.frame(FrameType.RST_STREAM, 0, 3, u32(ErrorCode.INTERNAL_ERROR));
    await peer.respond(5, "ok");
    const ea = await failure(a.response);
    assert.equal(ea.code, ErrorCode.REFUSED_STREAM);
    assert.equal(ea.retryable, true);
    const rb = await b.response;
    const eb = await failure(text(rb));
    assert.equal(eb.code, ErrorCode.INTERNAL_ERROR);
    assert.equal(eb.retryable, false);
    assert.equal(await text(await c.response), "ok");
    assert.equal(s.available, true);
    assert.equal(s.activeStreams, 0);
  });
});

Deno.test("h2 client peer: tiny windows: writes wait for WINDOW_UPDATE and INITIAL_WINDOW_SIZE changes", async () => {
  await withPeer([[Setting.INITIAL_WINDOW_SIZE, 1000]], async (peer, s) => {
    const st = s.request({ method: "POST", path: "/up", body: "stream" });
    const data = new Uint8Array(5000).map((_, i) => i & 0xff);
    const w = st.write(data);
    let got = 0;
    const received: number[] = [];
    const readData = async (n: number) => {
      while (got < n) {
        const f = await peer.read();
        assert.ok(f !== null);
        if (f.type !== FrameType.DATA) continue;
        received.push(...f.payload);
        got += f.payload.length;
      }
    };
    await readData(1000);
    assert.equal(got, 1000, "no more than the window");
    let done = false;
    w.then(() => done = true);
    await peer.frame(FrameType.WINDOW_UPDATE, 0, 1, u32(1500));
    await readData(2500);
    assert.equal(got, 2500);
    assert.equal(done, false);
    // A larger INITIAL_WINDOW_SIZE opens every stream's window by the difference.
    const b = new ByteBuffer();
    writeSettings(b, [[Setting.INITIAL_WINDOW_SIZE, 3500]]);
    await peer.send(b.view());
    await readData(5000);
    await w;
    assert.deepEqual(Uint8Array.from(received), data);
    st.end();
    const [end] = (await peer.until((f) => f.type === FrameType.DATA)).slice(-1);
    assert.equal(end.flags & Flag.END_STREAM, Flag.END_STREAM);
    assert.equal(end.payload.length, 0);
    await peer.respond(1, "thanks");
    assert.equal(await text(await st.response), "thanks");
  });
});

Deno.test("h2 client peer: a whole body may be reused once request() returns, even if not sent yet", async () => {
  await withPeer(
    [[Setting.INITIAL_WINDOW_SIZE, 1000], [Setting.MAX_CONCURRENT_STREAMS, 1]],
    async (peer, s) => {
      const a = new Uint8Array(3000).map((_, i) => i & 0xff);
      const b = new Uint8Array(500).fill(9);
      const sa = s.request({ method: "POST", path: "/a", body: a }); // window-blocked after 1000
      const sb = s.request({ method: "POST", path: "/b", body: b }); // queued for a slot
      a.fill(0xee);
      b.fill(0xee);
      const got = new Map<number, number[]>();
      const readUntilEnd = async (sid: number) => {
        for (;;) {
          const f = await peer.read();
          assert.ok(f !== null);
          if (f.type !== FrameType.DATA) continue;
          got.set(f.sid, [...(got.get(f.sid) ?? []), ...f.payload]);
          if (f.sid === sid && f.flags & Flag.END_STREAM) return;
        }
      };
      await peer.frame(FrameType.WINDOW_UPDATE, 0, 1, u32(5000));
      await readUntilEnd(1);
      assert.deepEqual(got.get(1), [...new Uint8Array(3000).map((_, i) => i & 0xff)]);
      await peer.respond(1, "a");
      await readUntilEnd(3);
      assert.deepEqual(got.get(3), [...new Uint8Array(500).fill(9)]);
      await peer.respond(3, "b");
      assert.equal(await text(await sa.response), "a");
      assert.equal(await text(await sb.response), "b");
    },
  );
});

Deno.test("h2 client peer: SETTINGS changes mid-connection: more streams let queued requests in; a smaller window goes negative", async () => {
  await withPeer(
    [[Setting.MAX_CONCURRENT_STREAMS, 1], [Setting.INITIAL_WINDOW_SIZE, 4000]],
    async (peer, s) => {
      const first = s.request({ method: "POST", path: "/1", body: "stream" });
      const second = s.request({ method: "GET", path: "/2" });
      await first.write(new Uint8Array(3000));
      await peer.until((f) => f.type === FrameType.DATA && f.sid === 1);
      assert.equal(second.id, 0, "queued behind the limit of 1");
      // The limit goes up and the window down to 1000: stream 1 has -2000 left.
      const b = new ByteBuffer();
      writeSettings(b, [[Setting.MAX_CONCURRENT_STREAMS, 5], [Setting.INITIAL_WINDOW_SIZE, 1000]]);
      await peer.send(b.view());
      await peer.until(isHeaders(3));
      assert.equal(second.id, 3);
      let done = false;
      const w = first.write(new Uint8Array(500).fill(1)).then(() => done = true);
      await peer.respond(3, "second");
      assert.equal(await text(await second.response), "second");
      assert.equal(done, false, "nothing may be sent from a negative window");
      // 2000 credit brings it back to 0, 500 more lets the write through.
      await peer.frame(FrameType.WINDOW_UPDATE, 0, 1, u32(2000));
      await peer.frame(FrameType.WINDOW_UPDATE, 0, 1, u32(500));
      const [d] = (await peer.until((f) => f.type === FrameType.DATA && f.sid === 1)).slice(-1);
      assert.equal(d.payload.length, 500);
      await w;
      first.reset();
      const [rst] = (await peer.until((f) => f.type === FrameType.RST_STREAM)).slice(-1);
      assert.equal(readU32(rst.payload, 0), ErrorCode.CANCEL);
      await failure(first.response);
    },
  );
});

Deno.test("h2 client peer: DATA frames keep to MAX_FRAME_SIZE; a big header block uses CONTINUATION", async () => {
  await withPeer([[Setting.INITIAL_WINDOW_SIZE, 1 << 20]], async (peer, s) => {
    const big = "v".repeat(40000);
    const body = new Uint8Array(40000).fill(7);
    const st = s.request({ method: "POST", path: "/p", headers: [["x-big", big]], body });
    const frames = await peer.until((f) =>
      (f.flags & Flag.END_STREAM) !== 0 && f.type === FrameType.DATA
    );
    const hdr = frames.filter((f) =>
      f.type === FrameType.HEADERS || f.type === FrameType.CONTINUATION
    );
    assert.ok(hdr.length >= 2, "split into HEADERS + CONTINUATION");
    assert.ok(hdr.every((f) => f.payload.length <= 16384));
    const block = new Uint8Array(hdr.reduce((n, f) => n + f.payload.length, 0));
    let o = 0;
    for (const f of hdr) {
      block.set(f.payload, o);
      o += f.payload.length;
    }
    assert.deepEqual(new Map(peer.decode(block)).get("x-big"), big);
    const data = frames.filter((f) => f.type === FrameType.DATA);
    assert.ok(data.every((f) => f.payload.length <= 16384));
    assert.equal(data.reduce((n, f) => n + f.payload.length, 0), 40000);
    await peer.respond(1, "");
    assert.equal((await st.response).status, 200);
  });
});

Deno.test("h2 client peer: with huge windows but a peer that does not read, writes stop (bounded memory)", async () => {
  await withPeer([[Setting.INITIAL_WINDOW_SIZE, 0x7fffffff]], async (peer, s) => {
    await peer.frame(FrameType.WINDOW_UPDATE, 0, 0, u32(0x7fffffff - 65535));
    const st = s.request({ method: "POST", path: "/up", body: "stream" });
    const chunk = new Uint8Array(1 << 20).fill(3);
    const total = 64;
    let resolved = 0;
    const writes = Array.from({ length: total }, () => st.write(chunk).then(() => void resolved++));
    // The peer reads nothing: only what the socket buffers take (a few MiB on loopback) plus
    // the client's own output high-water mark can be handed over.
    let last = -1;
    while (resolved !== last) {
      last = resolved;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(resolved < 16, `${resolved} MiB handed over to a peer that reads nothing`);
    // Once the peer reads, everything goes through.
    let got = 0;
    while (got < total * chunk.length) {
      const f = await peer.read();
      assert.ok(f !== null);
      if (f.type === FrameType.DATA) got += f.payload.length;
    }
    await Promise.all(writes);
    st.reset();
  });
});

Deno.test("h2 client peer: the connect signal destroys the session later", async () => {
  const peer = new RawPeer();
  try {
    const ac = new AbortController();
    const [s] = await Promise.all([
      H2ClientSession.connect({ url: peer.url, signal: ac.signal }),
      peer.accept(),
    ]);
    const st = s.request({ method: "GET", path: "/x" });
    await peer.until(isHeaders(1));
    const reason = new Error("member stopping");
    ac.abort(reason);
    assert.equal(await s.closed, reason);
    assert.equal((await failure(st.response)).code, ErrorCode.CANCEL);
    assert.equal(s.available, false);
  } finally {
    peer.close();
  }
});

Deno.test("h2 client peer: a header list that HPACK expands past 1 MiB fails only its stream", async () => {
  await withPeer([], async (peer, s) => {
    const bomb = s.request({ method: "GET", path: "/bomb" });
    const fine = s.request({ method: "GET", path: "/fine" });
    await peer.until(isHeaders(3));
    // One 4000-octet field into the dynamic table, then 300 one-octet references to it.
    const b = new ByteBuffer();
    writeInt(b, 0x80, 7, 8); // :status 200
    writeInt(b, 0x40, 6, 0);
    writeStrPlain(b, "x-big");
    writeStrPlain(b, "a".repeat(4000));
    for (let i = 0; i < 300; i++) writeInt(b, 0x80, 7, 62);
    const block = b.view().slice();
    let off = 0;
    for (let first = true; off < block.length; first = false) {
      const n = Math.min(16384, block.length - off);
      const end = off + n === block.length ? Flag.END_HEADERS : 0;
      await peer.frame(
        first ? FrameType.HEADERS : FrameType.CONTINUATION,
        end | (first ? Flag.END_STREAM : 0),
        1,
        block.subarray(off, off + n),
      );
      off += n;
    }
    const e = await failure(bomb.response);
    assert.equal(e.code, ErrorCode.PROTOCOL_ERROR);
    assert.match(e.message, /header list/);
    await peer.respond(3, "still fine");
    assert.equal(await text(await fine.response), "still fine");
  });
});

Deno.test("h2 client peer: 1xx heads are skipped; padding is credited; trailers arrive", async () => {
  await withPeer([], async (peer, s) => {
    const st = s.request({ method: "GET", path: "/x" });
    await peer.until(isHeaders(1));
    await peer.headers(1, [[":status", "103"], ["link", "</a>"]]);
    await peer.headers(1, [[":status", "200"], ["x-h", "1"]]);
    // Padded DATA: pad length 10, 5 data octets, 10 padding octets.
    const padded = new Uint8Array(16);
    padded[0] = 10;
    padded.set(te.encode("hello"), 1);
    await peer.frame(FrameType.DATA, Flag.PADDED, 1, padded);
    await peer.headers(1, [["grpc-status", "0"]], Flag.END_HEADERS | Flag.END_STREAM);
    const r = await st.response;
    assert.equal(r.status, 200);
    assert.deepEqual(r.headers, [["x-h", "1"]]);
    assert.equal(await text(r), "hello");
    assert.deepEqual(await r.trailers, [["grpc-status", "0"]]);
    // The server's PING is answered with its payload.
    await peer.frame(FrameType.PING, 0, 0, te.encode("12345678"));
    const [ack] = (await peer.until((f) => f.type === FrameType.PING)).slice(-1);
    assert.equal(ack.flags & Flag.ACK, Flag.ACK);
    assert.equal(td.decode(ack.payload), "12345678");
  });
});

Deno.test("h2 client peer: a protocol error from the server ends the connection with GOAWAY", async () => {
  await withPeer([], async (peer, s) => {
    const st = s.request({ method: "GET", path: "/x" });
    await peer.until(isHeaders(1));
    await peer.frame(FrameType.DATA, 0, 0, te.encode("stream zero")); // DATA on stream 0
    const [goaway] = (await peer.until((f) => f.type === FrameType.GOAWAY)).slice(-1);
    assert.equal(readU32(goaway.payload, 4), ErrorCode.PROTOCOL_ERROR);
    const e = await failure(st.response);
    assert.equal(e.code, ErrorCode.PROTOCOL_ERROR);
    const why = await s.closed;
    assert.ok(why instanceof H2StreamError && why.code === ErrorCode.PROTOCOL_ERROR);
  });
  await withPeer([], async (peer, s) => {
    const st = s.request({ method: "GET", path: "/x" });
    await peer.until(isHeaders(1));
    // A frame longer than our MAX_FRAME_SIZE (16384).
    const b = new ByteBuffer();
    writeFrameHeader(b, 20000, FrameType.DATA, 0, 1);
    await peer.send(b.view());
    const e = await failure(st.response);
    assert.equal(e.code, ErrorCode.FRAME_SIZE_ERROR);
  });
});

Deno.test("h2 client peer: a server that is not HTTP/2 or never answers fails connect()", async () => {
  await noUnhandled(async () => {
    const peer = new RawPeer();
    try {
      const c = H2ClientSession.connect({ url: peer.url });
      const conn = await peer.listener.accept();
      await conn.write(te.encode("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n"));
      const e = await failure(c);
      assert.equal(e.code, ErrorCode.PROTOCOL_ERROR);
      conn.close();

      const t0 = performance.now();
      const slow = H2ClientSession.connect({ url: peer.url, connectTimeoutMs: 150 });
      const silent = await peer.listener.accept();
      const es = await failure(slow);
      assert.match(es.message, /longer than 150 ms/);
      assert.ok(performance.now() - t0 < 2000);
      silent.close();

      const ac = new AbortController();
      const aborted = H2ClientSession.connect({ url: peer.url, signal: ac.signal });
      const quiet = await peer.listener.accept();
      ac.abort(new Error("caller gave up"));
      await assert.rejects(aborted, /caller gave up/);
      quiet.close();
    } finally {
      peer.close();
    }
  });
});

Deno.test("h2 client peer: keep-alive PINGs an idle connection and closes it when unanswered", async () => {
  await withPeer([], async (peer, s) => {
    // Answered: the session stays up across several keep-alive rounds.
    for (let i = 0; i < 3; i++) {
      const [p] = (await peer.until((f) => f.type === FrameType.PING)).slice(-1);
      assert.equal(p.flags & Flag.ACK, 0);
      await peer.frame(FrameType.PING, Flag.ACK, 0, p.payload);
    }
    assert.equal(s.available, true);
    // Unanswered: the session is destroyed after keepAliveTimeoutMs.
    await peer.until((f) => f.type === FrameType.PING);
    const why = await s.closed;
    assert.ok(why instanceof H2StreamError && /keep-alive/.test(why.message), String(why));
    assert.equal(s.available, false);
  }, { keepAliveIntervalMs: 30, keepAliveTimeoutMs: 400 });
});

Deno.test("h2 client peer: destroy() fails open streams; close() sends GOAWAY and waits for them", async () => {
  await withPeer([], async (peer, s) => {
    const st = s.request({ method: "GET", path: "/x" });
    await peer.until(isHeaders(1));
    const closing = s.close(5000);
    const [g] = (await peer.until((f) => f.type === FrameType.GOAWAY)).slice(-1);
    assert.equal(readU32(g.payload, 4), ErrorCode.NO_ERROR);
    assert.equal(s.available, false);
    await peer.respond(1, "last");
    assert.equal(await text(await st.response), "last");
    await closing;
    assert.equal(await s.closed, null);
  });
  await withPeer([], async (peer, s) => {
    const st = s.request({ method: "GET", path: "/x" });
    await peer.until(isHeaders(1));
    const reason = new Error("shutting down the member");
    s.destroy(reason);
    const e = await failure(st.response);
    assert.equal(e.code, ErrorCode.CANCEL);
    assert.equal(await s.closed, reason);
  });
});

Deno.test("h2 client peer: a late PING ACK does not close a connection that is still delivering frames", async () => {
  await withPeer([], async (peer, s) => {
    const [p] = (await peer.until((f) => f.type === FrameType.PING)).slice(-1);
    // three keep-alive timeouts without the ACK, but a frame from the peer every 100 ms
    const increment = u32(1);
    for (let i = 0; i < 12; i++) {
      await peer.frame(FrameType.WINDOW_UPDATE, 0, 0, increment);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(s.available, true, `closed after ${(i + 1) * 100} ms while frames arrived`);
    }
    await peer.frame(FrameType.PING, Flag.ACK, 0, p.payload);
    // the next round is answered at once: the session is still up and still keeping alive
    const [q] = (await peer.until((f) => f.type === FrameType.PING && f !== p)).slice(-1);
    await peer.frame(FrameType.PING, Flag.ACK, 0, q.payload);
    assert.equal(s.available, true);
  }, { keepAliveIntervalMs: 30, keepAliveTimeoutMs: 400 });
});
