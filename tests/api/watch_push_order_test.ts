/**
 * A commit's watch events leave before the put's own answer (lib/api/watch_service.ts pushes
 * them into the connection's frames in the commit's turn), as etcd's mostly do: a client that
 * sees its put answered has, on the same connection, already been sent the put's events.
 * Observed on the wire with a raw HTTP/2 client, so nothing in a client library reorders them.
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Flag, FrameType } from "../../lib/http/frame.ts";
import { RawH2, req } from "../http/h2_raw_client.ts";
import { startTestServer } from "../server/harness.ts";

/** One gRPC message envelope (uncompressed). */
function envelope(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

const GRPC: [string, string][] = [["content-type", "application/grpc"], ["te", "trailers"]];
const key = new TextEncoder().encode("k");

Deno.test("watch: a put's events are on the wire before the put's answer, on the same connection", async () => {
  const t = await startTestServer();
  let c: RawH2 | null = null;
  try {
    c = await RawH2.connect(Number(new URL(t.url).port));
    await c.frame(FrameType.SETTINGS, Flag.ACK, 0);
    const createReq = toBinary(
      pb.WatchRequestSchema,
      create(pb.WatchRequestSchema, { requestUnion: { case: "createRequest", value: { key } } }),
    );
    // two streams of two watchers each
    for (const sid of [1, 3]) {
      await c.headers(sid, req("/etcdserverpb.Watch/Watch", GRPC), Flag.END_HEADERS);
      await c.frame(FrameType.DATA, 0, sid, envelope(createReq));
      await c.frame(FrameType.DATA, 0, sid, envelope(createReq));
    }
    // the four created responses (each stream's may come in one DATA frame or two)
    let created = 0;
    await c.until((f) => {
      if (f.type === FrameType.DATA && (f.sid === 1 || f.sid === 3)) {
        for (let at = 0; at + 5 <= f.payload.length;) {
          created++;
          at += 5 + new DataView(f.payload.buffer, f.payload.byteOffset + at + 1).getUint32(0);
        }
      }
      return created === 4;
    });
    for (let i = 0; i < 5; i++) {
      const sid = 5 + 2 * i;
      const put = toBinary(
        pb.PutRequestSchema,
        create(pb.PutRequestSchema, { key, value: new Uint8Array([i]) }),
      );
      await c.headers(sid, req("/etcdserverpb.KV/Put", GRPC), Flag.END_HEADERS);
      await c.frame(FrameType.DATA, Flag.END_STREAM, sid, envelope(put));
      const order: number[] = [];
      await c.until((f) => {
        if (f.type === FrameType.DATA && f.payload.length > 0) order.push(f.sid);
        return order.includes(sid) && order.includes(1) && order.includes(3);
      });
      assert.ok(
        order.indexOf(1) < order.indexOf(sid) && order.indexOf(3) < order.indexOf(sid),
        `put ${i}: DATA frames on streams in the order ${order.join(", ")} (the put is ${sid})`,
      );
    }
  } finally {
    c?.conn.close();
    await t.close();
  }
});
