import assert from "node:assert/strict";
import { ErrorCode, Flag, FrameType, readU32, Setting } from "../../lib/http/frame.ts";
import { describe, type Frame, goawayCode, RawH2, req, u32 } from "./h2_raw_client.ts";
import { waitFor, withServer } from "./test_server.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** Open a connection and consume the server's SETTINGS (and its connection WINDOW_UPDATE). */
async function open(port: number, settings: [number, number][] = []): Promise<RawH2> {
  const c = await RawH2.connect(port, { settings });
  const first = await c.read();
  assert.ok(first !== null && first.type === FrameType.SETTINGS, "server SETTINGS first");
  await c.frame(FrameType.SETTINGS, Flag.ACK, 0);
  return c;
}

/** Collect one stream's response: headers, body, trailers, or its RST_STREAM code. */
async function response(c: RawH2, sid: number) {
  let headers: [string, string][] | null = null;
  let trailers: [string, string][] | null = null;
  const body: number[] = [];
  for (;;) {
    const f = await c.read();
    if (f === null) throw new Error("closed before the response ended");
    if (f.sid !== sid) continue;
    if (f.type === FrameType.RST_STREAM) {
      return { headers, body: Uint8Array.from(body), trailers, rst: readU32(f.payload, 0) };
    }
    if (f.type === FrameType.HEADERS) {
      const h = c.decode(f.payload);
      if (headers === null) headers = h;
      else trailers = h;
    }
    if (f.type === FrameType.DATA) body.push(...f.payload);
    if (f.flags & Flag.END_STREAM && f.type !== FrameType.PING) {
      return { headers, body: Uint8Array.from(body), trailers, rst: -1 };
    }
  }
}

function status(h: [string, string][] | null): string | undefined {
  return h?.find(([n]) => n === ":status")?.[1];
}

async function expectGoaway(c: RawH2, code: number): Promise<void> {
  const frames = await c.drain();
  const g = frames.find((f) => f.type === FrameType.GOAWAY);
  assert.ok(g !== undefined, `GOAWAY expected, got ${describe(frames)}`);
  assert.equal(goawayCode(g), code, `GOAWAY code (frames ${describe(frames)})`);
}

async function expectRst(c: RawH2, sid: number, code: number): Promise<void> {
  const frames = await c.until((f) => f.type === FrameType.RST_STREAM && f.sid === sid);
  assert.equal(readU32(frames[frames.length - 1].payload, 0), code);
}

Deno.test("h2: request with body, response with body and trailers", async () => {
  await withServer({}, async (server) => {
    const c = await open(server.port);
    try {
      await c.headers(1, req("/echo", [["content-type", "application/x-test"]]), Flag.END_HEADERS);
      await c.frame(FrameType.DATA, 0, 1, te.encode("hello "));
      await c.frame(FrameType.DATA, Flag.END_STREAM, 1, te.encode("world"));
      const r = await response(c, 1);
      assert.equal(status(r.headers), "200");
      assert.equal(td.decode(r.body), "hello world");
      assert.deepEqual(r.trailers, [["x-sum", "1116"]]);
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: padded HEADERS and DATA, header block split over CONTINUATION", async () => {
  await withServer({}, async (server) => {
    const c = await open(server.port);
    try {
      const block = c.block(req("/echo", [["x-long", "y".repeat(300)]]));
      await c.frame(
        FrameType.HEADERS,
        Flag.PADDED,
        1,
        Uint8Array.of(3, ...block.slice(0, 10), 0, 0, 0),
      );
      await c.frame(FrameType.CONTINUATION, 0, 1, block.slice(10, 100));
      await c.frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, block.slice(100));
      await c.frame(
        FrameType.DATA,
        Flag.PADDED | Flag.END_STREAM,
        1,
        Uint8Array.of(2, 65, 66, 0, 0),
      );
      const r = await response(c, 1);
      assert.equal(status(r.headers), "200");
      assert.equal(td.decode(r.body), "AB");
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: any :authority is accepted, etcdctl's scheme-prefixed one included", async () => {
  await withServer({}, async (server) => {
    const c = await open(server.port);
    try {
      const h = req("/url").map(([n, v]): [string, string] =>
        n === ":authority" ? [n, "http://127.0.0.1:2379"] : [n, v]
      );
      await c.headers(1, h, Flag.END_HEADERS | Flag.END_STREAM);
      const r = await response(c, 1);
      assert.equal(td.decode(r.body), "http://127.0.0.1:2379/url");
      const bad = req("/url").map(([n, v]): [string, string] =>
        n === ":authority" ? [n, "bad host^"] : [n, v]
      );
      await c.headers(3, bad, Flag.END_HEADERS | Flag.END_STREAM);
      const r2 = await response(c, 3);
      assert.equal(td.decode(r2.body), `http://127.0.0.1:${server.port}/url`);
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: PING is answered with the same payload", async () => {
  await withServer({}, async (server) => {
    const c = await open(server.port);
    try {
      await c.frame(FrameType.PING, 0, 0, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
      const frames = await c.until((f) => f.type === FrameType.PING);
      const ping = frames[frames.length - 1];
      assert.equal(ping.flags, Flag.ACK);
      assert.deepEqual([...ping.payload], [1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: flow control: a 1 MiB response to a client with a 1000-octet window completes", async () => {
  await withServer({}, async (server) => {
    const c = await open(server.port, [[Setting.INITIAL_WINDOW_SIZE, 1000], [
      Setting.MAX_FRAME_SIZE,
      16384,
    ]]);
    try {
      const n = 1024 * 1024;
      await c.headers(1, req(`/big/${n}`), Flag.END_HEADERS | Flag.END_STREAM);
      let got = 0;
      let maxFrame = 0;
      let ok = true;
      for (;;) {
        const f = await c.read();
        assert.ok(f !== null);
        if (f.sid !== 1) continue;
        if (f.type === FrameType.RST_STREAM) assert.fail("stream reset");
        if (f.type === FrameType.DATA) {
          for (let i = 0; i < f.payload.length; i++) {
            if (f.payload[i] !== ((got + i) & 0xff)) ok = false;
          }
          got += f.payload.length;
          maxFrame = Math.max(maxFrame, f.payload.length);
          // Return exactly what was used, per stream and per connection, like a slow reader.
          if (f.payload.length > 0) {
            await c.frame(FrameType.WINDOW_UPDATE, 0, 1, u32(f.payload.length));
            await c.frame(FrameType.WINDOW_UPDATE, 0, 0, u32(f.payload.length));
          }
        }
        if (f.flags & Flag.END_STREAM) break;
      }
      assert.equal(got, n);
      assert.ok(ok, "body octets intact");
      assert.ok(maxFrame <= 1000, `no frame beyond the window (max ${maxFrame})`);
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: the server honours the peer's SETTINGS_MAX_FRAME_SIZE and windows from SETTINGS", async () => {
  await withServer({}, async (server) => {
    const c = await open(server.port, [[Setting.INITIAL_WINDOW_SIZE, 0]]);
    try {
      await c.headers(1, req("/big/40000"), Flag.END_HEADERS | Flag.END_STREAM);
      const first = await c.until((f) => f.sid === 1 && f.type === FrameType.HEADERS);
      assert.ok(first.length >= 1);
      // Window 0: no DATA until the window opens through SETTINGS.
      await c.frame(FrameType.PING, 0, 0, new Uint8Array(8));
      const before = await c.until((f) => f.type === FrameType.PING);
      assert.ok(!before.some((f) => f.type === FrameType.DATA), describe(before));
      await c.frame(FrameType.SETTINGS, 0, 0, Uint8Array.of(0, 4, ...u32(100000)));
      let got = 0;
      for (;;) {
        const f = await c.read();
        assert.ok(f !== null);
        if (f.type === FrameType.DATA && f.sid === 1) {
          assert.ok(f.payload.length <= 16384);
          got += f.payload.length;
          if (f.flags & Flag.END_STREAM) break;
        }
      }
      assert.equal(got, 40000);
    } finally {
      c.close();
    }
  });
});

interface ConnCase {
  name: string;
  code: number;
  frames: (c: RawH2) => Uint8Array[];
}

const F = RawH2.frame;
const connCases: ConnCase[] = [
  {
    name: "DATA on stream 0",
    code: ErrorCode.PROTOCOL_ERROR,
    frames: () => [F(FrameType.DATA, 0, 0, te.encode("x"))],
  },
  {
    name: "DATA on an idle stream",
    code: ErrorCode.PROTOCOL_ERROR,
    frames: () => [F(FrameType.DATA, 0, 5, te.encode("x"))],
  },
  {
    name: "HEADERS on an even stream",
    code: ErrorCode.PROTOCOL_ERROR,
    frames: (c) => [F(FrameType.HEADERS, Flag.END_HEADERS, 2, c.block(req("/url")))],
  },
  {
    name: "HEADERS on stream 0",
    code: ErrorCode.PROTOCOL_ERROR,
    frames: (c) => [F(FrameType.HEADERS, Flag.END_HEADERS, 0, c.block(req("/url")))],
  },
  {
    name: "frame larger than SETTINGS_MAX_FRAME_SIZE",
    code: ErrorCode.FRAME_SIZE_ERROR,
    frames: () => [F(FrameType.DATA, 0, 1, new Uint8Array(16385))],
  },
  {
    name: "CONTINUATION without HEADERS",
    code: ErrorCode.PROTOCOL_ERROR,
    frames: (c) => [F(FrameType.CONTINUATION, Flag.END_HEADERS, 1, c.block(req("/url")))],
  },
  {
    name: "another frame between HEADERS and CONTINUATION",
    code: ErrorCode.PROTOCOL_ERROR,
    frames: (c) => [
      F(FrameType.HEADERS, 0, 1, c.block(req("/url"))),
      F(FrameType.PING, 0, 0, new Uint8Array(8)),
    ],
  },
  {
    name: "CONTINUATION for another stream",
    code: ErrorCode.PROTOCOL_ERROR,
    frames: (c) => [
      F(FrameType.HEADERS, 0, 1, c.block(req("/url"))),
      F(FrameType.CONTINUATION, Flag.END_HEADERS, 3, new Uint8Array()),
    ],
  },
  {
    name: "undecodable header block",
    code: ErrorCode.COMPRESSION_ERROR,
    frames: () => [F(FrameType.HEADERS, Flag.END_HEADERS, 1, Uint8Array.of(0xbf))],
  },
  {
    name: "SETTINGS with a partial entry",
    code: ErrorCode.FRAME_SIZE_ERROR,
    frames: () => [F(FrameType.SETTINGS, 0, 0, new Uint8Array(5))],
  },
  {
    name: "SETTINGS ACK with a payload",
    code: ErrorCode.FRAME_SIZE_ERROR,
    frames: () => [F(FrameType.SETTINGS, Flag.ACK, 0, new Uint8Array(6))],
  },
  {
    name: "SETTINGS on a stream",
    code: ErrorCode.PROTOCOL_ERROR,
    frames: () => [F(FrameType.SETTINGS, 0, 1, new Uint8Array())],
  },
  {
    name: "SETTINGS_ENABLE_PUSH = 2",
    code: ErrorCode.PROTOCOL_ERROR,
    frames: () => [F(FrameType.SETTINGS, 0, 0, Uint8Array.of(0, 2, ...u32(2)))],
  },
  {
    name: "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
    code: ErrorCode.FLOW_CONTROL_ERROR,
    frames: () => [F(FrameType.SETTINGS, 0, 0, Uint8Array.of(0, 4, ...u32(0x80000000)))],
  },
  {
    name: "SETTINGS_MAX_FRAME_SIZE below 16384",
    code: ErrorCode.PROTOCOL_ERROR,
    frames: () => [F(FrameType.SETTINGS, 0, 0, Uint8Array.of(0, 5, ...u32(100)))],
  },
  {
    name: "PING with 7 octets",
    code: ErrorCode.FRAME_SIZE_ERROR,
    frames: () => [F(FrameType.PING, 0, 0, new Uint8Array(7))],
  },
  {
    name: "PING on a stream",
    code: ErrorCode.PROTOCOL_ERROR,
    frames: () => [F(FrameType.PING, 0, 1, new Uint8Array(8))],
  },
  {
    name: "WINDOW_UPDATE of 0 on the connection",
    code: ErrorCode.PROTOCOL_ERROR,
    frames: () => [F(FrameType.WINDOW_UPDATE, 0, 0, u32(0))],
  },
  {
    name: "connection window overflow",
    code: ErrorCode.FLOW_CONTROL_ERROR,
    frames: () => [F(FrameType.WINDOW_UPDATE, 0, 0, u32(0x7fffffff))],
  },
  {
    name: "WINDOW_UPDATE with 3 octets",
    code: ErrorCode.FRAME_SIZE_ERROR,
    frames: () => [F(FrameType.WINDOW_UPDATE, 0, 0, new Uint8Array(3))],
  },
  {
    name: "RST_STREAM on an idle stream",
    code: ErrorCode.PROTOCOL_ERROR,
    frames: () => [F(FrameType.RST_STREAM, 0, 7, u32(8))],
  },
  {
    name: "RST_STREAM on stream 0",
    code: ErrorCode.PROTOCOL_ERROR,
    frames: () => [F(FrameType.RST_STREAM, 0, 0, u32(8))],
  },
  {
    name: "PUSH_PROMISE from a client",
    code: ErrorCode.PROTOCOL_ERROR,
    frames: () => [F(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, u32(2))],
  },
  {
    name: "GOAWAY on a stream",
    code: ErrorCode.PROTOCOL_ERROR,
    frames: () => [F(FrameType.GOAWAY, 0, 1, new Uint8Array(8))],
  },
  {
    name: "HEADERS reusing a closed stream id",
    code: ErrorCode.STREAM_CLOSED,
    frames: (c) => [
      F(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 5, c.block(req("/url"))),
      F(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 3, c.block(req("/url"))),
    ],
  },
];

for (const tc of connCases) {
  Deno.test(`h2 connection error: ${tc.name}`, async () => {
    // A small connection window makes the window case cheap.
    await withServer({ connectionWindow: 65535, streamWindow: 1 << 20 }, async (server) => {
      const c = await open(server.port);
      try {
        for (const f of tc.frames(c)) await c.send(f);
        await expectGoaway(c, tc.code);
      } finally {
        c.close();
      }
    });
  });
}

Deno.test("h2 connection error: broken preface is HTTP/1.1 (505); non-SETTINGS first frame", async () => {
  await withServer({}, async (server) => {
    const c = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      await c.write(te.encode("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"));
      const buf = new Uint8Array(1024);
      const n = await c.read(buf);
      assert.match(td.decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 505 /);
    } finally {
      c.close();
    }
    const c2 = await RawH2.connect(server.port, { preface: false });
    try {
      await c2.send(te.encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
      await c2.frame(FrameType.PING, 0, 0, new Uint8Array(8));
      await expectGoaway(c2, ErrorCode.PROTOCOL_ERROR);
    } finally {
      c2.close();
    }
  });
});

interface StreamCase {
  name: string;
  code: number;
  send: (c: RawH2) => Promise<void>;
}

const H = (c: RawH2, fields: [string, string][], flags = Flag.END_HEADERS | Flag.END_STREAM) =>
  c.headers(1, fields, flags);
const streamCases: StreamCase[] = [
  {
    name: "missing :path",
    code: ErrorCode.PROTOCOL_ERROR,
    send: (c) => H(c, [[":method", "GET"], [":scheme", "http"]]),
  },
  {
    name: "upper-case field name",
    code: ErrorCode.PROTOCOL_ERROR,
    send: (c) => H(c, req("/url", [["X-Up", "1"]])),
  },
  {
    name: "connection-specific field",
    code: ErrorCode.PROTOCOL_ERROR,
    send: (c) => H(c, req("/url", [["connection", "keep-alive"]])),
  },
  {
    name: "pseudo-header after a regular field",
    code: ErrorCode.PROTOCOL_ERROR,
    send: (c) => H(c, [[":method", "GET"], ["x-a", "1"], [":scheme", "http"], [":path", "/"]]),
  },
  {
    name: "unknown pseudo-header",
    code: ErrorCode.PROTOCOL_ERROR,
    send: (c) => H(c, req("/url", [[":bogus", "1"]]).slice(0, 4).concat([[":bogus", "1"]])),
  },
  {
    name: "duplicate :path",
    code: ErrorCode.PROTOCOL_ERROR,
    send: (c) => H(c, [...req("/url").slice(0, 4), [":path", "/x"]]),
  },
  {
    name: "te other than trailers",
    code: ErrorCode.PROTOCOL_ERROR,
    send: (c) => H(c, req("/url", [["te", "gzip"]])),
  },
  {
    name: "field value with a newline",
    code: ErrorCode.PROTOCOL_ERROR,
    send: (c) => H(c, req("/url", [["x-a", "a\nb"]])),
  },
  {
    name: "content-length larger than the body",
    code: ErrorCode.PROTOCOL_ERROR,
    send: async (c) => {
      await H(c, req("/echo", [["content-length", "10"]]), Flag.END_HEADERS);
      await c.frame(FrameType.DATA, Flag.END_STREAM, 1, te.encode("abc"));
    },
  },
  {
    name: "body longer than content-length",
    code: ErrorCode.PROTOCOL_ERROR,
    send: async (c) => {
      await H(c, req("/echo", [["content-length", "1"]]), Flag.END_HEADERS);
      await c.frame(FrameType.DATA, Flag.END_STREAM, 1, te.encode("abc"));
    },
  },
  {
    name: "DATA beyond the stream window",
    code: ErrorCode.FLOW_CONTROL_ERROR,
    send: async (c) => {
      await H(c, req("/hang"), Flag.END_HEADERS);
      for (let i = 0; i < 5; i++) await c.frame(FrameType.DATA, 0, 1, new Uint8Array(16384));
    },
  },
  {
    name: "DATA after END_STREAM",
    code: ErrorCode.STREAM_CLOSED,
    send: async (c) => {
      await H(c, req("/hang"));
      await c.frame(FrameType.DATA, 0, 1, te.encode("late"));
    },
  },
  {
    name: "trailers without END_STREAM",
    code: ErrorCode.PROTOCOL_ERROR,
    send: async (c) => {
      await H(c, req("/hang"), Flag.END_HEADERS);
      await c.headers(1, [["x-t", "1"]], Flag.END_HEADERS);
    },
  },
  {
    name: "pseudo-header in trailers",
    code: ErrorCode.PROTOCOL_ERROR,
    send: async (c) => {
      await H(c, req("/hang"), Flag.END_HEADERS);
      await c.headers(1, [[":path", "/"]], Flag.END_HEADERS | Flag.END_STREAM);
    },
  },
  {
    name: "WINDOW_UPDATE of 0 on a stream",
    code: ErrorCode.PROTOCOL_ERROR,
    send: async (c) => {
      await H(c, req("/hang"), Flag.END_HEADERS);
      await c.frame(FrameType.WINDOW_UPDATE, 0, 1, u32(0));
    },
  },
  {
    name: "stream window overflow",
    code: ErrorCode.FLOW_CONTROL_ERROR,
    send: async (c) => {
      await H(c, req("/hang"), Flag.END_HEADERS);
      await c.frame(FrameType.WINDOW_UPDATE, 0, 1, u32(0x7fffffff));
    },
  },
  {
    name: "PRIORITY with a bad length",
    code: ErrorCode.FRAME_SIZE_ERROR,
    send: (c) => c.frame(FrameType.PRIORITY, 0, 1, new Uint8Array(4)),
  },
  {
    name: "stream depending on itself",
    code: ErrorCode.PROTOCOL_ERROR,
    send: (c) => c.frame(FrameType.PRIORITY, 0, 1, Uint8Array.of(0, 0, 0, 1, 16)),
  },
];

for (const tc of streamCases) {
  Deno.test(`h2 stream error: ${tc.name}`, async () => {
    await withServer({ streamWindow: 65535 }, async (server) => {
      const c = await open(server.port);
      try {
        await tc.send(c);
        await expectRst(c, 1, tc.code);
        // The connection survives a stream error.
        await c.headers(3, req("/url"), Flag.END_HEADERS | Flag.END_STREAM);
        const r = await response(c, 3);
        assert.equal(status(r.headers), "200");
      } finally {
        c.close();
      }
    });
  });
}

Deno.test("h2: streams beyond SETTINGS_MAX_CONCURRENT_STREAMS are refused", async () => {
  await withServer({ maxConcurrentStreams: 2 }, async (server, obs) => {
    const c = await open(server.port);
    try {
      await c.headers(1, req("/hang"), Flag.END_HEADERS | Flag.END_STREAM);
      await c.headers(3, req("/hang"), Flag.END_HEADERS | Flag.END_STREAM);
      await c.headers(5, req("/hang"), Flag.END_HEADERS | Flag.END_STREAM);
      await expectRst(c, 5, ErrorCode.REFUSED_STREAM);
      assert.equal(obs.requests, 2);
      await c.frame(FrameType.RST_STREAM, 0, 1, u32(ErrorCode.CANCEL));
      await waitFor(() => obs.aborted === 1, "abort of stream 1");
      await c.headers(7, req("/url"), Flag.END_HEADERS | Flag.END_STREAM);
      const r = await response(c, 7);
      assert.equal(status(r.headers), "200");
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: a header list over the limit gets 431, and the HPACK state stays in step", async () => {
  await withServer({ maxHeaderListSize: 1000 }, async (server) => {
    const c = await open(server.port);
    try {
      await c.headers(
        1,
        req("/url", [["x-big", "z".repeat(2000)]]),
        Flag.END_HEADERS | Flag.END_STREAM,
      );
      const r = await response(c, 1);
      assert.equal(status(r.headers), "431");
      await c.headers(
        3,
        req("/url", [["x-big", "z".repeat(2000)]]),
        Flag.END_HEADERS | Flag.END_STREAM,
      );
      assert.equal(status((await response(c, 3)).headers), "431");
      await c.headers(5, req("/url"), Flag.END_HEADERS | Flag.END_STREAM);
      assert.equal(status((await response(c, 5)).headers), "200");
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: endless CONTINUATION is cut off with ENHANCE_YOUR_CALM", async () => {
  await withServer({ maxContinuationFrames: 8 }, async (server) => {
    const c = await open(server.port);
    try {
      await c.frame(FrameType.HEADERS, 0, 1, c.block(req("/url")));
      for (let i = 0; i < 10; i++) {
        await c.frame(FrameType.CONTINUATION, 0, 1, new Uint8Array(0)).catch(() => {});
      }
      await expectGoaway(c, ErrorCode.ENHANCE_YOUR_CALM);
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: plain body over maxBodyBytes fails the body; the handler answers", async () => {
  await withServer({ maxBodyBytes: 1000 }, async (server, obs) => {
    const c = await open(server.port);
    try {
      await c.headers(1, req("/echo"), Flag.END_HEADERS);
      await c.frame(FrameType.DATA, 0, 1, new Uint8Array(600));
      await c.frame(FrameType.DATA, 0, 1, new Uint8Array(600));
      // The test handler rethrows the body error: 500, then RST_STREAM(NO_ERROR) because
      // the request never ended.
      const r = await response(c, 1);
      assert.equal(status(r.headers), "500");
      await expectRst(c, 1, ErrorCode.NO_ERROR);
      await waitFor(() => obs.bodyErrors.length === 1, "body error");
      assert.equal(obs.bodyErrors[0], "BodyTooLargeError");
      // Late DATA for the stream is tolerated.
      await c.frame(FrameType.DATA, Flag.END_STREAM, 1, new Uint8Array(600));
      await c.headers(3, req("/url"), Flag.END_HEADERS | Flag.END_STREAM);
      assert.equal(status((await response(c, 3)).headers), "200");
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: gRPC message over maxMessageBytes fails; many small messages do not", async () => {
  await withServer({ maxMessageBytes: 100 }, async (server, obs) => {
    const c = await open(server.port);
    try {
      const grpc = req("/echo", [["content-type", "application/grpc"]]);
      await c.headers(1, grpc, Flag.END_HEADERS);
      const msg = Uint8Array.of(0, 0, 0, 0, 90, ...new Uint8Array(90));
      for (let i = 0; i < 20; i++) await c.frame(FrameType.DATA, 0, 1, msg);
      await c.frame(FrameType.DATA, Flag.END_STREAM, 1, new Uint8Array(0));
      const r = await response(c, 1);
      assert.equal(r.body.length, 20 * 95);
      await c.headers(3, grpc, Flag.END_HEADERS);
      await c.frame(FrameType.DATA, 0, 3, Uint8Array.of(0, 0, 0, 0, 101));
      assert.equal(status((await response(c, 3)).headers), "500");
      await waitFor(() => obs.bodyErrors.length === 1, "body error");
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: client RST_STREAM aborts the handler's signal", async () => {
  await withServer({}, async (server, obs) => {
    const c = await open(server.port);
    try {
      await c.headers(1, req("/hang"), Flag.END_HEADERS | Flag.END_STREAM);
      await waitFor(() => obs.requests === 1, "request");
      await c.frame(FrameType.RST_STREAM, 0, 1, u32(ErrorCode.CANCEL));
      await waitFor(() => obs.aborted === 1, "abort");
      // Late frames for the reset stream are tolerated.
      await c.frame(FrameType.WINDOW_UPDATE, 0, 1, u32(10));
      await c.headers(3, req("/url"), Flag.END_HEADERS | Flag.END_STREAM);
      assert.equal(status((await response(c, 3)).headers), "200");
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: a signal first read after the client's RST_STREAM is aborted", async () => {
  await withServer({}, async (server, obs) => {
    const c = await open(server.port);
    try {
      await c.headers(1, req("/late-signal"), Flag.END_HEADERS);
      await waitFor(() => obs.requests === 1, "request");
      await c.frame(FrameType.RST_STREAM, 0, 1, u32(ErrorCode.CANCEL));
      await waitFor(() => (obs.lateSignals ?? []).length === 1, "late signal");
      assert.deepEqual(obs.lateSignals, [`stream reset by client (code ${ErrorCode.CANCEL})`]);
      // one whose body simply ends is not aborted
      await c.headers(3, req("/late-signal"), Flag.END_HEADERS | Flag.END_STREAM);
      await waitFor(() => (obs.lateSignals ?? []).length === 2, "second late signal");
      assert.equal(obs.lateSignals?.[1], "not aborted");
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: client GOAWAY: in-flight streams finish, then the server closes", async () => {
  await withServer({}, async (server) => {
    const c = await open(server.port);
    try {
      await c.headers(1, req("/stream/3"), Flag.END_HEADERS | Flag.END_STREAM);
      await c.frame(FrameType.GOAWAY, 0, 0, Uint8Array.of(...u32(0), ...u32(0)));
      const frames = await c.drain();
      const data = frames.filter((f) => f.type === FrameType.DATA && f.sid === 1);
      assert.equal(
        td.decode(Uint8Array.from(data.flatMap((f) => [...f.payload]))),
        "chunk 0\nchunk 1\nchunk 2\n",
      );
      assert.ok(
        frames.some((f: Frame) => f.type === FrameType.HEADERS && f.flags & Flag.END_STREAM),
      );
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: server close() sends GOAWAY, drains the in-flight stream, refuses new ones", async () => {
  let closed: Promise<void> | undefined;
  await withServer({}, async (server) => {
    const c = await open(server.port);
    try {
      await c.headers(1, req("/stream/4"), Flag.END_HEADERS | Flag.END_STREAM);
      await c.until((f) => f.type === FrameType.DATA && f.sid === 1);
      closed = server.close();
      const frames = await c.until((f) => f.type === FrameType.GOAWAY);
      assert.equal(goawayCode(frames[frames.length - 1]), ErrorCode.NO_ERROR);
      assert.equal(readU32(frames[frames.length - 1].payload, 0), 1);
      const rest = await c.drain();
      const end = rest.find((f) => f.sid === 1 && f.type === FrameType.HEADERS);
      assert.ok(end !== undefined && (end.flags & Flag.END_STREAM) !== 0, describe(rest));
    } finally {
      c.close();
    }
  });
  await closed;
});

Deno.test("h2: a PING flood is cut off with ENHANCE_YOUR_CALM", async () => {
  await withServer({ maxControlFramesPerSecond: 100 }, async (server) => {
    const c = await open(server.port);
    try {
      const flood: Uint8Array[] = [];
      for (let i = 0; i < 300; i++) {
        flood.push(RawH2.frame(FrameType.PING, 0, 0, new Uint8Array(8)));
      }
      const all = new Uint8Array(flood.length * 17);
      flood.forEach((f, i) => all.set(f, i * 17));
      await c.send(all).catch(() => {});
      await expectGoaway(c, ErrorCode.ENHANCE_YOUR_CALM);
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: a stream reset flood (rapid reset) is cut off with ENHANCE_YOUR_CALM", async () => {
  await withServer({ maxControlFramesPerSecond: 100 }, async (server) => {
    const c = await open(server.port);
    try {
      const frames: Uint8Array[] = [];
      for (let sid = 1; sid < 600; sid += 2) {
        frames.push(RawH2.frame(FrameType.HEADERS, Flag.END_HEADERS, sid, c.block(req("/hang"))));
        frames.push(RawH2.frame(FrameType.RST_STREAM, 0, sid, u32(ErrorCode.CANCEL)));
      }
      for (const f of frames) await c.send(f).catch(() => {});
      await expectGoaway(c, ErrorCode.ENHANCE_YOUR_CALM);
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: a 1 MiB upload within the server's windows is credited back and arrives intact", async () => {
  await withServer({ streamWindow: 16384, connectionWindow: 65535 }, async (server) => {
    const c = await RawH2.connect(server.port);
    try {
      let streamWin = 65535; // the protocol default until the server's SETTINGS arrive
      let connWin = 65535;
      const total = 1024 * 1024;
      await c.headers(1, req("/echo"), Flag.END_HEADERS);
      let sent = 0;
      let sum = 0;
      const back: number[] = [];
      let done = false;
      while (!done) {
        // Send what the windows allow, then read the server's frames.
        while (sent < total && streamWin > 0 && connWin > 0) {
          const n = Math.min(total - sent, streamWin, connWin, 16384);
          const chunk = new Uint8Array(n);
          for (let i = 0; i < n; i++) chunk[i] = (sent + i) % 251;
          for (const b of chunk) sum = (sum + b) % 65536;
          sent += n;
          streamWin -= n;
          connWin -= n;
          await c.frame(FrameType.DATA, sent === total ? Flag.END_STREAM : 0, 1, chunk);
        }
        const f = await c.read();
        assert.ok(f !== null, "server closed");
        if (f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0) {
          for (let i = 0; i < f.payload.length; i += 6) {
            if (((f.payload[i] << 8) | f.payload[i + 1]) === Setting.INITIAL_WINDOW_SIZE) {
              streamWin += readU32(f.payload, i + 2) - 65535;
            }
          }
          await c.frame(FrameType.SETTINGS, Flag.ACK, 0);
        } else if (f.type === FrameType.WINDOW_UPDATE) {
          if (f.sid === 0) connWin += readU32(f.payload, 0);
          else if (f.sid === 1) streamWin += readU32(f.payload, 0);
        } else if (f.type === FrameType.DATA && f.sid === 1) {
          back.push(f.payload.length);
          await c.frame(FrameType.WINDOW_UPDATE, 0, 1, u32(f.payload.length));
          await c.frame(FrameType.WINDOW_UPDATE, 0, 0, u32(f.payload.length));
        } else if (f.type === FrameType.HEADERS && f.sid === 1 && f.flags & Flag.END_STREAM) {
          assert.deepEqual(c.decode(f.payload), [["x-sum", String(sum)]]);
          done = true;
        } else if (f.type === FrameType.RST_STREAM || f.type === FrameType.GOAWAY) {
          assert.fail(`unexpected ${describe([f])}`);
        }
      }
      assert.equal(sent, total);
      assert.equal(back.reduce((a, b) => a + b, 0), total);
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: an idle connection gets GOAWAY(NO_ERROR) after idleTimeoutMs", async () => {
  await withServer({ idleTimeoutMs: 200 }, async (server) => {
    const c = await open(server.port);
    try {
      await expectGoaway(c, ErrorCode.NO_ERROR);
    } finally {
      c.close();
    }
  });
});

Deno.test("h2: HEAD responses carry no DATA", async () => {
  await withServer({}, async (server) => {
    const c = await open(server.port);
    try {
      const head = req("/big/100").map(([n, v]): [string, string] =>
        n === ":method" ? [n, "HEAD"] : [n, v]
      );
      await c.headers(1, head, Flag.END_HEADERS | Flag.END_STREAM);
      const r = await response(c, 1);
      assert.equal(status(r.headers), "200");
      assert.equal(r.body.length, 0);
    } finally {
      c.close();
    }
  });
});
