/**
 * Bidirectional calls over HTTP/1.1 without a browser, on the wire: the request body holds
 * the request messages, the server answers as it reads them. Covers what the browser test
 * does not: gRPC-web's text mode (Google's grpc-web client), several request messages in one
 * body, and a client that keeps its request body open while it reads responses (it must not
 * hang, which is why Connect's router refuses bidi calls on HTTP/1.1).
 */
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  LeaseKeepAliveRequestSchema,
  LeaseKeepAliveResponseSchema,
  WatchRequestSchema,
  WatchResponseSchema,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { startTestServer, type TestServer, waitFor } from "../server/harness.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function envelope(flags: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
}

/** Splits complete envelopes off the front of `buf`; returns them and the rest. */
function envelopes(
  buf: Uint8Array,
): { frames: { flags: number; data: Uint8Array }[]; rest: Uint8Array } {
  const frames: { flags: number; data: Uint8Array }[] = [];
  let at = 0;
  while (buf.length - at >= 5) {
    const len = new DataView(buf.buffer, buf.byteOffset + at).getUint32(1);
    if (buf.length - at < 5 + len) break;
    frames.push({ flags: buf[at], data: buf.slice(at + 5, at + 5 + len) });
    at += 5 + len;
  }
  return { frames, rest: buf.slice(at) };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** `p`, or a failure naming `what` after `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function watchers(s: TestServer): number {
  const c = s.server.member.hub.counts();
  return c.synced + c.unsynced + c.victims;
}

function watchCreate(key: string): Uint8Array {
  return toBinary(
    WatchRequestSchema,
    create(WatchRequestSchema, {
      requestUnion: { case: "createRequest", value: { key: enc.encode(key) } },
    }),
  );
}

async function put(s: TestServer, key: string, value: string): Promise<void> {
  const r = await fetch(`${s.url}/v3/kv/put`, {
    method: "POST",
    body: JSON.stringify({ key: btoa(key), value: btoa(value) }),
  });
  assert.equal(r.status, 200, await r.text());
}

Deno.test("half-duplex over HTTP/1.1: gRPC-web text Watch streams events after the body ended; abort ends it", async () => {
  const s = await startTestServer();
  try {
    const ac = new AbortController();
    const b64 = btoa(String.fromCharCode(...envelope(0, watchCreate("t"))));
    const res = await fetch(`${s.url}/etcdserverpb.Watch/Watch`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web-text", "x-grpc-web": "1" },
      body: b64,
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/grpc-web-text+proto");
    const reader = res.body!.getReader();
    let text = "";
    let buf: Uint8Array = new Uint8Array(0);
    const got: { created: boolean; values: string[] }[] = [];
    const read = async () => {
      const r = await within(reader.read(), 5000, `a decodable response (have ${got.length})`);
      if (r.done) throw new Error("stream ended");
      text += dec.decode(r.value);
      const whole = text.length - (text.length % 4);
      const bin = atob(text.slice(0, whole));
      text = text.slice(whole);
      const { frames, rest } = envelopes(concat(buf, Uint8Array.from(bin, (c) => c.charCodeAt(0))));
      buf = rest;
      for (const f of frames) {
        assert.equal(f.flags, 0, "no trailer while the watch is open");
        const w = fromBinary(WatchResponseSchema, f.data);
        got.push({ created: w.created, values: w.events.map((e) => dec.decode(e.kv?.value)) });
      }
    };
    while (got.length === 0) await read();
    assert.equal(got[0].created, true);
    assert.equal(watchers(s), 1);
    await put(s, "t", "1");
    await put(s, "t", "2");
    while (got.flatMap((g) => g.values).length < 2) await read();
    assert.deepEqual(got.flatMap((g) => g.values), ["1", "2"]);
    ac.abort();
    // the body was aborted with its request: cancelling it rejects with that abort
    await assert.rejects(reader.cancel(), (e: unknown) => (e as Error).name === "AbortError");
    await waitFor("the server to end the aborted watch", () => Promise.resolve(watchers(s) === 0));
  } finally {
    await s.close();
  }
});

Deno.test("half-duplex over HTTP/1.1: Connect LeaseKeepAlive answers each message of the body, then ends", async () => {
  const s = await startTestServer();
  try {
    const grant = await fetch(`${s.url}/v3/lease/grant`, {
      method: "POST",
      body: JSON.stringify({ TTL: 30 }),
    });
    const id = BigInt((await grant.json()).ID);
    const msg = (i: bigint) =>
      envelope(
        0,
        toBinary(LeaseKeepAliveRequestSchema, create(LeaseKeepAliveRequestSchema, { ID: i })),
      );
    const res = await fetch(`${s.url}/etcdserverpb.Lease/LeaseKeepAlive`, {
      method: "POST",
      headers: { "content-type": "application/connect+proto" },
      body: concat(concat(msg(id), msg(id + 1n)), msg(id)),
    });
    assert.equal(res.status, 200);
    const { frames, rest } = envelopes(new Uint8Array(await res.arrayBuffer()));
    assert.equal(rest.length, 0);
    const answers = frames.filter((f) => f.flags === 0).map((f) =>
      fromBinary(LeaseKeepAliveResponseSchema, f.data)
    );
    assert.deepEqual(answers.map((a) => [a.ID, a.TTL]), [[id, 30n], [id + 1n, 0n], [id, 30n]]);
    const end = frames.at(-1)!;
    assert.equal(end.flags, 2, "Connect's end-of-stream message closes the call");
    assert.deepEqual(JSON.parse(dec.decode(end.data)), {});
  } finally {
    await s.close();
  }
});

Deno.test("full duplex over HTTP/1.1: a client that keeps its body open gets its answers", async () => {
  const s = await startTestServer();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(s.url).port) });
  try {
    const chunk = (b: Uint8Array) =>
      concat(concat(enc.encode(b.length.toString(16) + "\r\n"), b), enc.encode("\r\n"));
    await conn.write(enc.encode(
      "POST /etcdserverpb.Watch/Watch HTTP/1.1\r\nhost: x\r\n" +
        "content-type: application/grpc-web+proto\r\ntransfer-encoding: chunked\r\n\r\n",
    ));
    await conn.write(chunk(envelope(0, watchCreate("a"))));
    // The body stays open: read the created response.
    let raw = "";
    const buf = new Uint8Array(4096);
    const readUntil = async (what: RegExp) => {
      const deadline = Date.now() + 5000;
      while (!what.test(raw)) {
        if (Date.now() > deadline) throw new Error(`no ${what} in ${JSON.stringify(raw)}`);
        const n = await within(conn.read(buf), 5000, `${what} in ${JSON.stringify(raw)}`);
        if (n === null) throw new Error(`connection closed: ${JSON.stringify(raw)}`);
        raw += String.fromCharCode(...buf.subarray(0, n));
      }
    };
    await readUntil(/^HTTP\/1\.1 200 [^]*\r\n\r\n[0-9a-f]+\r\n/);
    assert.equal(watchers(s), 1);
    // A second watch on the same open body, then an event for it.
    await conn.write(chunk(envelope(0, watchCreate("b"))));
    await waitFor("the second watch", () => Promise.resolve(watchers(s) === 2));
    await put(s, "b", "B");
    await readUntil(/B/);
    // Ending the body ends only the request side: the watches stay.
    await conn.write(enc.encode("0\r\n\r\n"));
    await put(s, "a", "A-after-end");
    await readUntil(/A-after-end/);
    assert.equal(watchers(s), 2);
  } finally {
    conn.close();
    await waitFor("the server to end the watches", () => Promise.resolve(watchers(s) === 0));
    await s.close();
  }
});
