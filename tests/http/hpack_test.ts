import assert from "node:assert/strict";
import { ByteBuffer } from "../../lib/http/byte_buffer.ts";
import {
  HpackDecoder,
  HpackEncoder,
  HpackError,
  writeInt,
  writeStr,
} from "../../lib/http/hpack.ts";
import {
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  HuffmanError,
} from "../../lib/http/huffman.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function toHex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}

interface Step {
  block: string;
  want: [string, string][];
  table: [string, string][];
  size: number;
}

function runSeries(tableSize: number, steps: Step[]): void {
  const d = new HpackDecoder(tableSize);
  for (const [i, step] of steps.entries()) {
    const b = hex(step.block);
    const out: string[] = [];
    d.decode(b, 0, b.length, out);
    assert.deepEqual(pairs(out), step.want, `step ${i} fields`);
    assert.deepEqual(d.entries(), step.table, `step ${i} table`);
    assert.equal(d.tableSize, step.size, `step ${i} size`);
  }
}

Deno.test("hpack: C.1 integer representation", () => {
  const b = new ByteBuffer(16);
  writeInt(b, 0, 5, 10);
  assert.equal(toHex(b.view()), "0a");
  b.reset();
  writeInt(b, 0, 5, 1337);
  assert.equal(toHex(b.view()), "1f9a0a");
  b.reset();
  writeInt(b, 0, 8, 42);
  assert.equal(toHex(b.view()), "2a");
});

Deno.test("hpack: C.2 single fields", () => {
  const cases: [string, [string, string][], [string, string][]][] = [
    [
      "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
      [["custom-key", "custom-header"]],
      [["custom-key", "custom-header"]],
    ],
    ["040c 2f73 616d 706c 652f 7061 7468", [[":path", "/sample/path"]], []],
    ["1008 7061 7373 776f 7264 0673 6563 7265 74", [["password", "secret"]], []],
    ["82", [[":method", "GET"]], []],
  ];
  for (const [block, want, table] of cases) {
    const d = new HpackDecoder();
    const b = hex(block);
    const out: string[] = [];
    d.decode(b, 0, b.length, out);
    assert.deepEqual(pairs(out), want);
    assert.deepEqual(d.entries(), table);
  }
});

const C3_C4_FIELDS: [string, string][][] = [
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]],
  [
    [":method", "GET"],
    [":scheme", "http"],
    [":path", "/"],
    [":authority", "www.example.com"],
    ["cache-control", "no-cache"],
  ],
  [
    [":method", "GET"],
    [":scheme", "https"],
    [":path", "/index.html"],
    [":authority", "www.example.com"],
    ["custom-key", "custom-value"],
  ],
];
const C3_C4_TABLES: [string, string][][] = [
  [[":authority", "www.example.com"]],
  [["cache-control", "no-cache"], [":authority", "www.example.com"]],
  [["custom-key", "custom-value"], ["cache-control", "no-cache"], [
    ":authority",
    "www.example.com",
  ]],
];
const C3_C4_SIZES = [57, 110, 164];

Deno.test("hpack: C.3 requests without Huffman", () => {
  const blocks = [
    "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
    "8286 84be 5808 6e6f 2d63 6163 6865",
    "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
  ];
  runSeries(
    4096,
    blocks.map((block, i) => ({
      block,
      want: C3_C4_FIELDS[i],
      table: C3_C4_TABLES[i],
      size: C3_C4_SIZES[i],
    })),
  );
});

Deno.test("hpack: C.4 requests with Huffman", () => {
  const blocks = [
    "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
    "8286 84be 5886 a8eb 1064 9cbf",
    "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
  ];
  runSeries(
    4096,
    blocks.map((block, i) => ({
      block,
      want: C3_C4_FIELDS[i],
      table: C3_C4_TABLES[i],
      size: C3_C4_SIZES[i],
    })),
  );
});

const DATE1 = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE2 = "Mon, 21 Oct 2013 20:13:22 GMT";
const LOC = "https://www.example.com";
const COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const C5_C6_FIELDS: [string, string][][] = [
  [[":status", "302"], ["cache-control", "private"], ["date", DATE1], ["location", LOC]],
  [[":status", "307"], ["cache-control", "private"], ["date", DATE1], ["location", LOC]],
  [
    [":status", "200"],
    ["cache-control", "private"],
    ["date", DATE2],
    ["location", LOC],
    ["content-encoding", "gzip"],
    ["set-cookie", COOKIE],
  ],
];
const C5_C6_TABLES: [string, string][][] = [
  [["location", LOC], ["date", DATE1], ["cache-control", "private"], [":status", "302"]],
  [[":status", "307"], ["location", LOC], ["date", DATE1], ["cache-control", "private"]],
  [["set-cookie", COOKIE], ["content-encoding", "gzip"], ["date", DATE2]],
];
const C5_C6_SIZES = [222, 222, 215];

Deno.test("hpack: C.5 responses without Huffman (table size 256, evictions)", () => {
  const blocks = [
    `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
     2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
     6c65 2e63 6f6d`,
    "4803 3330 37c1 c0bf",
    `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
     54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
     5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
     3d31`,
  ];
  runSeries(
    256,
    blocks.map((block, i) => ({
      block,
      want: C5_C6_FIELDS[i],
      table: C5_C6_TABLES[i],
      size: C5_C6_SIZES[i],
    })),
  );
});

Deno.test("hpack: C.6 responses with Huffman (table size 256, evictions)", () => {
  const blocks = [
    `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
     2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
    "4883 640e ffc1 c0bf",
    `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
     77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
     9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
  ];
  runSeries(
    256,
    blocks.map((block, i) => ({
      block,
      want: C5_C6_FIELDS[i],
      table: C5_C6_TABLES[i],
      size: C5_C6_SIZES[i],
    })),
  );
});

Deno.test("huffman: encodes the RFC 7541 C.4/C.6 strings exactly", () => {
  const cases: [string, string][] = [
    ["www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"],
    ["no-cache", "a8eb10649cbf"],
    ["custom-key", "25a849e95ba97d7f"],
    ["custom-value", "25a849e95bb8e8b4bf"],
    ["302", "6402"],
    ["private", "aec3771a4b"],
    [DATE1, "d07abe941054d444a8200595040b8166e082a62d1bff"],
    [LOC, "9d29ad171863c78f0b97c8e9ae82ae43d3"],
    ["307", "640eff"],
    ["gzip", "9bd9ab"],
    [
      COOKIE,
      "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
    ],
  ];
  for (const [s, want] of cases) {
    const n = huffmanEncodedLength(s);
    const dst = new Uint8Array(n);
    assert.equal(huffmanEncode(s, dst, 0), n);
    assert.equal(toHex(dst), want, s);
    assert.equal(huffmanDecode(dst, 0, n), s);
  }
});

Deno.test("huffman: rejects bad padding and EOS", () => {
  const bad = [
    [0xff],
    [0x1f, 0xff],
    [0x1f, 0xff, 0xff],
    [0x1f, 0xff, 0xff, 0xff],
    [0xff, 0x9f, 0xff, 0xff, 0xff],
    [0x52, 0xbc, 0x30, 0xff, 0xff, 0xff, 0xff],
    [0xff, 0xff, 0xff, 0xff, 0xfc],
    [0x00],
  ];
  for (const b of bad) {
    assert.throws(() => huffmanDecode(Uint8Array.from(b), 0, b.length), HuffmanError, `${b}`);
  }
});

Deno.test("huffman: random octet strings round-trip", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  for (let i = 0; i < 2000; i++) {
    const len = rand.int(40);
    let s = "";
    for (let j = 0; j < len; j++) s += String.fromCharCode(rand.int(256));
    const n = huffmanEncodedLength(s);
    const dst = new Uint8Array(n);
    assert.equal(huffmanEncode(s, dst, 0), n);
    assert.equal(huffmanDecode(dst, 0, n), s, `seed=${seed} case ${i}`);
  }
});

Deno.test("hpack: encoder and decoder stay in step across many blocks and table resizes", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const enc = new HpackEncoder();
  const dec = new HpackDecoder(4096);
  const names = ["content-type", "grpc-status", "x-a", "x-b", ":status", "date", "etag"];
  const buf = new ByteBuffer(64);
  for (let i = 0; i < 500; i++) {
    if (rand.chance(0.05)) enc.setMaxTableSize(rand.pick([0, 64, 256, 4096]));
    buf.reset();
    enc.begin(buf);
    const want: string[] = [];
    const n = 1 + rand.int(6);
    for (let j = 0; j < n; j++) {
      const name = rand.pick(names);
      const value = rand.chance(0.5) ? "v" + rand.int(5) : "x".repeat(rand.int(300));
      enc.field(buf, name, value);
      want.push(name, value);
    }
    const out: string[] = [];
    dec.decode(buf.buf, 0, buf.len, out);
    assert.deepEqual(out, want, `seed=${seed} block ${i}`);
  }
});

Deno.test("hpack: repeated fields shrink to one octet", () => {
  const enc = new HpackEncoder();
  const buf = new ByteBuffer(64);
  enc.field(buf, "content-type", "application/grpc");
  const first = buf.len;
  buf.reset();
  enc.field(buf, "content-type", "application/grpc");
  assert.ok(first > 1);
  assert.equal(buf.len, 1);
});

Deno.test("hpack: malformed blocks are COMPRESSION errors", () => {
  const bad = [
    "80", // index 0
    "be", // dynamic index out of range on an empty table
    "4a", // literal with indexed name: missing value
    "40 05 61 62", // name string longer than block
    "ff ff ff ff ff 0f", // integer overflow
    "82 3f e1 1f", // table size update after a field
    "3f e2 1f", // table size update larger than allowed (4096)
    "40 81 ff 01 61", // Huffman name with bad padding
  ];
  for (const b of bad) {
    const d = new HpackDecoder(4096);
    const bytes = hex(b);
    assert.throws(() => d.decode(bytes, 0, bytes.length, []), HpackError, b);
  }
});

Deno.test("hpack: header list size limit stops storing but keeps the table in step", () => {
  const enc = new HpackEncoder();
  const buf = new ByteBuffer(64);
  enc.field(buf, "x-big", "a".repeat(100));
  enc.field(buf, "x-small", "b");
  const d = new HpackDecoder();
  const out: string[] = [];
  const size = d.decode(buf.buf, 0, buf.len, out, 50);
  assert.equal(size, 5 + 100 + 32 + 7 + 1 + 32);
  assert.deepEqual(out, []);
  assert.equal(d.entries().length, 2);
});

Deno.test("hpack: writeStr picks the shorter of Huffman and raw", () => {
  const b = new ByteBuffer(8);
  writeStr(b, "www.example.com");
  assert.equal(toHex(b.view()), "8cf1e3c2e5f23a6ba0ab90f4ff");
  b.reset();
  writeStr(b, "\x00\x01");
  assert.equal(toHex(b.view()), "020001");
});
