/**
 * etcd's v3election service on an in-process member, over gRPC: campaign, proclaim, leader,
 * observe and resign, etcd's errors, aborted campaigns, auth, and a member stop while a
 * campaign waits.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { Election, type LeaderResponse } from "../../proto/gen/v3electionpb/v3election_pb.ts";
import { Errors } from "../../lib/base/errors.ts";
import { waitFor } from "../server/harness.ts";
import { startGrpcMember } from "./grpc_member.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function setup() {
  const m = await startGrpcMember();
  return {
    ...m,
    el: createClient(Election, m.transport),
    /** The keys under `prefix` with their values, `key=value`. */
    async entries(prefix: string, token?: string): Promise<string[]> {
      return (await m.under(prefix, token)).map((k) => `${dec(k.key)}=${dec(k.value)}`);
    },
  };
}

function track<T>(p: Promise<T>) {
  const t: { done: boolean; promise: Promise<T> } = { done: false, promise: p };
  p.then(() => (t.done = true), () => (t.done = true));
  return t;
}

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  assert.fail("the call succeeded");
}

/** `key=value@revision` of an Observe or Leader answer. */
function seen(r: LeaderResponse | undefined): string {
  return `${dec(r?.kv?.key ?? new Uint8Array())}=${
    dec(r?.kv?.value ?? new Uint8Array())
  }@${r?.header?.revision}`;
}

Deno.test("Election: campaign, proclaim, leader, observe and resign as etcd's", async () => {
  const c = await setup();
  const ac = new AbortController();
  try {
    await c.lease.leaseGrant({ ID: 0xan, TTL: 60n });
    await c.lease.leaseGrant({ ID: 0xbn, TTL: 60n });
    const nobody = await failure(c.el.leader({ name: enc("e") }));
    assert.equal(nobody.code, Code.Unknown);
    assert.equal(nobody.rawMessage, Errors.electionNoLeader.message);

    // an observer that starts before there is a leader waits for the first candidate
    const observe = c.el.observe({ name: enc("e") }, { signal: ac.signal })[Symbol.asyncIterator]();
    const first = observe.next();

    const a = await c.el.campaign({ name: enc("e"), lease: 0xan, value: enc("a") });
    assert.equal(a.header?.revision, 2n);
    assert.deepEqual(
      {
        name: dec(a.leader!.name),
        key: dec(a.leader!.key),
        rev: a.leader!.rev,
        lease: a.leader!.lease,
      },
      { name: "e", key: "e/a", rev: 2n, lease: 0xan },
    );
    assert.equal(seen((await first).value), "e/a=a@2");
    assert.equal(seen(await c.el.leader({ name: enc("e") })), "e/a=a@2");

    const b = track(c.el.campaign({ name: enc("e"), lease: 0xbn, value: enc("b") }));
    await waitFor("e/b to campaign", async () => (await c.entries("e/")).length === 2);

    const p = await c.el.proclaim({ leader: a.leader, value: enc("a2") });
    assert.equal(p.header?.revision, 4n);
    assert.equal(seen((await observe.next()).value), "e/a=a2@4");
    assert.equal(seen(await c.el.leader({ name: enc("e") })), "e/a=a2@4");

    // campaigning again with the same lease keeps the place, proclaims the new value, and
    // answers with the header of its first txn
    const again = await c.el.campaign({ name: enc("e"), lease: 0xan, value: enc("a3") });
    assert.equal(again.header?.revision, 4n);
    assert.equal(again.leader?.rev, 2n);
    assert.equal(seen((await observe.next()).value), "e/a=a3@5");
    assert.equal(b.done, false);

    const r = await c.el.resign({ leader: a.leader });
    assert.equal(r.header?.revision, 6n);
    const bGot = await b.promise;
    assert.equal(dec(bGot.leader!.key), "e/b");
    assert.equal(bGot.leader?.rev, 3n);
    assert.equal(bGot.header?.revision, 3n);
    assert.equal(seen((await observe.next()).value), "e/b=b@6");

    // the old leader can neither proclaim nor resign any more
    const stale = await failure(c.el.proclaim({ leader: a.leader, value: enc("x") }));
    assert.equal(stale.code, Code.Unknown);
    assert.equal(stale.rawMessage, Errors.electionNotLeader.message);
    assert.equal((await c.el.resign({ leader: a.leader })).header?.revision, 6n);
    assert.deepEqual(await c.entries("e/"), ["e/b=b"]);

    for (const call of [() => c.el.proclaim({ value: enc("x") }), () => c.el.resign({})]) {
      const e = await failure(call());
      assert.equal(e.code, Code.Unknown);
      assert.equal(e.rawMessage, Errors.electionMissingLeaderKey.message);
    }
    await c.el.resign({ leader: bGot.leader });
    assert.equal(
      (await failure(c.el.leader({ name: enc("e") }))).rawMessage,
      "election: no leader",
    );
    ac.abort();
    await observe.return?.();
    // the observer's watch goes with it
    await waitFor("no watchers left", () => {
      const n = c.s.server.member.hub.counts();
      return Promise.resolve(n.synced + n.unsynced + n.victims === 0);
    });
  } finally {
    ac.abort();
    await c.close();
  }
});

Deno.test("Election: an aborted campaign resigns; a lease-0 campaign gets a session lease", async () => {
  const c = await setup();
  try {
    await c.lease.leaseGrant({ ID: 1n, TTL: 60n });
    await c.lease.leaseGrant({ ID: 2n, TTL: 60n });
    const a = await c.el.campaign({ name: enc("f"), lease: 1n, value: enc("one") });
    const ac = new AbortController();
    const b = track(
      c.el.campaign({ name: enc("f"), lease: 2n, value: enc("two") }, { signal: ac.signal }),
    );
    await waitFor("f/2 to campaign", async () => (await c.entries("f/")).length === 2);
    ac.abort();
    assert.equal((await failure(b.promise)).code, Code.Canceled);
    await waitFor("the aborted candidate to resign", async () => {
      return (await c.entries("f/")).join() === "f/1=one";
    });
    await c.el.resign({ leader: a.leader });

    const bad = await failure(c.el.campaign({ name: enc("f"), lease: 99n, value: enc("v") }));
    assert.equal(bad.code, Code.Unknown);
    assert.equal(bad.rawMessage, Errors.leaseNotFound.message);

    const s = await c.el.campaign({ name: enc("g"), value: enc("v") });
    const id = s.leader!.lease;
    assert.ok(id !== 0n && id !== 1n && id !== 2n);
    assert.equal(dec(s.leader!.key), `g/${id.toString(16)}`);
    assert.equal((await c.lease.leaseTimeToLive({ ID: id })).grantedTTL, 60n);
  } finally {
    await c.close();
  }
});

Deno.test("Election: the leader's lease expiry elects the next candidate; observers follow", async () => {
  const c = await setup();
  const ac = new AbortController();
  try {
    await c.lease.leaseGrant({ ID: 1n, TTL: 1n });
    await c.lease.leaseGrant({ ID: 2n, TTL: 60n });
    await c.el.campaign({ name: enc("h"), lease: 1n, value: enc("short") });
    const observe = c.el.observe({ name: enc("h") }, { signal: ac.signal })[Symbol.asyncIterator]();
    assert.equal(seen((await observe.next()).value), "h/1=short@2");
    const b = await c.el.campaign({ name: enc("h"), lease: 2n, value: enc("long") });
    assert.equal(dec(b.leader!.key), "h/2");
    const next = (await observe.next()).value;
    assert.equal(dec(next!.kv!.key), "h/2");
    assert.equal(next?.header?.revision, 4n); // the read after the expiry's delete
    ac.abort();
    await observe.return?.();
  } finally {
    ac.abort();
    await c.close();
  }
});

Deno.test("Election: calls act with the caller's permissions", async () => {
  const c = await setup();
  try {
    const tokens = await c.enableAuth();
    const root = tokens.root;
    const u = { headers: { token: tokens.u } };
    await c.lease.leaseGrant({ ID: 7n, TTL: 60n }, { headers: { token: root } });

    for (
      const call of [
        () => c.el.campaign({ name: enc("no"), lease: 7n, value: enc("v") }, u),
        () => c.el.leader({ name: enc("no") }, u),
        () =>
          c.el.proclaim({
            leader: { name: enc("no"), key: enc("no/7"), rev: 2n, lease: 7n },
            value: enc("v"),
          }, u),
      ]
    ) {
      const e = await failure(call());
      assert.equal(e.code, Code.Unknown);
      assert.equal(e.rawMessage, Errors.permissionDenied.message);
    }
    // a denied observer's stream ends at once without an answer, as etcd's
    const denied: LeaderResponse[] = [];
    for await (const r of c.el.observe({ name: enc("no") }, u)) denied.push(r);
    assert.deepEqual(denied, []);
    assert.deepEqual(await c.entries("no/", root), []);

    const ok = await c.el.campaign({ name: enc("ok"), lease: 7n, value: enc("v") }, u);
    assert.equal(seen(await c.el.leader({ name: enc("ok") }, u)), "ok/7=v@2");
    await c.el.resign({ leader: ok.leader }, u);
    assert.deepEqual(await c.entries("ok/", root), []);
  } finally {
    await c.close();
  }
});

Deno.test("Election: stopping the member ends a waiting campaign with server stopped", async () => {
  const c = await setup();
  try {
    await c.lease.leaseGrant({ ID: 1n, TTL: 60n });
    await c.lease.leaseGrant({ ID: 2n, TTL: 60n });
    await c.el.campaign({ name: enc("s"), lease: 1n, value: enc("1") });
    const b = track(c.el.campaign({ name: enc("s"), lease: 2n, value: enc("2") }));
    await waitFor("s/2 to campaign", async () => (await c.entries("s/")).length === 2);
    await c.s.server.member.stop();
    const e = await failure(b.promise);
    assert.equal(e.code, Code.Unavailable);
    assert.equal(e.rawMessage, Errors.stopped.message);
  } finally {
    await c.close();
  }
});

Deno.test("Election: a gateway observer that leaves takes its watch with it", async () => {
  const c = await setup();
  try {
    await c.lease.leaseGrant({ ID: 5n, TTL: 60n });
    await c.el.campaign({ name: enc("o"), lease: 5n, value: enc("v") });
    const r = await fetch(`${c.s.url}/v3/election/observe`, {
      method: "POST",
      body: JSON.stringify({ name: btoa("o") }),
    });
    const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const first = JSON.parse(text.split("\n")[0]);
    assert.equal(atob(first.result.kv.key), "o/5");
    assert.equal(atob(first.result.kv.value), "v");
    const watchers = () => {
      const n = c.s.server.member.hub.counts();
      return n.synced + n.unsynced + n.victims;
    };
    await waitFor("the observer to watch the leader", () => Promise.resolve(watchers() === 1));
    await reader.cancel();
    await waitFor("the observer's watch to go", () => Promise.resolve(watchers() === 0));
  } finally {
    await c.close();
  }
});
