/**
 * Auth store permission checks for a user with 100 roles x 10 permissions (permission j of
 * role i is on the prefix "k/i/j/", READ, WRITE or READWRITE by j % 3), the same layout as the
 * etcd peer benchmark recorded in docs/perf.md. Checks cycle through 1,024 keys
 * that are all permitted, so every check runs to the end.
 *
 *   ./node_modules/.bin/deno bench -A bench/auth_bench.ts
 */
import { openBackend } from "../lib/backend/open.ts";
import { PermissionType } from "../lib/auth/auth_records.ts";
import { hashPassword } from "../lib/auth/password.ts";
import { prefixEnd } from "../lib/auth/range_perms.ts";
import { AuthStore } from "../lib/auth/store.ts";
import { SimClock } from "../lib/io/clock.ts";
import { RealDisk } from "../lib/io/real_disk.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dir = await Deno.makeTempDir({ prefix: "concord-auth-bench-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const backend = await openBackend(new RealDisk(), `${dir}/db`, { clock: new SimClock() });
const store = new AuthStore(backend);
const hash = await hashPassword("x", { iterations: 1 });
store.userAdd("root", { passwordHash: hash });
store.userGrantRole("root", "root");
store.userAdd("u", { passwordHash: await hashPassword("secret") });
for (let i = 0; i < 100; i++) {
  const role = `role${i}`;
  store.roleAdd(role);
  for (let j = 0; j < 10; j++) {
    const key = enc(`k/${i}/${j}/`);
    store.roleGrantPermission(role, { permType: j % 3, key, rangeEnd: prefixEnd(key) });
  }
  store.userGrantRole("u", role);
}
store.enable();

const keys = Array.from({ length: 1024 }, (_, n) => {
  const i = (n * 7) % 100;
  let j = (n * 3) % 10;
  if (j % 3 === PermissionType.WRITE) j = (j + 1) % 10; // WRITE-only: READ would be denied
  return enc(`k/${i}/${j}/key${n}`);
});
const ends = keys.map((k) => Uint8Array.from([...k, 0xff]));
const NONE = new Uint8Array(0);
const info = { username: "u", revision: store.revision };
let n = 0;

Deno.bench("auth: checkRange of one key (the per-request check)", () => {
  const i = n++ & 1023;
  info.revision = store.revision; // the token's revision (the rebuild bench below bumps it)
  store.checkRange(info, keys[i], NONE);
});

Deno.bench("auth: permitted(read) of one key (merged-set lookup only)", () => {
  const i = n++ & 1023;
  if (!store.permitted("u", keys[i], NONE, "read")) throw new Error("denied");
});

Deno.bench("auth: permitted(read) of a range [key, key+0xff)", () => {
  const i = n++ & 1023;
  if (!store.permitted("u", keys[i], ends[i], "read")) throw new Error("denied");
});

Deno.bench("auth: rebuild the merged sets after a change (1000 permissions)", () => {
  store.disable();
  store.enable(); // drops the cached sets; the next check rebuilds them
  store.permitted("u", keys[0], NONE, "read");
});

Deno.bench("auth: authenticate (PBKDF2-SHA256, 600,000 iterations)", {
  n: 20,
  warmup: 2,
}, async () => {
  await store.authenticate("u", "secret");
});
