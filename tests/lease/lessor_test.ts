import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import { Errors } from "../../lib/base/errors.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import type { LeaseId } from "../../lib/base/types.ts";
import { SimClock } from "../../lib/io/clock.ts";
import {
  type LeaseCheckpoint,
  Lessor,
  type LessorOptions,
  MAX_LEASE_TTL,
  minLeaseTtlSeconds,
  NO_LEASE,
  NotPrimaryError,
} from "../../lib/lease/lessor.ts";
import { LEASE_BUCKET, leaseKey } from "../../lib/lease/lease_record.ts";
import { BucketKv, dec, enc } from "./kv_stub.ts";
import { places, simBackend, simPlace } from "./backend_fixture.ts";

interface Harness {
  clock: SimClock;
  backend: Backend;
  lessor: Lessor;
  expired: LeaseId[][];
  checkpoints: LeaseCheckpoint[][];
}

async function harness(
  opts: Partial<LessorOptions> & { checkpointing?: boolean } = {},
  backendIn?: Backend,
  clock = new SimClock(),
): Promise<Harness> {
  const backend = backendIn ?? await simBackend();
  const expired: LeaseId[][] = [];
  const checkpoints: LeaseCheckpoint[][] = [];
  const lessor = new Lessor({
    backend,
    clock,
    onExpired: (ids) => expired.push(ids),
    onCheckpoint: opts.checkpointing ? (b) => checkpoints.push(b) : undefined,
    ...opts,
  });
  return { clock, backend, lessor, expired, checkpoints };
}

Deno.test("lessor: grant errors and the minimum TTL", async () => {
  const { lessor } = await harness({ minTtl: minLeaseTtlSeconds(10, 100) });
  assert.equal(lessor.minTtl, 2); // 1.5 election timeouts of 1 s, rounded up
  assert.equal(minLeaseTtlSeconds(10, 500), 8); // 7.5 s -> 8
  assert.throws(() => lessor.grant(NO_LEASE, 10), (e) => Errors.leaseNotFound.is(e));
  assert.throws(() => lessor.grant(1n, MAX_LEASE_TTL + 1), (e) => Errors.leaseTTLTooLarge.is(e));
  assert.equal(lessor.grant(1n, MAX_LEASE_TTL).ttl, MAX_LEASE_TTL);
  assert.throws(() => lessor.grant(1n, 5), (e) => Errors.leaseExist.is(e));
  assert.equal(lessor.grant(2n, 1).ttl, 2);
  assert.equal(lessor.grant(3n, -5).ttl, 2);
  assert.equal(lessor.grant(-7n, 30).ttl, 30); // any int64 but 0 is a valid client-chosen id
  assert.throws(() => lessor.grant(1n << 63n, 5), RangeError);
  assert.throws(() => lessor.revoke(99n), (e) => Errors.leaseNotFound.is(e));
  assert.throws(() => lessor.timeToLive(99n), (e) => Errors.leaseNotFound.is(e));
  assert.throws(() => lessor.attach(99n, enc("k")), (e) => Errors.leaseNotFound.is(e));
  assert.throws(() => lessor.detach(99n, enc("k")), (e) => Errors.leaseNotFound.is(e));
  assert.deepEqual(lessor.leases().map((l) => l.id).sort(), [-7n, 1n, 2n, 3n]);
});

Deno.test("lessor: the primary reports expiry, re-reports until revoked, never revokes", async () => {
  const h = await harness({ expiredRetryIntervalMs: 3000 });
  h.lessor.promote(0);
  h.lessor.start();
  h.lessor.grant(1n, 10);
  h.lessor.grant(2n, 20);
  h.clock.advance(9_500);
  assert.deepEqual(h.expired, []);
  h.clock.advance(1_000); // the 500 ms scan at 10 s sees lease 1 expired
  assert.deepEqual(h.expired, [[1n]]);
  assert.ok(h.lessor.exists(1n), "expiry must not revoke locally");
  h.clock.advance(2_000);
  assert.deepEqual(h.expired, [[1n]]);
  h.clock.advance(1_500); // retry interval passed: reported again
  assert.deepEqual(h.expired, [[1n], [1n]]);
  h.lessor.revoke(1n);
  h.clock.advance(5_000);
  assert.deepEqual(h.expired, [[1n], [1n]]);
  h.clock.advance(1_000); // lease 2 at 20 s
  assert.deepEqual(h.expired, [[1n], [1n], [2n]]);
  h.lessor.stop();
});

Deno.test("lessor: keep-alive extends; renew needs the primary", async () => {
  const h = await harness();
  h.lessor.grant(1n, 10);
  await assert.rejects(() => h.lessor.renew(1n), NotPrimaryError);
  h.lessor.promote(0);
  h.lessor.start();
  h.clock.advance(6_000);
  assert.equal(h.lessor.timeToLive(1n).ttl, 4);
  assert.equal(await h.lessor.renew(1n), 10);
  assert.equal(h.lessor.timeToLive(1n).ttl, 10);
  h.clock.advance(6_000);
  assert.deepEqual(h.expired, []);
  h.clock.advance(4_500);
  assert.deepEqual(h.expired, [[1n]]);
  await assert.rejects(() => h.lessor.renew(2n), (e) => Errors.leaseNotFound.is(e));
  h.lessor.stop();
});

Deno.test("lessor: renewals leave the expiry index alone, expiry still comes soonest first", async () => {
  const h = await harness({ expiredRetryIntervalMs: 3000 });
  h.lessor.promote(0);
  h.lessor.grant(1n, 10); // queued at 10 s
  h.lessor.grant(2n, 12); // queued at 12 s
  h.clock.advance(5_000);
  assert.equal(h.lessor.renewNow(1n), 10); // expires at 15 s, still queued at 10 s
  assert.equal(h.lessor.renewNow(3n), undefined, "an unknown lease is left to renew()");
  h.clock.advance(5_500); // 10.5 s: lease 1's stale entry comes up and is moved
  assert.deepEqual(h.lessor.findExpired(10), []);
  assert.equal(h.lessor.timeToLive(1n).ttl, 4);
  h.clock.advance(5_000); // 15.5 s: both expired, lease 2 (12 s) before lease 1 (15 s)
  assert.deepEqual(h.lessor.findExpired(10), [2n, 1n]);
  assert.deepEqual(h.lessor.findExpired(10), [], "reported again only after the retry");
  assert.equal(h.lessor.renewNow(1n), undefined, "an expired lease is not renewed");
  // many renewals, one stale entry each: a lease renewed before its TTL never expires
  h.lessor.grant(4n, 2);
  for (let i = 0; i < 20; i++) {
    h.clock.advance(1_500);
    assert.deepEqual(h.lessor.findExpired(10).filter((id) => id === 4n), []);
    assert.equal(h.lessor.renewNow(4n), 2);
  }
  h.clock.advance(2_000);
  assert.deepEqual(h.lessor.findExpired(10).filter((id) => id === 4n), [4n]);
  // a renewal to an earlier time than the queued one (after a promotion's extension) moves
  // the entry earlier
  h.lessor.demote();
  h.lessor.promote(60_000); // lease 4 queued 62 s from now
  assert.equal(h.lessor.renewNow(4n), 2);
  h.clock.advance(2_100);
  assert.deepEqual(h.lessor.findExpired(10).filter((id) => id === 4n), [4n]);
});

Deno.test("lessor: renewing an expired lease waits for its revoke or a demotion", async () => {
  const h = await harness();
  h.lessor.promote(0);
  h.lessor.grant(1n, 5);
  h.lessor.grant(2n, 5);
  h.clock.advance(5_000);
  const r1 = h.lessor.renew(1n);
  const r2 = h.lessor.renew(2n);
  let settled = false;
  r1.catch(() => {}).finally(() => (settled = true));
  await Promise.resolve();
  assert.equal(settled, false, "an expired lease must not be renewed");
  h.lessor.revoke(1n);
  await assert.rejects(r1, (e) => Errors.leaseNotFound.is(e));
  h.lessor.demote();
  await assert.rejects(r2, NotPrimaryError);
  assert.ok(h.lessor.exists(2n));
});

Deno.test("lessor: revoke deletes every attached key in one revision, sorted", async () => {
  const h = await harness();
  const kv = new BucketKv(h.backend);
  h.lessor.setKeyDeleter(kv);
  h.lessor.grant(1n, 60);
  h.lessor.grant(2n, 60);
  for (const k of ["b", "a", "c/1", "\u00ff"]) {
    kv.put(k);
    h.lessor.attach(1n, enc(k));
  }
  kv.put("other");
  h.lessor.attach(2n, enc("other"));
  kv.put("detached");
  h.lessor.attach(1n, enc("detached"));
  h.lessor.detach(1n, enc("detached"));
  assert.equal(h.lessor.getLease(enc("a")), 1n);
  assert.equal(h.lessor.getLease(enc("detached")), NO_LEASE);
  const ttl = h.lessor.timeToLive(1n, true);
  assert.deepEqual(ttl.keys.map(dec), ["a", "b", "c/1", "\u00ff"]);
  const before = kv.revision;
  const rev = h.lessor.revoke(1n);
  assert.equal(rev, before + 1);
  assert.deepEqual(kv.calls, [["a", "b", "c/1", "\u00ff"]]);
  for (const k of ["a", "b", "c/1", "\u00ff"]) assert.equal(kv.has(k), false, k);
  assert.ok(kv.has("other") && kv.has("detached"));
  assert.equal(h.lessor.getLease(enc("a")), NO_LEASE);
  assert.equal(h.lessor.exists(1n), false);
  assert.equal(h.backend.read.get(LEASE_BUCKET, leaseKey(1n)), undefined);
  assert.ok(h.backend.read.get(LEASE_BUCKET, leaseKey(2n)));
  // A lease without keys revokes without a KV write.
  h.lessor.grant(3n, 60);
  assert.equal(h.lessor.revoke(3n), undefined);
  assert.equal(kv.calls.length, 1);
  // Moving a key to another lease detaches it from the first.
  h.lessor.attach(2n, enc("moved"));
  h.lessor.grant(4n, 60);
  h.lessor.attach(4n, enc("moved"));
  assert.deepEqual(h.lessor.timeToLive(2n, true).keys.map(dec), ["other"]);
});

Deno.test("lessor: a lease with keys cannot be revoked without a key deleter", async () => {
  const h = await harness();
  h.lessor.grant(1n, 60);
  h.lessor.attach(1n, enc("k"));
  assert.throws(() => h.lessor.revoke(1n), /no key deleter/);
  assert.ok(h.lessor.exists(1n));
});

for (const { kind, make } of places) {
  Deno.test(`lessor (${kind} disk): leases survive reopen; checkpointed TTLs are honored`, async () => {
    const place = await make();
    try {
      const clock = new SimClock();
      const a = await harness(
        { checkpointing: true, checkpointIntervalMs: 60_000 },
        await place.open(),
        clock,
      );
      a.lessor.promote(0);
      a.lessor.start();
      a.lessor.grant(1n, 300);
      a.lessor.grant(2n, 300);
      a.lessor.grant(3n, 30); // too short to need checkpoints
      clock.advance(60_000);
      // One batch: both long leases, 240 s left each.
      assert.deepEqual(a.checkpoints, [[{ id: 1n, remainingTtl: 240 }, {
        id: 2n,
        remainingTtl: 240,
      }]]);
      // The server replicates the batch; applying it records and persists the remaining TTLs.
      for (const cp of a.checkpoints[0]) a.lessor.checkpoint(cp.id, cp.remainingTtl);
      a.lessor.stop();
      await a.backend.close();

      // Restart: a follower's leases do not count down; the new leader counts from the checkpoint.
      const clock2 = new SimClock(1_000_000);
      const b = await harness(
        { checkpointing: true, checkpointIntervalMs: 60_000 },
        await place.open(),
        clock2,
      );
      assert.deepEqual(b.lessor.leases().map((l) => [l.id, l.ttl, l.remainingTtl]), [
        [1n, 300, 240],
        [2n, 300, 240],
        [3n, 30, 0],
      ]);
      assert.equal(b.lessor.lookup(1n)!.expiry, Infinity);
      b.lessor.promote(1_000);
      assert.equal(b.lessor.timeToLive(1n).ttl, 241);
      assert.equal(b.lessor.timeToLive(3n).ttl, 31);
      b.lessor.start();
      clock2.advance(241_000);
      assert.deepEqual(b.expired[0], [3n]); // at 31 s, then re-reported every 3 s until revoked
      const late = b.expired.flat().filter((id) => id !== 3n);
      assert.deepEqual([...new Set(late)].sort(), [1n, 2n]);
      assert.equal(b.expired.findIndex((ids) => ids.includes(1n)) > 0, true);
      b.lessor.revoke(1n);
      b.lessor.revoke(2n);
      b.lessor.revoke(3n);
      // A keep-alive after a checkpoint restarts the full TTL and asks to clear the checkpoint.
      b.lessor.grant(4n, 300);
      clock2.advance(60_000);
      const cp4 = b.checkpoints.flat().filter((c) => c.id === 4n);
      assert.deepEqual(cp4, [{ id: 4n, remainingTtl: 240 }]);
      b.lessor.checkpoint(4n, 240);
      b.checkpoints.length = 0;
      assert.equal(await b.lessor.renew(4n), 300);
      assert.deepEqual(b.checkpoints, [[{ id: 4n, remainingTtl: 0 }]]);
      assert.equal(b.lessor.timeToLive(4n).ttl, 300);
      b.lessor.checkpoint(4n, 0);
      assert.equal(b.lessor.lookup(4n)!.remainingTtl, 0);
      b.lessor.stop();
      await b.backend.close();
    } finally {
      await place.cleanup();
    }
  });
}

Deno.test("lessor: what was not committed is not recovered (kill -9)", async () => {
  const place = simPlace();
  const a = await harness({}, await place.open());
  a.lessor.grant(1n, 60);
  await a.backend.commit();
  a.lessor.grant(2n, 60);
  a.lessor.revoke(1n);
  place.sim!.processCrash();
  const b = await harness({}, await place.open());
  assert.deepEqual(b.lessor.leases().map((l) => l.id), [1n]);
  await b.backend.close();
});

Deno.test("lessor: demote stops expiry; promote extends remaining TTLs", async () => {
  const h = await harness();
  h.lessor.promote(0);
  h.lessor.start();
  h.lessor.grant(1n, 10);
  h.clock.advance(8_000);
  h.lessor.demote();
  assert.equal(h.lessor.isPrimary, false);
  h.clock.advance(60_000);
  assert.deepEqual(h.expired, []);
  assert.equal(h.lessor.lookup(1n)!.expiry, Infinity);
  // A non-primary grants leases that do not count down until promoted.
  h.lessor.grant(2n, 10);
  h.lessor.promote(2_000);
  assert.equal(h.lessor.timeToLive(1n).ttl, 12);
  h.clock.advance(11_500);
  assert.deepEqual(h.expired, []);
  h.clock.advance(500);
  assert.deepEqual(h.expired, [[1n, 2n]]);
  h.lessor.stop();
});

Deno.test("lessor: promote after a restart spreads a pile of expiries under the revoke rate", async () => {
  // etcd's TestLessorRenewExtendPileup: revoke rate 10/s, 200 leases of 10 s and 11 s.
  const rate = 10;
  const place = simPlace();
  const a = await harness({ revokeRate: rate }, await place.open());
  for (let i = 1n; i <= BigInt(rate * 10); i++) {
    a.lessor.grant(2n * i, 10);
    a.lessor.grant(2n * i + 1n, 11);
  }
  await a.backend.close();
  const h = await harness({ revokeRate: rate }, await place.open());
  h.lessor.promote(0);
  const now = h.clock.now();
  const windows = new Map<number, number>();
  for (const l of h.lessor.leases()) {
    const s = Math.trunc((l.expiry - now) / 1000 + 0.1);
    windows.set(s, (windows.get(s) ?? 0) + 1);
  }
  for (let s = 10; s < 30; s++) {
    const c = windows.get(s) ?? 0;
    assert.ok(c <= rate, `at most ${rate} expiring at ${s} s, got ${c}`);
    assert.ok(c >= rate / 2, `at least ${rate / 2} expiring at ${s} s, got ${c}`);
  }
  await h.backend.close();
});

Deno.test("lessor: checkpoints come in batches of at most 1000 and skip fresh leases", async () => {
  const h = await harness({ checkpointing: true, checkpointIntervalMs: 1_000 });
  h.lessor.promote(0);
  for (let i = 1n; i <= 2_500n; i++) h.lessor.grant(i, 60);
  h.lessor.grant(9999n, 1); // shorter than the interval: never checkpointed
  h.lessor.start();
  h.clock.advance(1_000);
  assert.deepEqual(h.checkpoints.map((b) => b.length), [1000, 1000, 500]);
  assert.ok(h.checkpoints.flat().every((c) => c.remainingTtl === 59 && c.id !== 9999n));
  h.lessor.stop();
});

Deno.test("lessor: recover reloads from a backend and drops attachments", async () => {
  const place = simPlace();
  const a = await harness({}, await place.open());
  a.lessor.grant(5n, 100);
  await a.backend.close();
  const b = await harness();
  b.lessor.grant(6n, 100);
  b.lessor.attach(6n, enc("x"));
  b.lessor.recover(await place.open());
  assert.deepEqual(b.lessor.leases().map((l) => l.id), [5n]);
  assert.equal(b.lessor.getLease(enc("x")), NO_LEASE);
});

Deno.test("lessor: randomized grant/renew/expire against a simple model", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const h = await harness({ loopIntervalMs: 100, expiredRetryIntervalMs: 1_000_000 });
  h.lessor.promote(0);
  h.lessor.start();
  const model = new Map<LeaseId, number>(); // id -> expiry
  const reported = new Set<LeaseId>();
  for (let step = 0; step < 400; step++) {
    const r = rand.int(10);
    const id = BigInt(1 + rand.int(30));
    if (r < 4) {
      const ttl = 1 + rand.int(20);
      if (model.has(id)) {
        assert.throws(() => h.lessor.grant(id, ttl), (e) => Errors.leaseExist.is(e));
      } else {
        h.lessor.grant(id, ttl);
        model.set(id, h.clock.now() + ttl * 1000);
      }
    } else if (r < 7) {
      const exp = model.get(id);
      if (exp !== undefined && exp > h.clock.now()) {
        assert.equal(await h.lessor.renew(id), h.lessor.lookup(id)!.ttl);
        model.set(id, h.clock.now() + h.lessor.lookup(id)!.ttl * 1000);
      } else if (exp === undefined) {
        await assert.rejects(() => h.lessor.renew(id), (e) => Errors.leaseNotFound.is(e));
      }
    } else if (r < 8 && model.has(id)) {
      h.lessor.revoke(id);
      model.delete(id);
      reported.delete(id);
    } else {
      h.clock.advance(rand.int(3_000));
      for (const ids of h.expired.splice(0)) for (const x of ids) reported.add(x);
      for (const [mid, exp] of model) {
        // reported iff expired at least one scan period ago
        if (exp <= h.clock.now() - 100) assert.ok(reported.has(mid), `lease ${mid} not reported`);
        if (exp > h.clock.now()) assert.ok(!reported.has(mid), `lease ${mid} reported early`);
      }
      for (const x of reported) {
        h.lessor.revoke(x);
        model.delete(x);
      }
      reported.clear();
    }
  }
  h.lessor.stop();
});

Deno.test("lessor: a leader change keeps the replicated remaining TTL, not the full one", async () => {
  // Two members apply the same entries; A leads first, then B.
  const clock = new SimClock();
  const a = await harness({ checkpointing: true, checkpointIntervalMs: 60_000 }, undefined, clock);
  const b = await harness({ checkpointing: true, checkpointIntervalMs: 60_000 }, undefined, clock);
  const apply = (fn: (l: Lessor) => void) => [a.lessor, b.lessor].forEach(fn);
  a.lessor.promote(0);
  a.lessor.start();
  apply((l) => l.grant(7n, 600));
  assert.equal(b.lessor.lookup(7n)!.expiry, Infinity); // followers do not count down
  // Every 60 s A produces a checkpoint; once applied (on every member) the next is scheduled.
  for (let i = 1; i <= 3; i++) {
    clock.advance(60_000);
    const batch = a.checkpoints.shift();
    assert.deepEqual(batch, [{ id: 7n, remainingTtl: 600 - 60 * i }]);
    apply((l) => batch!.forEach((cp) => l.checkpoint(cp.id, cp.remainingTtl)));
  }
  assert.equal(b.lessor.lookup(7n)!.remainingTtl, 420);
  // A loses leadership; B wins after a 2 s election.
  a.lessor.demote();
  a.lessor.stop();
  clock.advance(2_000);
  b.lessor.promote(1_000);
  b.lessor.start();
  assert.equal(b.lessor.timeToLive(7n).ttl, 421);
  clock.advance(420_500);
  assert.deepEqual(b.expired, []);
  clock.advance(1_000);
  assert.deepEqual(b.expired, [[7n]]);
  b.lessor.stop();
  await a.backend.close();
  await b.backend.close();
});
