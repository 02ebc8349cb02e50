/**
 * The load generator's hand codecs (bench/loadgen/wire.ts) against protobuf-es on random
 * messages: what they read equals what fromBinary reads, what they write equals toBinary, and
 * unknown fields are skipped. Prints seed=N; replay with SEED=N.
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { Rand } from "../../lib/base/rand.ts";
import {
  LeaseKeepAliveRequestSchema,
  LeaseKeepAliveResponseSchema,
  PutRequestSchema,
  PutResponseSchema,
  RangeRequestSchema,
  RangeResponseSchema,
  TxnRequestSchema,
  TxnResponseSchema,
  WatchResponseSchema,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { fillKey, keyFor } from "../../bench/loadgen/keys.ts";
import {
  encodeKeepAlive,
  encodePut,
  encodeRange,
  encodeTxnPuts,
  type KeepAliveSummary,
  putRevision,
  type RangeSummary,
  readKeepAlive,
  readRange,
  readTxn,
  readWatch,
  type TxnSummary,
  type WatchSummary,
  WireError,
} from "../../bench/loadgen/wire.ts";
import { fastRange } from "../../bench/loadgen/fast_loop.ts";
import { parseArgs } from "../../bench/loadgen/main.ts";

const seed = Number(Deno.env.get("SEED") ?? Date.now() % 1e9);
console.log(`seed=${seed}`);

/** A revision-like int64: mostly small, sometimes large (up to 2^50), sometimes 0. */
function num(r: Rand): bigint {
  const k = r.int(4);
  if (k === 0) return 0n;
  if (k === 1) return BigInt(r.int(128));
  if (k === 2) return BigInt(r.int(1 << 30));
  return BigInt(r.int(1 << 25)) * BigInt(1 << 25) + BigInt(r.int(1 << 25));
}

function header(r: Rand) {
  return r.chance(0.1) ? undefined : {
    clusterId: num(r),
    memberId: num(r),
    revision: num(r),
    raftTerm: num(r),
  };
}

function kv(r: Rand, key: Uint8Array) {
  return {
    key: r.chance(0.7) ? key : r.bytes(r.int(12)),
    createRevision: num(r),
    modRevision: num(r),
    version: num(r),
    value: r.bytes(r.int(40)),
    lease: num(r),
  };
}

/** Appends unknown fields of every wire type (numbers the messages do not use). */
function withUnknown(r: Rand, msg: Uint8Array): Uint8Array {
  if (r.chance(0.5)) return msg;
  const w = new BinaryWriter();
  w.raw(msg);
  w.tag(90, 0).uint64(num(r));
  w.tag(91, 1).fixed64(num(r));
  w.tag(92, 2).bytes(r.bytes(r.int(20)));
  w.tag(93, 5).fixed32(r.int(1 << 30));
  return w.finish();
}

Deno.test("wire: PutResponse, RangeResponse and WatchResponse read as protobuf-es reads them", () => {
  const r = new Rand(seed);
  const key = new TextEncoder().encode("foo");
  for (let i = 0; i < 500; i++) {
    // PutResponse: the header's revision
    const put = create(PutResponseSchema, {
      header: header(r),
      prevKv: r.chance(0.3) ? kv(r, key) : undefined,
    });
    const pb = withUnknown(r, toBinary(PutResponseSchema, put));
    assert.equal(putRevision(pb, 0, pb.length), Number(put.header?.revision ?? 0n));

    // RangeResponse: revision, count, kvs, more, kvs of another key
    const kvs = Array.from({ length: r.int(5) }, () => kv(r, key));
    const range = create(RangeResponseSchema, {
      header: header(r),
      kvs,
      more: r.chance(0.5),
      count: num(r),
    });
    const rb = withUnknown(r, toBinary(RangeResponseSchema, range));
    const got: RangeSummary = { revision: 0, count: 0, kvs: 0, otherKeys: 0, more: false };
    readRange(rb, 0, rb.length, got, key);
    assert.deepEqual(got, {
      revision: Number(range.header?.revision ?? 0n),
      count: Number(range.count),
      kvs: kvs.length,
      otherKeys: range.kvs.filter((k) => k.key.join() !== key.join()).length,
      more: range.more,
    });

    // WatchResponse: the summary and each event in order
    const events = Array.from({ length: r.int(6) }, () => ({
      type: r.int(2),
      kv: r.chance(0.9) ? kv(r, key) : undefined,
      prevKv: r.chance(0.2) ? kv(r, key) : undefined,
    }));
    const watch = create(WatchResponseSchema, {
      header: header(r),
      watchId: num(r),
      created: r.chance(0.3),
      canceled: r.chance(0.1),
      compactRevision: num(r),
      cancelReason: r.chance(0.1) ? "gone" : "",
      fragment: r.chance(0.1),
      events,
    });
    const wb = withUnknown(r, toBinary(WatchResponseSchema, watch));
    const sum: WatchSummary = {
      revision: 0,
      watchId: 0,
      created: false,
      canceled: false,
      compactRevision: 0,
      events: 0,
    };
    const seen: unknown[] = [];
    readWatch(wb, 0, wb.length, sum, key, (type, keyMatches, mod, buf, vs, ve) => {
      seen.push([type, keyMatches, mod, [...buf.subarray(vs, ve)]]);
    });
    assert.deepEqual(sum, {
      revision: Number(watch.header?.revision ?? 0n),
      watchId: Number(watch.watchId),
      created: watch.created,
      canceled: watch.canceled,
      compactRevision: Number(watch.compactRevision),
      events: events.length,
    });
    assert.deepEqual(
      seen,
      watch.events.map((e) => [
        e.type,
        (e.kv?.key ?? new Uint8Array()).join() === key.join(),
        Number(e.kv?.modRevision ?? 0n),
        [...(e.kv?.value ?? [])],
      ]),
    );
  }
});

Deno.test("wire: truncated and malformed answers are errors, not plausible values", () => {
  const r = new Rand(seed + 1);
  const put = toBinary(
    PutResponseSchema,
    create(PutResponseSchema, { header: { revision: 123456789n, clusterId: 7n } }),
  );
  for (let cut = 1; cut < put.length; cut++) {
    assert.throws(() => putRevision(put, 0, cut), WireError, `cut at ${cut}`);
  }
  // wire types 3 and 4 (groups) and 6, 7 do not occur in etcd's messages
  assert.throws(() => putRevision(new Uint8Array([(9 << 3) | 3]), 0, 1), /wire type 3/);
  const long = new Uint8Array(12).fill(0xff);
  long[0] = 1 << 3;
  assert.throws(() => putRevision(long, 0, long.length), /longer than 10 bytes/);
  // an answer whose kvs disagree with its count fails the range workload's check
  const opts = parseArgs(["range", "foo"]).opts;
  const check = fastRange(opts).check;
  const bad = toBinary(
    RangeResponseSchema,
    create(RangeResponseSchema, {
      header: { revision: 5n },
      count: 2n,
      kvs: [kv(r, opts.rangeKey)],
    }),
  );
  assert.throws(() => check(bad, 0, bad.length), /1 kvs for count 2/);
  const other = toBinary(
    RangeResponseSchema,
    create(RangeResponseSchema, {
      header: { revision: 5n },
      count: 1n,
      kvs: [{ key: new TextEncoder().encode("bar"), modRevision: 2n }],
    }),
  );
  assert.throws(() => check(other, 0, other.length), /1 kvs of another key/);
  const good = toBinary(
    RangeResponseSchema,
    create(RangeResponseSchema, {
      header: { revision: 5n },
      count: 1n,
      kvs: [{ key: opts.rangeKey, modRevision: 2n }],
    }),
  );
  assert.equal(check(good, 0, good.length), 5);
});

Deno.test("wire: PutRequest and RangeRequest encode as protobuf-es; fillKey is keyFor", () => {
  const r = new Rand(seed + 2);
  for (let i = 0; i < 300; i++) {
    const key = r.bytes(1 + r.int(300));
    const value = r.bytes(r.int(3) === 0 ? 0 : r.int(20_000));
    const { msg, keyAt } = encodePut(key, value);
    assert.deepEqual(msg, toBinary(PutRequestSchema, create(PutRequestSchema, { key, value })));
    assert.deepEqual(msg.subarray(keyAt, keyAt + key.length), key);

    const range = {
      key: r.bytes(r.int(20)),
      rangeEnd: r.chance(0.5) ? r.bytes(r.int(20)) : new Uint8Array(),
      limit: r.chance(0.5) ? 0 : r.int(1 << 30),
      serializable: r.chance(0.5),
    };
    assert.deepEqual(
      encodeRange(range),
      toBinary(
        RangeRequestSchema,
        create(RangeRequestSchema, { ...range, limit: BigInt(range.limit) }),
      ),
    );

    const keySize = 8 + r.int(8);
    const n = r.chance(0.5) ? r.int(1 << 20) : r.int(1 << 25) * (1 << 20);
    const buf = new Uint8Array(keySize + 4).fill(0xee);
    fillKey(buf, 2, keySize, n);
    assert.deepEqual(buf.subarray(2, 2 + keySize), keyFor(n, keySize));
    assert.equal(buf[1], 0xee);
    assert.equal(buf[2 + keySize], 0xee);
  }
  assert.throws(() => fillKey(new Uint8Array(1), 0, 1, 1000), /too small/);
  assert.throws(() => encodePut(new Uint8Array(), new Uint8Array(1)), /needs a key/);
});

Deno.test("wire: lease keep-alives (int64 IDs of any size) encode and read as protobuf-es's", () => {
  const r = new Rand(seed + 3);
  const got: KeepAliveSummary = { revision: 0, idStart: 0, idEnd: 0, ttl: 0 };
  for (let i = 0; i < 300; i++) {
    // etcd's lease IDs use all 63 bits; some negative int64 too
    const id = BigInt.asIntN(64, (num(r) << 13n) ^ BigInt(r.int(1 << 30)) << 33n) || 1n;
    const msg = encodeKeepAlive(id);
    assert.deepEqual(
      msg,
      toBinary(LeaseKeepAliveRequestSchema, create(LeaseKeepAliveRequestSchema, { ID: id })),
    );
    const res = create(LeaseKeepAliveResponseSchema, { header: header(r), ID: id, TTL: num(r) });
    const b = withUnknown(r, toBinary(LeaseKeepAliveResponseSchema, res));
    readKeepAlive(b, 0, b.length, got);
    assert.equal(got.revision, Number(res.header?.revision ?? 0n));
    assert.equal(got.ttl, Number(res.TTL));
    assert.deepEqual(b.subarray(got.idStart, got.idEnd), msg.subarray(1));
  }
  assert.throws(() => encodeKeepAlive(0n), /needs a lease ID/);
});

Deno.test("wire: txns of puts encode, and TxnResponses read, as protobuf-es's", () => {
  const r = new Rand(seed + 4);
  const got: TxnSummary = { revision: 0, succeeded: false, responses: 0 };
  for (let i = 0; i < 200; i++) {
    const ops = 1 + r.int(6);
    const keySize = 1 + r.int(20);
    const value = r.bytes(r.int(300));
    const { msg, keyAt } = encodeTxnPuts(ops, keySize, value);
    const keys = Array.from({ length: ops }, () => r.bytes(keySize));
    keys.forEach((k, j) => msg.set(k, keyAt[j]));
    const want = create(TxnRequestSchema, {
      success: keys.map((key) => ({
        request: { case: "requestPut" as const, value: { key, value } },
      })),
    });
    assert.deepEqual(msg, toBinary(TxnRequestSchema, want));

    const res = create(TxnResponseSchema, {
      header: header(r),
      succeeded: r.chance(0.8),
      responses: Array.from({ length: r.int(5) }, () => ({
        response: { case: "responsePut" as const, value: { header: header(r) } },
      })),
    });
    const b = withUnknown(r, toBinary(TxnResponseSchema, res));
    readTxn(b, 0, b.length, got);
    assert.deepEqual(got, {
      revision: Number(res.header?.revision ?? 0n),
      succeeded: res.succeeded,
      responses: res.responses.length,
    });
  }
});
