import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { PermissionType } from "../../lib/auth/auth_records.ts";
import { hashPassword } from "../../lib/auth/password.ts";
import { AuthStore } from "../../lib/auth/store.ts";
import { simPlace } from "../lease/backend_fixture.ts";

function snapshot(s: AuthStore): string {
  return JSON.stringify({
    enabled: s.enabled,
    revision: s.revision,
    users: s.userList().map((u) => s.userGet(u)),
    roles: s.roleList().map((
      r,
    ) => [r, s.roleGet(r).map((p) => [p.permType, [...p.key], [...p.rangeEnd]])]),
  });
}

Deno.test("auth store: after a crash or power loss, the state is exactly that of the last commit", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const hash = await hashPassword("pw", { iterations: 1 });
  const names = ["root", "a", "b", "c"];
  for (let round = 0; round < 8; round++) {
    const place = simPlace();
    let backend = await place.open();
    let store = new AuthStore(backend);
    let durable = snapshot(store);
    for (let crash = 0; crash < 3; crash++) {
      for (let step = 0; step < 80; step++) {
        const user = rand.pick(names);
        const role = rand.pick(names);
        try {
          switch (rand.int(10)) {
            case 0:
              store.userAdd(user, rand.chance(0.5) ? { passwordHash: hash } : { noPassword: true });
              break;
            case 1:
              store.userDelete(user);
              break;
            case 2:
              store.roleAdd(role);
              break;
            case 3:
              store.roleDelete(role);
              break;
            case 4:
              store.userGrantRole(user, role);
              break;
            case 5:
              store.userRevokeRole(user, role);
              break;
            case 6:
              store.roleGrantPermission(role, {
                permType: rand.int(3) as PermissionType,
                key: rand.bytes(1 + rand.int(2)),
                rangeEnd: rand.bytes(rand.int(2)),
              });
              break;
            case 7:
              if (rand.chance(0.5)) store.enable();
              else store.disable();
              break;
            default:
              await backend.commit();
              durable = snapshot(store);
          }
        } catch (e) {
          if (!(e instanceof Error) || !e.message.startsWith("etcdserver:")) throw e;
        }
      }
      if (rand.chance(0.5)) place.sim!.processCrash();
      else place.sim!.powerLoss("random");
      backend = await place.open();
      store = new AuthStore(backend);
      assert.equal(snapshot(store), durable, `seed=${seed} round ${round} crash ${crash}`);
    }
    await backend.close();
  }
});
