/**
 * Lessor throughput: grants, renewals (keep-alives) and revocations of 1,000 leases on the
 * primary, over the real page-file backend in a temporary directory (writes are buffered in
 * the backend's batch, as in etcd; nothing is committed inside the timed loop). The same
 * shapes as etcd's BenchmarkLessorGrant1000 / Renew1000 / Revoke1000 (TTLs 1000..2000 s):
 * divide the time per iteration by 1,000 for the time per operation.
 *
 *   ./node_modules/.bin/deno bench -A bench/lease_bench.ts
 */
import { openBackend } from "../lib/backend/open.ts";
import { Rand } from "../lib/base/rand.ts";
import { SimClock } from "../lib/io/clock.ts";
import { RealDisk } from "../lib/io/real_disk.ts";
import { encodeLease, leaseKey } from "../lib/lease/lease_record.ts";
import { Lessor } from "../lib/lease/lessor.ts";

const dir = await Deno.makeTempDir({ prefix: "concord-lease-bench-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const backend = await openBackend(new RealDisk(), `${dir}/db`, { clock: new SimClock() });
const clock = new SimClock();
const lessor = new Lessor({ backend, clock, onExpired: () => {}, onCheckpoint: () => {} });
lessor.promote(0);
const rand = new Rand(1);
const N = 1000;
const ttls = Array.from({ length: N }, () => 1000 + rand.int(1000));
let next = 1n;

function grantBatch(): bigint {
  const first = next;
  for (let j = 0; j < N; j++) lessor.grant(next++, ttls[j]);
  return first;
}

function revokeBatch(first: bigint): void {
  for (let j = 0n; j < BigInt(N); j++) lessor.revoke(first + j);
}

Deno.bench("lessor: grant 1000 leases", (b) => {
  b.start();
  const first = grantBatch();
  b.end();
  revokeBatch(first);
});

// Keep-alives renew the same leases again and again: 1,000 long-lived leases, each renewed
// once per iteration (no grants or revocations around it to leave garbage behind).
const kept = grantBatch();

Deno.bench("lessor: renew 1000 leases", async () => {
  const pending: Promise<number>[] = new Array(N);
  for (let j = 0; j < N; j++) pending[j] = lessor.renew(kept + BigInt(j));
  await Promise.all(pending);
});

Deno.bench("lessor: revoke 1000 leases (no keys)", (b) => {
  const first = grantBatch();
  b.start();
  revokeBatch(first);
  b.end();
});

// The backend's share: the same 1,000 record writes without the lessor.
backend.write.createBucket("bench");
const records = Array.from({ length: N }, (_, j) => ({
  key: leaseKey(BigInt(j + 1)),
  value: encodeLease({ id: BigInt(j + 1), ttl: ttls[j], remainingTtl: 0 }),
}));

Deno.bench("backend alone: put 1000 lease records", (b) => {
  b.start();
  for (const r of records) backend.write.put("bench", r.key, r.value);
  b.end();
  for (const r of records) backend.write.delete("bench", r.key);
});

Deno.bench("backend alone: delete 1000 lease records", (b) => {
  for (const r of records) backend.write.put("bench", r.key, r.value);
  b.start();
  for (const r of records) backend.write.delete("bench", r.key);
  b.end();
});

// The lessor's own share: the same grants, renewals and revocations over a backend whose
// writes do nothing (for the breakdown only; every other figure uses the real backend).
const nothing = {
  get: () => undefined,
  range: () => {},
  scan: () => {},
  createBucket: () => {},
  deleteBucket: () => {},
  put: () => {},
  delete: () => {},
};
const bare = new Lessor({
  backend: { ...backend, read: nothing, write: nothing },
  clock,
  onExpired: () => {},
  onCheckpoint: () => {},
});
bare.promote(0);

Deno.bench("lessor alone (no backend writes): grant, renew, revoke 1000 leases", async (b) => {
  const first = next;
  b.start();
  for (let j = 0; j < N; j++) bare.grant(next++, ttls[j]);
  const pending: Promise<number>[] = new Array(N);
  for (let j = 0; j < N; j++) pending[j] = bare.renew(first + BigInt(j));
  await Promise.all(pending);
  for (let j = 0n; j < BigInt(N); j++) bare.revoke(first + j);
  b.end();
});
