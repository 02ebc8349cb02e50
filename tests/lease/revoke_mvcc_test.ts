import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { kvKeyDeleter } from "../../lib/lease/kv_deleter.ts";
import { Lessor, NO_LEASE } from "../../lib/lease/lessor.ts";
import { spanOf } from "../../lib/mvcc/key_bytes.ts";
import { type Commit, MvccStore } from "../../lib/mvcc/kv_store.ts";
import { simPlace } from "./backend_fixture.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function open(backend: Backend): { lessor: Lessor; kv: MvccStore } {
  const clock = new SimClock();
  const lessor = new Lessor({ backend, clock });
  const kv = MvccStore.open(backend, { leases: lessor, clock });
  lessor.setKeyDeleter(kvKeyDeleter(kv));
  return { lessor, kv };
}

function put(kv: MvccStore, entries: Array<[string, bigint]>): number {
  const txn = kv.beginWrite();
  try {
    for (const [k, lease] of entries) txn.put(enc(k), enc("v"), lease);
  } finally {
    txn.end();
  }
  return kv.rev();
}

const live = (kv: MvccStore) =>
  kv.range(spanOf(enc("\0"), new Uint8Array([0]))).kvs.map((x) => `${dec(x.key)}:${x.lease}`);

Deno.test("revoke through lib/mvcc: all keys of a lease go in one revision, also after reopen", async () => {
  const place = simPlace();
  const backend = await place.open();
  const { lessor, kv } = open(backend);
  lessor.grant(1n, 60);
  lessor.grant(2n, 60);
  lessor.grant(3n, 60);
  // The store asks the lessor before a put names a lease (the applier refuses missing ones).
  assert.equal(kv.leaseExists(9n), false);
  assert.equal(kv.leaseExists(1n), true);
  const rev = put(kv, [["c", 1n], ["a", 1n], ["b", 1n], ["d", 2n], ["e", NO_LEASE]]);
  assert.equal(lessor.getLease(enc("a")), 1n);
  const commits: Commit[] = [];
  kv.subscribe((c) => commits.push(c));
  assert.equal(lessor.revoke(1n), rev + 1);
  assert.equal(kv.rev(), rev + 1);
  assert.equal(commits.length, 1);
  assert.deepEqual(commits[0].changes.map((c) => dec(c.key)), ["a", "b", "c"]);
  assert.deepEqual(live(kv), ["d:2", "e:0"]);
  // Overwriting a key without its lease detaches it: revoking then deletes nothing.
  put(kv, [["d", 3n]]);
  assert.equal(lessor.getLease(enc("d")), 3n);
  const before = kv.rev();
  assert.equal(lessor.revoke(2n), undefined);
  assert.equal(kv.rev(), before);
  await kv.close();
  await backend.close();

  // Reopen: the store re-attaches leased keys to the recovered lessor.
  const backend2 = await place.open();
  const again = open(backend2);
  assert.deepEqual(again.lessor.leases().map((l) => l.id), [3n]);
  assert.equal(again.lessor.getLease(enc("d")), 3n);
  assert.equal(again.lessor.revoke(3n), before + 1);
  assert.deepEqual(live(again.kv), ["e:0"]);
  await again.kv.close();
  await backend2.close();
});

Deno.test("expiry to revoke, as the server drives it: reported, proposed, applied", async () => {
  const backend = await simPlace().open();
  const clock = new SimClock();
  const proposals: bigint[] = [];
  const lessor = new Lessor({ backend, clock, onExpired: (ids) => proposals.push(...ids) });
  const kv = MvccStore.open(backend, { leases: lessor, clock });
  lessor.setKeyDeleter(kvKeyDeleter(kv));
  lessor.promote(0);
  lessor.start();
  lessor.grant(1n, 5);
  put(kv, [["session/a", 1n], ["session/b", 1n], ["config", NO_LEASE]]);
  clock.advance(4_000);
  assert.deepEqual(proposals, []);
  clock.advance(1_000);
  assert.deepEqual(proposals, [1n]);
  assert.equal(live(kv).length, 3, "the lessor never deletes on its own");
  // The server proposes the revoke through raft; applying it deletes the keys.
  const rev = kv.rev();
  for (const id of proposals.splice(0)) lessor.revoke(id);
  assert.equal(kv.rev(), rev + 1);
  assert.deepEqual(live(kv), ["config:0"]);
  clock.advance(10_000);
  assert.deepEqual(proposals, []);
  lessor.stop();
  await kv.close();
  await backend.close();
});
