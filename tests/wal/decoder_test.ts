import assert from "node:assert/strict";
import { EntryType } from "../../lib/base/raftpb.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { SegmentDecoder } from "../../lib/wal/decoder.ts";
import { RecordEncoder } from "../../lib/wal/encoder.ts";
import { RecordType } from "../../lib/wal/record.ts";

/** A last segment: CRC record and `acked` entries, then an unacknowledged batch, then zeros. */
function segment(rand: Rand): { buf: Uint8Array; ackedEnd: number; end: number; acked: number } {
  const enc = new RecordEncoder(0);
  enc.crcRecord(0);
  enc.metadata({ nodeId: 1n, clusterId: 2n });
  enc.endWrite();
  const acked = rand.range(1, 6);
  for (let i = 1; i <= acked; i++) {
    enc.entry({ index: i, term: 1, type: EntryType.Normal, data: rand.bytes(rand.int(120)) });
    enc.endWrite();
  }
  const ackedEnd = enc.length;
  for (let i = 1; i <= 4; i++) {
    enc.entry({
      index: acked + i,
      term: 1,
      type: EntryType.Normal,
      data: rand.bytes(rand.int(120)),
    });
  }
  enc.state({ term: 1, vote: 1n, commit: acked });
  enc.endWrite();
  const end = enc.length;
  const buf = new Uint8Array(4096);
  buf.set(enc.bytes());
  return { buf, ackedEnd, end, acked: acked + 2 }; // + crc and metadata records
}

function decodeAll(buf: Uint8Array, isLast = true) {
  const d = new SegmentDecoder(buf, isLast, null);
  let n = 0;
  while (d.next()) n++;
  return { records: n, end: d.end! };
}

Deno.test("every prefix tear of the last write is a torn tail or a clean end, never corruption", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  for (let round = 0; round < 5; round++) {
    const { buf, ackedEnd, end, acked } = segment(rand);
    for (let t = ackedEnd; t <= end; t++) {
      // Preallocated file: the bytes after the tear are zeros.
      const zeroed = buf.slice();
      zeroed.fill(0, t, end);
      const a = decodeAll(zeroed);
      assert.notEqual(a.end.kind, "corrupt", `tear at ${t}: ${JSON.stringify(a.end)}`);
      assert.ok(a.records >= acked);
      assert.ok(a.end.offset <= t);
      // Growing file: the file ends at the tear.
      const cut = decodeAll(buf.slice(0, t));
      assert.notEqual(cut.end.kind, "corrupt", `cut at ${t}: ${JSON.stringify(cut.end)}`);
      assert.ok(cut.records >= acked);
    }
  }
});

Deno.test("every single-bit flip in written records is corruption, in any segment", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const { buf, end } = segment(rand);
  const clean = decodeAll(buf);
  assert.equal(clean.end.kind, "clean");
  for (let at = 0; at < end; at++) {
    for (let bit = 0; bit < 8; bit++) {
      const b = buf.slice();
      b[at] ^= 1 << bit;
      for (const isLast of [true, false]) {
        const got = decodeAll(isLast ? b : b.subarray(0, end), isLast);
        assert.equal(got.end.kind, "corrupt", `flip ${at}.${bit} last=${isLast}`);
        assert.ok(got.end.offset <= at);
      }
    }
  }
});

Deno.test("zeros after the last record are a clean end; stray bytes after them are torn", () => {
  const rand = new Rand(1);
  const { buf, end } = segment(rand);
  assert.deepEqual(decodeAll(buf).end, { kind: "clean", offset: end });
  assert.deepEqual(decodeAll(buf.subarray(0, end)).end, { kind: "clean", offset: end });
  const stray = buf.slice();
  stray[end + 700] = 9;
  const got = decodeAll(stray);
  assert.equal(got.end.kind, "torn");
  assert.equal(got.end.offset, end);
  // In a segment that is not the last, trailing zeros are corruption.
  assert.equal(decodeAll(buf, false).end.kind, "corrupt");
});

Deno.test("a segment must start with a CRC record that continues the chain", () => {
  const enc = new RecordEncoder(0);
  enc.metadata({ nodeId: 1n, clusterId: 1n });
  assert.equal(decodeAll(enc.bytes()).end.kind, "corrupt");
  const enc2 = new RecordEncoder(0);
  enc2.crcRecord(1234);
  const d = new SegmentDecoder(enc2.bytes(), true, 999);
  assert.equal(d.next(), null);
  assert.match((d.end as { reason: string }).reason, /CRC record carries/);
  const d2 = new SegmentDecoder(enc2.bytes(), true, 1234);
  assert.equal(d2.next()?.type, RecordType.Crc);
});

/** Writes of two entries each whose data holds a long zero run, so frames span zero sectors. */
function zeroRunSegment(writes: number): { buf: Uint8Array; starts: number[] } {
  const enc = new RecordEncoder(0);
  enc.crcRecord(0);
  enc.endWrite();
  const starts: number[] = [];
  for (let w = 0; w < writes; w++) {
    starts.push(enc.length);
    for (let i = 0; i < 2; i++) {
      // 1100 non-zero bytes, then 1100 zero bytes: each frame spans non-zero and zero sectors.
      const data = new Uint8Array(2200);
      for (let j = 0; j < 1100; j++) data[j] = 1 + (j % 250);
      data[2199] = 2;
      enc.entry({ index: w * 2 + i + 1, term: 1, type: EntryType.Normal, data });
    }
    enc.endWrite();
  }
  starts.push(enc.length);
  const buf = new Uint8Array(enc.length + 4096);
  buf.set(enc.bytes());
  return { buf, starts };
}

Deno.test("zero-sector rule: a lost sector in the final write is torn, damage to an earlier write is corruption", () => {
  const { buf, starts } = zeroRunSegment(4);
  const last = starts.length - 2;
  // A bit flip in a non-final write, in a record whose data has zero sectors: corruption.
  for (let w = 0; w < last; w++) {
    const b = buf.slice();
    b[starts[w] + 8 + 17 + 700] ^= 0x20; // in the non-zero part; the zero part follows
    assert.equal(decodeAll(b).end.kind, "corrupt", `write ${w}`);
  }
  // The final write's first record loses a sector while its second landed: torn at its start.
  const b = buf.slice();
  const sector = Math.ceil((starts[last] + 8 + 17) / 512) * 512;
  assert.ok(sector + 512 <= starts[last] + 8 + 17 + 1100, "the sector holds non-zero data");
  b.fill(0, sector, sector + 512);
  const got = decodeAll(b);
  assert.equal(got.end.kind, "torn");
  assert.equal(got.end.offset, starts[last]);
});
