import assert from "node:assert/strict";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { noSyncDisk } from "../../lib/io/no_sync_disk.ts";

Deno.test("--unsafe-no-fsync's disk: writes reach the disk, syncs do not (a power loss drops them)", async () => {
  const sim = new SimDisk();
  const disk = noSyncDisk(sim);
  await disk.mkdirAll("/d");
  const f = await disk.open("/d/a", { create: true });
  await f.writeAt(Uint8Array.of(1, 2, 3), 0);
  await f.sync();
  await disk.syncDir("/d");
  const buf = new Uint8Array(3);
  assert.equal(await f.readAt(buf, 0), 3);
  assert.deepEqual([...buf], [1, 2, 3]);
  assert.equal(await disk.exists("/d/a"), true);
  sim.powerLoss("drop-all");
  assert.equal(await sim.exists("/d/a"), false, "neither the file nor its name was synced");
});
