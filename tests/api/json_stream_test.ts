import assert from "node:assert/strict";
import { JsonStreamError, splitJsonValues } from "../../lib/api/json_stream.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";

async function split(parts: string[]): Promise<string[]> {
  async function* src() {
    for (const p of parts) yield new TextEncoder().encode(p);
  }
  const out: string[] = [];
  for await (const v of splitJsonValues(src())) out.push(v);
  return out;
}

Deno.test("splitJsonValues: consecutive values, strings with braces and escapes", async () => {
  assert.deepEqual(await split(['{"a":1}{"b":"}{\\"x"}', ' \n[1,[2]] 3 "s" true']), [
    '{"a":1}',
    '{"b":"}{\\"x"}',
    "[1,[2]]",
    "3",
    '"s"',
    "true",
  ]);
  assert.deepEqual(await split(["", "  \n"]), []);
  await assert.rejects(split(['{"a":']), JsonStreamError);
});

Deno.test("splitJsonValues: any chunking gives the same values (randomized)", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const values = [
    { create_request: { key: "Zm9v", range_end: "AA==" } },
    { cancel_request: { watch_id: "7" } },
    { s: 'x}"{\\', n: [1, 2, { d: "é✓" }] },
    {},
  ];
  const text = values.map((v) => JSON.stringify(v)).join("\n ");
  const bytes = new TextEncoder().encode(text);
  for (let round = 0; round < 50; round++) {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length;) {
      const n = rand.range(1, 12);
      chunks.push(bytes.slice(i, i + n));
      i += n;
    }
    const src = async function* () {
      yield* chunks;
    };
    const got: unknown[] = [];
    for await (const v of splitJsonValues(src())) got.push(JSON.parse(v));
    assert.deepEqual(got, values, `seed=${seed} round=${round}`);
  }
});
