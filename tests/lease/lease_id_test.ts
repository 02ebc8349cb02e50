import assert from "node:assert/strict";
import { LeaseIdGenerator } from "../../lib/lease/lease_id.ts";

Deno.test("lease ids: etcd's layout (member bits, clock, counter), positive, unique", () => {
  const gen = new LeaseIdGenerator(0xabcd1234n, 0x0102030405);
  // prefix 0x1234 (low 16 bits of the member id), then 40 bits of ms, then the counter.
  assert.equal(gen.next(), 0x1234_0102030405_01n);
  assert.equal(gen.next(), 0x1234_0102030405_02n);
  // A member id whose low 16 bits set the sign bit still yields positive ids.
  const high = new LeaseIdGenerator(0xffffn, 0);
  const id = high.next();
  assert.ok(id > 0n && id === 0x7fff_0000000000_01n);
  // Taken ids are skipped; ids never repeat within the 48-bit suffix space.
  const g = new LeaseIdGenerator(1n, 5);
  const first = g.next();
  const taken = new Set([first + 1n, first + 2n]);
  assert.equal(g.next((x) => taken.has(x)), first + 3n);
  const seen = new Set<bigint>();
  for (let i = 0; i < 10_000; i++) seen.add(g.next());
  assert.equal(seen.size, 10_000);
  // Member 0 at time 0: the counter starts at 1, never 0.
  assert.equal(new LeaseIdGenerator(0n, 0).next(), 1n);
});
