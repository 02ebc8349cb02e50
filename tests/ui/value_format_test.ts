/** How the console shows bytes: text, pretty JSON, hex dumps, lease ids and sizes. */
import assert from "node:assert/strict";
import {
  asHex,
  asJson,
  asText,
  bytesText,
  leaseHex,
  parseLease,
  shortText,
} from "../../lib/ui/value_format.ts";

const enc = new TextEncoder();

Deno.test("value format: text, JSON and hex views, refusals with the reason", () => {
  assert.deepEqual(asText(enc.encode("héllo")), { ok: true, text: "héllo" });
  assert.deepEqual(asText(new Uint8Array([0xff, 0x00])), {
    ok: false,
    reason: "not valid UTF-8: see the hex view",
  });
  assert.deepEqual(asJson(enc.encode('{"a":[1,2]}')), {
    ok: true,
    text: '{\n  "a": [\n    1,\n    2\n  ]\n}',
  });
  const bad = asJson(enc.encode("{nope"));
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? "" : bad.reason, /^not JSON: /);
  const hex = asHex(enc.encode("0123456789abcdefXY\n"));
  assert.deepEqual(hex, {
    ok: true,
    text: "00000000  30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66  0123456789abcdef\n" +
      "00000010  58 59 0a                                         XY.",
  });
  assert.deepEqual(asHex(new Uint8Array()), { ok: true, text: "" });
});

Deno.test("value format: short labels, lease ids in hex, sizes", () => {
  assert.equal(shortText(enc.encode("x".repeat(100)), 10), "xxxxxxxxxx…");
  assert.equal(shortText(new Uint8Array([0x61, 0xff])), "a\ufffd");
  assert.equal(leaseHex(0x694d7a6f52b6d401n), "694d7a6f52b6d401");
  assert.equal(parseLease("694d7a6f52b6d401"), 0x694d7a6f52b6d401n);
  assert.equal(parseLease("0x10"), 16n);
  assert.equal(parseLease("  "), 0n);
  assert.throws(() => parseLease("xyz"), /lease id xyz is not a hex number/);
  assert.equal(bytesText(512), "512 B");
  assert.equal(bytesText(69632), "68.0 kB");
  assert.equal(bytesText(3 * 1024 * 1024), "3.0 MB");
});
