/**
 * etcd's v3lock service on an in-process member, over gRPC: contention ordered by create
 * revision, hand-over on unlock and on lease expiry, aborted waiters, etcd's errors, auth,
 * and a member stop while calls wait.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { Lock } from "../../proto/gen/v3lockpb/v3lock_pb.ts";
import { Errors } from "../../lib/base/errors.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { waitFor } from "../server/harness.ts";
import { startGrpcMember } from "./grpc_member.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A member with fast raft timing (1 s minimum lease TTL) and gRPC clients on it. */
async function setup() {
  const m = await startGrpcMember();
  return {
    ...m,
    lock: createClient(Lock, m.transport),
    /** The keys under `prefix`, in key order. */
    async keys(prefix: string, token?: string): Promise<string[]> {
      return (await m.under(prefix, token)).map((k) => dec(k.key));
    },
  };
}

/** A promise's outcome, readable without awaiting it. */
function track<T>(p: Promise<T>) {
  const t: { done: boolean; value?: T; error?: unknown; promise: Promise<T> } = {
    done: false,
    promise: p,
  };
  p.then((v) => {
    t.done = true;
    t.value = v;
  }, (e) => {
    t.done = true;
    t.error = e;
  });
  return t;
}

/** The ConnectError a call fails with. */
async function failure(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  assert.fail("the call succeeded");
}

Deno.test("Lock: waiters get the lock in create-revision order; Unlock hands it over", async () => {
  const c = await setup();
  try {
    for (const id of [0x11n, 0x22n, 0x33n]) await c.lease.leaseGrant({ ID: id, TTL: 60n });
    const a = await c.lock.lock({ name: enc("m"), lease: 0x11n });
    assert.equal(dec(a.key), "m/11");
    assert.equal(a.header?.revision, 2n);

    const order: string[] = [];
    const b = track(c.lock.lock({ name: enc("m"), lease: 0x22n }));
    b.promise.then(() => order.push("b"), () => {});
    await waitFor("m/22 to wait", async () => (await c.keys("m/")).length === 2);
    const d = track(c.lock.lock({ name: enc("m"), lease: 0x33n }));
    d.promise.then(() => order.push("d"), () => {});
    await waitFor("m/33 to wait", async () => (await c.keys("m/")).length === 3);
    // another name is another lock
    const other = await c.lock.lock({ name: enc("m2"), lease: 0x22n });
    assert.equal(dec(other.key), "m2/22");
    assert.equal(b.done || d.done, false);

    const un = await c.lock.unlock({ key: a.key });
    assert.equal(un.header?.revision, 6n);
    const bGot = await b.promise;
    assert.equal(dec(bGot.key), "m/22");
    assert.equal(bGot.header?.revision, 6n); // the wait's last read, after the delete
    assert.deepEqual(order, ["b"]);
    assert.equal(d.done, false, "the third waiter waits for the second");

    await c.lock.unlock({ key: bGot.key });
    const dGot = await d.promise;
    assert.equal(dec(dGot.key), "m/33");
    assert.deepEqual(order, ["b", "d"]);

    // the holder locking again reuses its key (no new revision)
    const again = await c.lock.lock({ name: enc("m"), lease: 0x33n });
    assert.equal(dec(again.key), "m/33");
    assert.equal(again.header?.revision, 7n);
    assert.deepEqual(await c.keys("m/"), ["m/33"]);
    // unlocking a key that is not there answers the current revision
    assert.equal((await c.lock.unlock({ key: enc("m/99") })).header?.revision, 7n);
  } finally {
    await c.close();
  }
});

Deno.test("Lock: a waiter whose request is aborted leaves no key behind", async () => {
  const c = await setup();
  try {
    await c.lease.leaseGrant({ ID: 1n, TTL: 60n });
    await c.lease.leaseGrant({ ID: 2n, TTL: 60n });
    const a = await c.lock.lock({ name: enc("q"), lease: 1n });
    const ac = new AbortController();
    const b = track(c.lock.lock({ name: enc("q"), lease: 2n }, { signal: ac.signal }));
    await waitFor("q/2 to wait", async () => (await c.keys("q/")).length === 2);
    ac.abort();
    assert.equal((await failure(b.promise)).code, Code.Canceled);
    await waitFor("the aborted waiter's key to go", async () => {
      return (await c.keys("q/")).join() === "q/1";
    });
    await waitFor("the aborted waiter's watch to go", () => {
      const n = c.s.server.member.hub.counts();
      return Promise.resolve(n.synced + n.unsynced + n.victims === 0);
    });
    await c.lock.unlock({ key: a.key });
    assert.deepEqual(await c.keys("q/"), []);
  } finally {
    await c.close();
  }
});

Deno.test("Lock: the holder's lease expiry hands over; a waiter whose own lease expired still gets its answer (as etcd 3.4)", async () => {
  const c = await setup();
  try {
    await c.lease.leaseGrant({ ID: 0xan, TTL: 1n });
    await c.lease.leaseGrant({ ID: 0xbn, TTL: 60n });
    const a = await c.lock.lock({ name: enc("x"), lease: 0xan });
    assert.equal(dec(a.key), "x/a");
    const b = await c.lock.lock({ name: enc("x"), lease: 0xbn }); // waits for x/a to expire
    assert.equal(dec(b.key), "x/b");
    assert.deepEqual(await c.keys("x/"), ["x/b"]);

    await c.lease.leaseGrant({ ID: 0xcn, TTL: 1n });
    const d = track(c.lock.lock({ name: enc("x"), lease: 0xcn }));
    await waitFor("x/c to wait", async () => (await c.keys("x/")).includes("x/c"));
    await waitFor("x/c's lease to expire", async () => {
      return (await c.lease.leaseTimeToLive({ ID: 0xcn })).TTL === -1n;
    });
    assert.deepEqual(await c.keys("x/"), ["x/b"]);
    assert.equal(d.done, false, "the wait goes on without its own key");
    const un = await c.lock.unlock({ key: b.key });
    const got = await d.promise;
    assert.equal(dec(got.key), "x/c");
    assert.equal(got.header?.revision, un.header?.revision);
    assert.deepEqual(await c.keys("x/"), []);
  } finally {
    await c.close();
  }
});

Deno.test("Lock: etcd's errors (unknown lease, empty key) and the session lease for lease 0", async () => {
  const c = await setup();
  try {
    const e = await failure(c.lock.lock({ name: enc("n"), lease: 12345n }));
    assert.equal(e.code, Code.Unknown);
    assert.equal(e.rawMessage, Errors.leaseNotFound.message);
    assert.deepEqual(await c.keys("n/"), []);

    const got = await c.lock.lock({ name: enc("n"), lease: 0n });
    const leases = (await c.lease.leaseLeases({})).leases.map((l) => l.ID);
    assert.equal(leases.length, 1);
    assert.equal(dec(got.key), `n/${leases[0].toString(16)}`);
    const ttl = await c.lease.leaseTimeToLive({ ID: leases[0], keys: true });
    assert.equal(ttl.grantedTTL, 60n);
    assert.deepEqual(ttl.keys.map(dec), [dec(got.key)]);

    const u = await failure(c.lock.unlock({ key: new Uint8Array() }));
    assert.equal(u.code, Code.Unknown);
    assert.equal(u.rawMessage, Errors.emptyKey.message);
  } finally {
    await c.close();
  }
});

Deno.test("Lock and Unlock act with the caller's permissions", async () => {
  const c = await setup();
  try {
    const tokens = await c.enableAuth();
    const root = tokens.root;
    const u = { headers: { token: tokens.u } };
    await c.lease.leaseGrant({ ID: 7n, TTL: 60n }, { headers: { token: root } });

    const denied = await failure(c.lock.lock({ name: enc("no"), lease: 7n }, u));
    assert.equal(denied.code, Code.Unknown);
    assert.equal(denied.rawMessage, Errors.permissionDenied.message);
    assert.deepEqual(await c.keys("no/", root), []);
    const empty = await failure(c.lock.lock({ name: enc("ok"), lease: 7n }));
    assert.equal(empty.rawMessage, Errors.userEmpty.message);
    const bogus = await failure(
      c.lock.lock({ name: enc("ok"), lease: 7n }, { headers: { token: "bogus" } }),
    );
    assert.equal(bogus.code, Code.Unknown);
    assert.equal(bogus.rawMessage, Errors.invalidAuthToken.message);

    const got = await c.lock.lock({ name: enc("ok"), lease: 7n }, u);
    assert.equal(dec(got.key), "ok/7");
    await c.kv.put({ key: enc("no/7"), value: enc("") }, { headers: { token: root } });
    const unlockDenied = await failure(c.lock.unlock({ key: enc("no/7") }, u));
    assert.equal(unlockDenied.rawMessage, Errors.permissionDenied.message);
    // a waiter outlives a change of the auth rules: each step is checked under the new ones
    const rootH = { headers: { token: root } };
    await c.lease.leaseGrant({ ID: 8n, TTL: 60n }, rootH);
    const waiter = track(c.lock.lock({ name: enc("ok"), lease: 8n }, u));
    await waitFor("ok/8 to wait", async () => (await c.keys("ok/", root)).length === 2);
    await c.auth.userAdd({ name: "other", password: "pw" }, rootH);
    await c.lock.unlock({ key: got.key }, u);
    assert.equal(dec((await waiter.promise).key), "ok/8");
    await c.lock.unlock({ key: enc("ok/8") }, u);
    assert.deepEqual(await c.keys("ok/", root), []);
  } finally {
    await c.close();
  }
});

Deno.test("Lock: stopping the member ends a waiting Lock with server stopped", async () => {
  const c = await setup();
  try {
    await c.lease.leaseGrant({ ID: 1n, TTL: 60n });
    await c.lease.leaseGrant({ ID: 2n, TTL: 60n });
    await c.lock.lock({ name: enc("s"), lease: 1n });
    const b = track(c.lock.lock({ name: enc("s"), lease: 2n }));
    await waitFor("s/2 to wait", async () => (await c.keys("s/")).length === 2);
    await c.s.server.member.stop();
    const e = await failure(b.promise);
    assert.equal(e.code, Code.Unavailable);
    assert.equal(e.rawMessage, Errors.stopped.message);
  } finally {
    await c.close();
  }
});

Deno.test("Lock: randomized contention keeps mutual exclusion and create-revision order", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const rand = new Rand(seed);
  const c = await setup();
  try {
    const workers = 4;
    let holder: number | null = null;
    let acquired = 0;
    const plans = Array.from({ length: workers }, () => {
      return Array.from({ length: 3 }, () => ({ abort: rand.chance(0.25), work: rand.int(3) }));
    });
    /** The oldest candidate key, or undefined. */
    const owner = async () => {
      const r = await c.kv.range({
        key: enc("r/"),
        rangeEnd: enc("r0"),
        sortTarget: 2, // CREATE
        sortOrder: 1, // ASCEND
        limit: 1n,
      });
      return r.kvs[0] === undefined ? undefined : dec(r.kvs[0].key);
    };
    const worker = async (i: number) => {
      for (const [round, step] of plans[i - 1].entries()) {
        // a lease (so a key) per attempt: an aborted attempt's cleanup never meets the next
        const lease = BigInt(i * 16 + round);
        const key = `r/${lease.toString(16)}`;
        await c.lease.leaseGrant({ ID: lease, TTL: 60n });
        const ac = new AbortController();
        const call = track(c.lock.lock({ name: enc("r"), lease }, { signal: ac.signal }));
        if (step.abort) {
          // give up once queued; the lock may have come first
          await waitFor(
            `${key} queued`,
            async () => call.done || (await c.keys("r/")).includes(key),
          );
          ac.abort();
          await call.promise.catch(() => {});
          if (call.error !== undefined) {
            assert.equal(ConnectError.from(call.error).code, Code.Canceled);
            // the server drops a waiting key; a key that won just as the client left stays
            // the owner, and is unlocked as a client would
            await waitFor(`${key} dropped or owning`, async () => {
              return !(await c.keys("r/")).includes(key) || (await owner()) === key;
            });
            await c.lock.unlock({ key: enc(key) });
            continue;
          }
        }
        const got = await call.promise;
        assert.equal(dec(got.key), key);
        // holding: nobody else holds, and ours is the oldest candidate key
        assert.equal(holder, null, `worker ${i} got the lock while ${holder} held it`);
        holder = i;
        acquired++;
        assert.equal(await owner(), key);
        for (let w = 0; w < step.work; w++) {
          await c.kv.put({ key: enc(`work/${i}`), value: enc(String(w)) });
        }
        assert.equal(holder, i);
        holder = null;
        await c.lock.unlock({ key: got.key });
      }
    };
    await Promise.all(Array.from({ length: workers }, (_, k) => worker(k + 1)));
    assert.ok(acquired > 0);
    await waitFor("every candidate key to go", async () => (await c.keys("r/")).length === 0);
    await waitFor("no watcher left", () => {
      const n = c.s.server.member.hub.counts();
      return Promise.resolve(n.synced + n.unsynced + n.victims === 0);
    });
  } finally {
    await c.close();
  }
});
