import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { Lessor } from "../../lib/lease/lessor.ts";
import { simPlace } from "./backend_fixture.ts";

type State = Map<bigint, string>; // id -> "ttl/remaining"

function snapshot(lessor: Lessor): State {
  return new Map(lessor.leases().map((l) => [l.id, `${l.ttl}/${l.remainingTtl}`]));
}

Deno.test("lessor: after a crash or power loss, leases are exactly those of the last commit", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  for (let round = 0; round < 12; round++) {
    const place = simPlace();
    let backend = await place.open();
    let lessor = new Lessor({ backend, clock: new SimClock(), minTtl: 3 });
    let durable: State = new Map();
    for (let crash = 0; crash < 3; crash++) {
      for (let step = 0; step < 60; step++) {
        const id = BigInt(1 + rand.int(40)) * (rand.chance(0.2) ? -1n : 1n);
        const r = rand.int(10);
        if (r < 4 && !lessor.exists(id)) lessor.grant(id, rand.int(100));
        else if (r < 6 && lessor.exists(id)) lessor.revoke(id);
        else if (r < 8 && lessor.exists(id)) lessor.checkpoint(id, rand.int(100));
        else if (r === 9) {
          await backend.commit();
          durable = snapshot(lessor);
        }
      }
      if (rand.chance(0.5)) place.sim!.processCrash();
      else place.sim!.powerLoss("random");
      backend = await place.open();
      lessor = new Lessor({ backend, clock: new SimClock(), minTtl: 3 });
      assert.deepEqual(snapshot(lessor), durable, `seed=${seed} round ${round} crash ${crash}`);
    }
    await backend.close();
  }
});
