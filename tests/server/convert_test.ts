import assert from "node:assert/strict";
import { WatchIds } from "../../lib/server/convert.ts";

Deno.test("WatchIds: any int64 id round-trips; safe ids are themselves", () => {
  const ids = new WatchIds();
  assert.equal(ids.forCreate(0n), 0);
  assert.equal(ids.forCreate(7n), 7);
  assert.equal(ids.toWire(7), 7n);
  assert.equal(ids.toWire(-1), -1n); // the stream-wide / refused id
  const wire = [-1n, -(1n << 63n), (1n << 63n) - 1n, 1n << 53n];
  const hub = wire.map((w) => ids.forCreate(w));
  assert.equal(new Set(hub).size, wire.length);
  for (const [i, h] of hub.entries()) {
    assert.ok(!Number.isInteger(h), `${h} must not collide with an integer id`);
    assert.equal(ids.toWire(h), wire[i]);
    assert.equal(ids.forCreate(wire[i]), h); // a second create with it is a duplicate
    assert.equal(ids.forCancel(wire[i]), h);
  }
  assert.equal(ids.forCancel(-5n), undefined);
  assert.equal(ids.forCancel(5n), 5);
});
