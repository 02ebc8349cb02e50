import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { decodeBase64Stream, encodeBase64Stream } from "../../lib/api/grpc_web_text.ts";
import { Errors } from "../../lib/base/errors.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { PutRequestSchema, PutResponseSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { FakeEtcd } from "./double.ts";
import { startApi } from "./harness.ts";

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: number[] = [];
  for await (const c of it) parts.push(...c);
  return new Uint8Array(parts);
}

async function* from(chunks: Uint8Array[]) {
  yield* chunks;
}

function split(bytes: Uint8Array, rand: Rand): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length;) {
    const n = rand.range(1, 9);
    out.push(bytes.slice(i, i + n));
    i += n;
  }
  return out;
}

Deno.test("base64 streams: chunks encode padded on their own; any chunking round-trips", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  for (let round = 0; round < 40; round++) {
    const data = rand.bytes(rand.range(0, 200));
    const chunks = split(data, rand);
    const text = await collect(encodeBase64Stream(from(chunks)));
    // each chunk is encoded on its own, padded: decodable as soon as it arrives
    assert.equal(
      new TextDecoder().decode(text),
      chunks.map((c) => btoa(String.fromCharCode(...c))).join(""),
      `seed=${seed}`,
    );
    const back = await collect(decodeBase64Stream(from(split(text, rand))));
    assert.deepEqual(back, data, `seed=${seed} round=${round}`);
  }
  const segs = new TextEncoder().encode(btoa("a") + btoa("bc") + btoa("def"));
  assert.equal(new TextDecoder().decode(await collect(decodeBase64Stream(from([segs])))), "abcdef");
  await assert.rejects(
    collect(decodeBase64Stream(from([new TextEncoder().encode("abc")]))),
    /truncated/,
  );
});

function envelope(msg: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(5 + msg.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, msg.length);
  out.set(msg, 5);
  return out;
}

function frames(bytes: Uint8Array): { flags: number; data: Uint8Array }[] {
  const out = [];
  for (let i = 0; i < bytes.length;) {
    const len = new DataView(bytes.buffer, bytes.byteOffset + i + 1, 4).getUint32(0);
    out.push({ flags: bytes[i], data: bytes.slice(i + 5, i + 5 + len) });
    i += 5 + len;
  }
  return out;
}

/**
 * Sends a gRPC-web text request the way a browser does, over HTTP/1.1 to lib/http's server,
 * with the base64 body split mid-quartet as a network might.
 */
async function call(req: Uint8Array) {
  const server = await startApi({ services: new FakeEtcd().services() });
  try {
    const text = btoa(String.fromCharCode(...envelope(req)));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(text.slice(0, 5)));
        controller.enqueue(new TextEncoder().encode(text.slice(5)));
        controller.close();
      },
    });
    const res = await fetch(`${server.url}/etcdserverpb.KV/Put`, {
      method: "POST",
      headers: { "Content-Type": "application/grpc-web-text", "X-Grpc-Web": "1" },
      body,
    });
    const out = await res.text();
    const bin = Uint8Array.from(atob(out), (c) => c.charCodeAt(0));
    return { res: { status: res.status, header: res.headers }, frames: frames(bin) };
  } finally {
    await server.close();
  }
}

Deno.test("gRPC-web text mode: base64 frames both ways", async () => {
  const put = toBinary(
    PutRequestSchema,
    create(PutRequestSchema, { key: new TextEncoder().encode("t") }),
  );
  const ok = await call(put);
  assert.equal(ok.res.status, 200);
  assert.equal(ok.res.header?.get("content-type"), "application/grpc-web-text+proto");
  assert.equal(ok.frames.length, 2);
  assert.equal(ok.frames[0].flags, 0);
  assert.equal(fromBinary(PutResponseSchema, ok.frames[0].data).header?.revision, 2n);
  assert.equal(ok.frames[1].flags, 0x80);
  assert.match(new TextDecoder().decode(ok.frames[1].data), /grpc-status: ?0\r\n/);

  const bad = await call(toBinary(PutRequestSchema, create(PutRequestSchema, {})));
  const trailer = new TextDecoder().decode(bad.frames.at(-1)?.data);
  assert.match(trailer, /grpc-status: ?3\r\n/);
  const msg = /grpc-message: ?(.*)\r\n/.exec(trailer)?.[1] ?? "";
  assert.equal(decodeURIComponent(msg), Errors.emptyKey.message);
});
