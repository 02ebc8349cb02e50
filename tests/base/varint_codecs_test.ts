/**
 * The stored and wire codecs that write their varints with lib/base/varint.ts write the bytes
 * protobuf-es writes for the same message, on random records with values at the varint edges:
 * mvccpb.KeyValue (lib/mvcc/kv_codec.ts, the "key" bucket's values), leasepb.Lease
 * (lib/lease/lease_record.ts, the "lease" bucket's values) and the watch response sizes
 * lib/mvcc/fragment.ts computes; each decodes back to what was encoded. The same test passed
 * on the codecs' own varint copies before they moved onto lib/base/varint.ts, so the bytes on
 * disk did not change. Replay with SEED=N.
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { ResponseHeaderSchema, WatchResponseSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { EventSchema, KeyValueSchema } from "../../proto/gen/mvccpb/kv_pb.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import {
  decodeKeyValue,
  decodeKeyValues,
  encodeKeyValue,
  encodeKeyValueAfter,
  type KeyValueHead,
  peekKeyValue,
} from "../../lib/mvcc/kv_codec.ts";
import { eventSize, watchResponseSize } from "../../lib/mvcc/fragment.ts";
import type { Event, KeyValue } from "../../lib/mvcc/types.ts";
import { decodeLease, encodeLease, type LeaseRecord } from "../../lib/lease/lease_record.ts";

/** A non-negative safe integer with every varint length equally likely (0 a fifth of the time). */
function counter(r: Rand): number {
  if (r.chance(0.2)) return 0;
  const bits = r.int(54);
  const v = Math.floor(2 ** bits) - 1 + r.int(3);
  return Math.min(v, Number.MAX_SAFE_INTEGER);
}

/** Any int64: zero, small, negative, beyond 2^53, the extremes. */
function int64(r: Rand): bigint {
  switch (r.int(6)) {
    case 0:
      return 0n;
    case 1:
      return BigInt(counter(r));
    case 2:
      return -BigInt(1 + counter(r));
    case 3:
      return (1n << 63n) - 1n - BigInt(r.int(3));
    case 4:
      return -(1n << 63n) + BigInt(r.int(3));
    default:
      return BigInt.asIntN(64, (BigInt(r.nextU32()) << 32n) | BigInt(r.nextU32()));
  }
}

function keyValue(r: Rand): KeyValue {
  return {
    key: r.bytes(r.chance(0.1) ? 0 : r.int(r.chance(0.05) ? 20000 : 100)),
    createRevision: counter(r),
    modRevision: counter(r),
    version: counter(r),
    value: r.bytes(r.chance(0.2) ? 0 : r.int(r.chance(0.05) ? 70000 : 200)),
    lease: int64(r),
  };
}

function theirKeyValue(kv: KeyValue) {
  return create(KeyValueSchema, {
    key: kv.key,
    createRevision: BigInt(kv.createRevision),
    modRevision: BigInt(kv.modRevision),
    version: BigInt(kv.version),
    value: kv.value,
    lease: kv.lease,
  });
}

function seeded(): Rand {
  const seed = testSeed();
  console.log(`seed=${seed} (replay with SEED=${seed})`);
  return new Rand(seed);
}

Deno.test("kv_codec: mvccpb.KeyValue bytes as protobuf-es writes them, and back", () => {
  const r = seeded();
  const head: KeyValueHead = { key: "", createRevision: 0, version: 0, lease: 0n };
  for (let i = 0; i < 3000; i++) {
    const kv = keyValue(r);
    const ours = encodeKeyValue(kv);
    assert.deepEqual(ours, toBinary(KeyValueSchema, theirKeyValue(kv)), `record ${i}`);
    const room = r.int(20);
    assert.deepEqual(encodeKeyValueAfter(kv, room).subarray(room), ours, `record ${i} after`);
    assert.deepEqual(decodeKeyValue(ours), kv, `record ${i} decoded`);
    assert.deepEqual(decodeKeyValues([ours, ours]), [kv, kv], `record ${i} decoded twice`);
    peekKeyValue(ours, head);
    assert.equal(head.createRevision, kv.createRevision);
    assert.equal(head.version, kv.version);
    assert.equal(head.lease, kv.lease);
    assert.equal(head.key.length, kv.key.length);
    // the last field cut short: the decoder refuses it rather than read past the record
    if (ours.length > 0) {
      assert.throws(() => decodeKeyValue(ours.subarray(0, ours.length - 1)), RangeError);
    }
  }
});

/** leasepb.Lease as protobuf-es's writer puts it: ID, TTL, RemainingTTL (int64), zeros left out. */
function theirLease(rec: LeaseRecord): Uint8Array {
  const w = new BinaryWriter();
  if (rec.id !== 0n) w.uint32(0x08).int64(rec.id);
  if (rec.ttl !== 0) w.uint32(0x10).int64(rec.ttl);
  if (rec.remainingTtl !== 0) w.uint32(0x18).int64(rec.remainingTtl);
  return w.finish();
}

function ttl(r: Rand): number {
  const v = counter(r);
  return r.chance(0.1) && v !== 0 ? -v : v;
}

Deno.test("lease_record: leasepb.Lease bytes as protobuf-es writes them, and back", () => {
  const r = seeded();
  for (let i = 0; i < 5000; i++) {
    const rec: LeaseRecord = { id: int64(r), ttl: ttl(r), remainingTtl: ttl(r) };
    const ours = encodeLease(rec);
    assert.deepEqual(ours, theirLease(rec), `lease ${i}: ${rec.id} ${rec.ttl} ${rec.remainingTtl}`);
    assert.deepEqual(decodeLease(ours), rec, `lease ${i} decoded`);
    if (ours.length > 0) {
      const cut = ours.subarray(0, ours.length - 1 - r.int(Math.min(ours.length, 9)));
      if (cut.length > 0 && (cut[cut.length - 1] & 0x80) !== 0) {
        assert.throws(() => decodeLease(cut), /lease record: truncated varint/);
      }
    }
  }
});

function event(r: Rand): Event {
  return { type: r.int(2), kv: keyValue(r), ...(r.chance(0.5) ? { prevKv: keyValue(r) } : {}) };
}

Deno.test("fragment: watch response sizes equal protobuf-es's encoded length", () => {
  const r = seeded();
  for (let i = 0; i < 400; i++) {
    const events = Array.from({ length: r.int(5) }, () => event(r));
    const resp = {
      watchId: r.chance(0.1) ? -1 : counter(r),
      revision: counter(r),
      events,
      created: r.chance(0.3),
      canceled: r.chance(0.3),
      cancelReason: r.chance(0.3) ? "é".repeat(r.int(200)) : "",
      compactRevision: r.chance(0.1) ? -counter(r) : counter(r),
      fragment: r.chance(0.3),
    };
    const header = create(ResponseHeaderSchema, {
      clusterId: BigInt.asUintN(64, int64(r)),
      memberId: BigInt.asUintN(64, int64(r)),
      revision: BigInt(resp.revision),
      raftTerm: BigInt(counter(r)),
    });
    const theirEvents = events.map((e) =>
      create(EventSchema, {
        type: e.type as number,
        kv: theirKeyValue(e.kv),
        ...(e.prevKv ? { prevKv: theirKeyValue(e.prevKv) } : {}),
      })
    );
    const theirs = toBinary(
      WatchResponseSchema,
      create(WatchResponseSchema, {
        header,
        watchId: BigInt(resp.watchId),
        created: resp.created,
        canceled: resp.canceled,
        compactRevision: BigInt(resp.compactRevision),
        cancelReason: resp.cancelReason,
        fragment: resp.fragment,
        events: theirEvents,
      }),
    );
    let eventBytes = 0;
    for (const [j, e] of events.entries()) {
      const size = eventSize(e);
      assert.equal(size, toBinary(EventSchema, theirEvents[j]).length, `event ${i}.${j}`);
      eventBytes += 1 + new BinaryWriter().uint32(size).finish().length + size;
    }
    const headerBytes = toBinary(ResponseHeaderSchema, header).length;
    assert.equal(watchResponseSize(resp, headerBytes, eventBytes), theirs.length, `response ${i}`);
  }
});
