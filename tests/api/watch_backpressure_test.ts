/**
 * Watch backpressure end to end: a gRPC watch client that stops reading its stream (it stops
 * granting HTTP/2 flow-control window, as a gRPC client does when its application does not
 * take messages) while thousands of 1 KiB puts go through raft. The server must hold back:
 * what it sent is bounded by the client's window, the stream's queue fills and its watcher
 * becomes a victim holding one response (docs/formats.md, "How watch memory is bounded")
 * instead of queueing without bound; other clients' puts and ranges are served meanwhile; and
 * once the client reads again it gets every event, in revision order, with no gap and no
 * duplicate (the victim catches up from the backend's history). A layer that buffered the
 * stream's output without bound (the HTTP writer or the service's generator) would keep
 * draining the queue, and the watcher would never become a victim: so "one victim" with at
 * most a window's worth on the wire bounds the whole path, not just the hub.
 *
 * The client speaks HTTP/2 over a plain TCP socket, written here, so that nothing between the
 * test and the server reads ahead or grants window on its own.
 */
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createHandlerContext } from "@connectrpc/connect";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { KV } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { kvService } from "../../lib/api/kv_service.ts";
import { KvServer } from "../../lib/server/kv_server.ts";
import { etcdctl, startTestServer, waitFor } from "../server/harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** Puts through raft (the load) and the value size. */
const PUTS = 20_000;
const VALUE = new Uint8Array(1024).fill(0x61);
/** The HTTP/2 default window (RFC 9113), which this client never raises. */
const WINDOW = 65_535;

const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW: 8 };
const ACK = 0x1;
const END_HEADERS = 0x4;

function frame(type: number, flags: number, stream: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(9 + payload.length);
  const v = new DataView(f.buffer);
  v.setUint32(0, payload.length << 8);
  f[3] = type;
  f[4] = flags;
  v.setUint32(5, stream);
  f.set(payload, 9);
  return f;
}

/** HPACK "literal header field without indexing, new name", plain strings under 127 bytes. */
function hpackLiterals(fields: [string, string][]): Uint8Array {
  const out: number[] = [];
  for (const [name, value] of fields) {
    out.push(0x00, name.length, ...enc(name), value.length, ...enc(value));
  }
  return new Uint8Array(out);
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

/**
 * One gRPC Watch call on its own connection, stream 1. DATA the server sends is kept
 * unconsumed (no WINDOW_UPDATE) until `consume()`: then it is parsed into WatchResponses and
 * the window is granted back, as a reading client does.
 */
class RawWatchClient {
  readonly #conn: Deno.Conn;
  readonly #reader: Promise<void>;
  /** DATA payloads received and not yet consumed. */
  #unread: Uint8Array[] = [];
  /** DATA octets received and not yet consumed (at most the window we granted). */
  unreadBytes = 0;
  /** DATA octets received in all. */
  receivedBytes = 0;
  #grpc = new Uint8Array(0);
  #wake: (() => void) | null = null;
  #ended = false;
  readonly responses: pb.WatchResponse[] = [];

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.#reader = this.#readLoop();
  }

  static async open(url: string, req: pb.WatchCreateRequest): Promise<RawWatchClient> {
    const u = new URL(url);
    const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
    const c = new RawWatchClient(conn);
    const headers = hpackLiterals([
      [":method", "POST"],
      [":scheme", "http"],
      [":path", "/etcdserverpb.Watch/Watch"],
      [":authority", u.host],
      ["content-type", "application/grpc"],
      ["te", "trailers"],
    ]);
    const msg = toBinary(
      pb.WatchRequestSchema,
      create(pb.WatchRequestSchema, { requestUnion: { case: "createRequest", value: req } }),
    );
    const body = new Uint8Array(5 + msg.length);
    body.set(u32(msg.length), 1);
    body.set(msg, 5);
    await c.#write(
      enc("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
      frame(FRAME.SETTINGS, 0, 0, new Uint8Array([0, 2, 0, 0, 0, 0])), // ENABLE_PUSH 0
      frame(FRAME.HEADERS, END_HEADERS, 1, headers),
      // the request side stays open, as a watch client's does
      frame(FRAME.DATA, 0, 1, body),
    );
    return c;
  }

  async #write(...frames: Uint8Array[]): Promise<void> {
    let n = 0;
    for (const f of frames) n += f.length;
    const all = new Uint8Array(n);
    let o = 0;
    for (const f of frames) {
      all.set(f, o);
      o += f.length;
    }
    for (let off = 0; off < all.length;) off += await this.#conn.write(all.subarray(off));
  }

  async #readLoop(): Promise<void> {
    let buf = new Uint8Array(0);
    const chunk = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        const next = new Uint8Array(buf.length + n);
        next.set(buf);
        next.set(chunk.subarray(0, n), buf.length);
        buf = next;
        while (buf.length >= 9) {
          const len = (buf[0] << 16) | (buf[1] << 8) | buf[2];
          if (buf.length < 9 + len) break;
          const type = buf[3];
          const flags = buf[4];
          const payload = buf.slice(9, 9 + len);
          buf = buf.slice(9 + len);
          if (type === FRAME.SETTINGS && !(flags & ACK)) {
            await this.#write(frame(FRAME.SETTINGS, ACK, 0, new Uint8Array()));
          } else if (type === FRAME.PING && !(flags & ACK)) {
            await this.#write(frame(FRAME.PING, ACK, 0, payload));
          } else if (type === FRAME.DATA) {
            this.#unread.push(payload);
            this.unreadBytes += len;
            this.receivedBytes += len;
          } else if (type === FRAME.RST_STREAM || type === FRAME.GOAWAY) {
            this.#ended = true;
          }
          // HEADERS (response headers, trailers) and WINDOW_UPDATE need nothing from us
        }
        this.#wake?.();
      }
    } catch {
      // the socket was closed by close()
    }
    this.#ended = true;
    this.#wake?.();
  }

  /** Parses what arrived into responses and grants the window back; returns how many. */
  async consume(): Promise<number> {
    const parts = this.#unread;
    const n = this.unreadBytes;
    this.#unread = [];
    this.unreadBytes = 0;
    for (const p of parts) {
      const next = new Uint8Array(this.#grpc.length + p.length);
      next.set(this.#grpc);
      next.set(p, this.#grpc.length);
      this.#grpc = next;
    }
    let got = 0;
    while (this.#grpc.length >= 5) {
      const len = new DataView(this.#grpc.buffer, this.#grpc.byteOffset).getUint32(1);
      if (this.#grpc.length < 5 + len) break;
      this.responses.push(fromBinary(pb.WatchResponseSchema, this.#grpc.slice(5, 5 + len)));
      this.#grpc = this.#grpc.slice(5 + len);
      got++;
    }
    if (n > 0) {
      await this.#write(frame(FRAME.WINDOW, 0, 0, u32(n)), frame(FRAME.WINDOW, 0, 1, u32(n)));
    }
    return got;
  }

  /** Reads (consuming) until `done()` holds, failing after `ms`. */
  async readUntil(what: string, done: () => boolean, ms = 20_000): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      await this.consume();
      if (done()) return;
      if (this.#ended) throw new Error(`stream ended before ${what}`);
      if (Date.now() > end) throw new Error(`timed out reading until ${what}`);
      const timer = new Promise<void>((r) => {
        const t = setTimeout(r, 200); // a bound on the wait, not a wait for a state
        this.#wake = () => {
          clearTimeout(t);
          r();
        };
      });
      await timer;
      this.#wake = null;
    }
  }

  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    await this.#reader;
  }
}

Deno.test("watch backpressure: a client that stops reading is held back, others go on, nothing is lost", async () => {
  const s = await startTestServer();
  const m = s.server.member;
  const kv = kvService(new KvServer(m));
  const ctx = () =>
    createHandlerContext({
      service: KV,
      method: KV.method.put,
      protocolName: "grpc",
      requestMethod: "POST",
      url: `${s.url}/etcdserverpb.KV/Put`,
    });
  let w: RawWatchClient | undefined;
  try {
    w = await RawWatchClient.open(
      s.url,
      create(pb.WatchCreateRequestSchema, { key: enc("k/"), rangeEnd: enc("k0") }),
    );
    const slow = w;
    await slow.readUntil("created", () => slow.responses.length >= 1);
    assert.equal(slow.responses[0].created, true);
    assert.equal(m.hub.counts().synced, 1);

    // the load, through raft, while the client reads nothing more
    const revs: number[] = new Array(PUTS);
    let next = 0;
    const put = async (i: number) => {
      const r = await kv.put!(
        create(pb.PutRequestSchema, { key: enc(`k/${String(i).padStart(6, "0")}`), value: VALUE }),
        ctx(),
      );
      revs[i] = Number(r.header?.revision);
    };
    const workers = Array.from({ length: 32 }, async () => {
      while (next < PUTS) await put(next++);
    });
    // other clients are served while the slow stream is held back
    await waitFor(
      "the slow watcher to be held back",
      () => Promise.resolve(m.hub.counts().victims === 1),
      30_000,
    );
    assert.ok(slow.unreadBytes <= WINDOW, `${slow.unreadBytes} octets past the window`);
    const other = await etcdctl(s.url, ["put", "other/a", "1"]);
    assert.equal(other.code, 0, other.stderr);
    const got = await etcdctl(s.url, ["get", "other/a", "--print-value-only"]);
    assert.equal(got.stdout, "1\n");
    const range = await fetch(`${s.url}/v3/kv/range`, {
      method: "POST",
      body: JSON.stringify({ key: btoa("k/000000") }),
    });
    assert.equal(range.status, 200);
    assert.equal(JSON.parse(await range.text()).kvs[0].key, btoa("k/000000"));
    await Promise.all(workers);

    // still held back once the load is done: one held response, the rest stays in the store
    const held = m.hub.counts();
    assert.deepEqual(held, { synced: 0, unsynced: 0, victims: 1 });
    assert.ok(slow.unreadBytes <= WINDOW, `${slow.unreadBytes} octets past the window`);
    assert.ok(
      slow.receivedBytes < 2 * WINDOW,
      `${slow.receivedBytes} octets sent to a client that granted ${WINDOW}`,
    );

    // the client reads again: every event, in order, none twice, none missing
    const want = [...revs].sort((a, b) => a - b);
    const last = want[want.length - 1];
    const seen: number[] = [];
    const keys = new Set<string>();
    let scanned = 1;
    await slow.readUntil("every event", () => {
      for (; scanned < slow.responses.length; scanned++) {
        const r = slow.responses[scanned];
        assert.ok(!r.canceled, `canceled: ${r.cancelReason}`);
        for (const e of r.events) {
          seen.push(Number(e.kv!.modRevision));
          keys.add(dec(e.kv!.key));
          assert.equal(e.kv!.value.length, VALUE.length);
        }
      }
      return seen.length > 0 && seen[seen.length - 1] >= last;
    });
    assert.equal(seen.length, PUTS);
    assert.deepEqual(seen, want);
    assert.equal(keys.size, PUTS);
    // caught up: the watcher is live again
    assert.deepEqual(m.hub.counts(), { synced: 1, unsynced: 0, victims: 0 });
  } finally {
    await w?.close();
    await s.close();
  }
});
