// A full disk under the backend (docs/testing.md, finding 8): a commit that cannot be made
// durable fails the backend and tells its owner, with no unhandled rejection (one ended the
// whole process); a defragmentation that runs out of room fails alone and leaves the backend
// serving on its old file.
import assert from "node:assert/strict";
import { SimClock } from "../../lib/io/clock.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { FailedError, openBackend } from "../../lib/backend/open.ts";
import type { BatchBackend } from "../../lib/backend/batch_backend.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const PATH = "/data/db";

/** A disk with room for `extra` more bytes than it holds now. */
function fill(disk: SimDisk, extra: number): void {
  disk.capacity = 0;
  disk.capacity = -disk.room() + extra;
}

async function filled(keys: number): Promise<{ disk: SimDisk; clock: SimClock; b: BatchBackend }> {
  const disk = new SimDisk();
  await disk.mkdirAll("/data");
  const clock = new SimClock();
  const b = await openBackend(disk, PATH, { clock });
  b.write.createBucket("key");
  for (let i = 0; i < keys; i++) {
    b.write.put("key", enc.encode(`k${i}`), enc.encode(`value ${i} `.repeat(20)));
  }
  await b.commit();
  return { disk, clock, b };
}

Deno.test("disk full: a background commit that fails tells the owner and fails every later call", async () => {
  const { disk, clock, b } = await filled(10);
  const failures: Error[] = [];
  b.onFailure((err) => failures.push(err));
  fill(disk, 0);
  for (let i = 0; i < 200; i++) {
    b.write.put("key", enc.encode(`n${i}`), enc.encode("x".repeat(200)));
  }
  clock.advance(100); // the batch interval: a commit nobody awaits
  const deadline = Date.now() + 5000;
  while (failures.length === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.equal(failures.length, 1, "the owner is told once");
  assert.ok(failures[0] instanceof FailedError);
  assert.match(String(failures[0].cause), /no space left on device/);
  assert.equal(b.failure, failures[0]);
  assert.throws(() => b.write.put("key", enc.encode("z"), enc.encode("1")), FailedError);
  // a listener that comes late hears it too
  const late = await new Promise<Error>((resolve) => b.onFailure(resolve));
  assert.equal(late, failures[0]);
  await assert.rejects(b.close(), FailedError);
});

Deno.test("disk full: a defrag with no room for its copy fails; the backend serves on its old file", async () => {
  const { disk, b } = await filled(200);
  const failures: Error[] = [];
  b.onFailure((err) => failures.push(err));
  fill(disk, 4096);
  await assert.rejects(b.defrag(), /no space left on device/);
  assert.equal(await disk.exists(`${PATH}.defrag.tmp`), false, "the partial copy is removed");
  assert.equal(b.failure, null);
  assert.equal(dec.decode(b.read.get("key", enc.encode("k150"))!), "value 150 ".repeat(20));
  // with room again (the operator freed some), writes commit and a defrag works
  disk.capacity = Infinity;
  b.write.delete("key", enc.encode("k0"));
  b.write.put("key", enc.encode("k1"), enc.encode("short"));
  await b.commit();
  await b.defrag();
  await b.close();
  assert.deepEqual(failures, []);
  const again = await openBackend(disk, PATH, { clock: new SimClock() });
  assert.equal(again.read.get("key", enc.encode("k0")), undefined);
  assert.equal(dec.decode(again.read.get("key", enc.encode("k1"))!), "short");
  assert.equal(dec.decode(again.read.get("key", enc.encode("k199"))!), "value 199 ".repeat(20));
  await again.close();
});
