import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { type Permission, PermissionType } from "../../lib/auth/auth_records.ts";
import { keyInterval, KeyRangeSet, prefixEnd } from "../../lib/auth/range_perms.ts";
import { referencePermitted } from "./reference_perms.ts";

const b = (...v: number[]) => Uint8Array.from(v);
const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("range perms: prefix ends as etcd's clients compute them", () => {
  assert.deepEqual(prefixEnd(enc("abc")), enc("abd"));
  assert.deepEqual(prefixEnd(b(0x61, 0xff)), b(0x62));
  assert.deepEqual(prefixEnd(b(0xff, 0xff)), b(0));
  assert.deepEqual(prefixEnd(b()), b(0));
});

Deno.test("range perms: union merges overlapping and adjacent intervals", () => {
  const set = KeyRangeSet.union([
    keyInterval(enc("c"), enc("e"))!,
    keyInterval(enc("a"), b())!, // the single key "a" = [a, a\0)
    keyInterval(b(0x61, 0), enc("b"))!, // adjacent to it
    keyInterval(enc("d"), enc("f"))!,
    keyInterval(enc("x"), b(0))!,
    keyInterval(enc("z"), enc("zz"))!, // inside [x, ∞)
  ]);
  assert.deepEqual(
    set.intervals().map((
      iv,
    ) => [new TextDecoder().decode(iv.begin), iv.end && new TextDecoder().decode(iv.end)]),
    [["a", "b"], ["c", "f"], ["x", null]],
  );
  assert.ok(set.hasKey(enc("a")) && set.hasKey(b(0x61, 0)) && set.hasKey(enc("azzz")));
  assert.ok(!set.hasKey(enc("b")) && !set.hasKey(enc("")) && !set.hasKey(enc("f")));
  assert.ok(set.covers(enc("c"), enc("f")) && !set.covers(enc("c"), enc("fa")));
  assert.ok(set.covers(enc("xa"), null) && !set.covers(enc("e"), null));
  assert.equal(keyInterval(enc("b"), enc("a")), undefined);
  assert.equal(KeyRangeSet.union([]).hasKey(enc("a")), false);
});

Deno.test("range perms: randomized merged check equals the reference", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const alphabet = [0x00, 0x01, 0x61, 0x62, 0xfe, 0xff];
  const key = () => Uint8Array.from({ length: rand.int(4) }, () => rand.pick(alphabet));
  const end = (): Uint8Array => {
    const r = rand.int(4);
    return r === 0 ? b() : r === 1 ? b(0) : key();
  };
  const outcomes = { yes: 0, no: 0 };
  for (let round = 0; round < 300; round++) {
    const perms: Permission[] = Array.from({ length: rand.int(8) }, () => ({
      permType: PermissionType.READ,
      key: key(),
      rangeEnd: end(),
    }));
    const set = KeyRangeSet.union(
      perms.map((p) => keyInterval(p.key, p.rangeEnd)).filter((iv) => iv !== undefined),
    );
    for (let q = 0; q < 40; q++) {
      const k = key();
      const e = end();
      const want = referencePermitted(perms, k, e, "read");
      const iv = keyInterval(k, e);
      const got = e.length === 0 || !iv ? set.hasKey(k) : set.covers(iv.begin, iv.end);
      assert.equal(got, want, `seed=${seed} round ${round} key=[${k}] end=[${e}]`);
      outcomes[want ? "yes" : "no"]++;
    }
  }
  // Both answers must be common, or the comparison proves little.
  assert.ok(outcomes.yes > 500 && outcomes.no > 500, JSON.stringify(outcomes));
});
