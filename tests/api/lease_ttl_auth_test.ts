/**
 * LeaseTimeToLive with keys under auth (etcd's CVE-2023-32082, fixed in 3.4.26): the key
 * names attached to a lease are shown only to a user who may read every one of them; without
 * keys the call stays open to anyone, as in etcd.
 */
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { startGrpcMember } from "./grpc_member.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = ConnectError.from(err);
    return `${Code[e.code]} ${e.rawMessage}`;
  }
  return "ok";
}

Deno.test("LeaseTimeToLive with keys: only for a user who may read every attached key", async () => {
  const g = await startGrpcMember();
  try {
    const { root, u } = await g.enableAuth(); // u may read and write ok/ only
    const asRoot = { headers: { token: root } };
    const asU = { headers: { token: u } };
    const secret = 101n;
    const mine = 102n;
    const empty = 103n;
    for (const ID of [secret, mine, empty]) await g.lease.leaseGrant({ ID, TTL: 60n }, asRoot);
    await g.kv.put({ key: enc("secret/x"), value: enc("1"), lease: secret }, asRoot);
    await g.kv.put({ key: enc("ok/a"), value: enc("1"), lease: secret }, asRoot);
    await g.kv.put({ key: enc("ok/b"), value: enc("1"), lease: mine }, asRoot);

    // another user's key on the lease: refused, the names are not shown
    assert.equal(
      await refusal(g.lease.leaseTimeToLive({ ID: secret, keys: true }, asU)),
      "PermissionDenied etcdserver: permission denied",
    );
    // without keys, or keys the user may read, or no keys at all: answered
    const plain = await g.lease.leaseTimeToLive({ ID: secret }, asU);
    assert.deepEqual(plain.keys, []);
    assert.ok(plain.TTL > 0n);
    const own = await g.lease.leaseTimeToLive({ ID: mine, keys: true }, asU);
    assert.deepEqual(own.keys.map(dec), ["ok/b"]);
    assert.deepEqual((await g.lease.leaseTimeToLive({ ID: empty, keys: true }, asU)).keys, []);
    // an unknown lease is TTL -1 as before
    assert.equal((await g.lease.leaseTimeToLive({ ID: 999n, keys: true }, asU)).TTL, -1n);
    // root sees every key; no user at all is etcd's user-name-empty
    const all = await g.lease.leaseTimeToLive({ ID: secret, keys: true }, asRoot);
    assert.deepEqual(all.keys.map(dec), ["ok/a", "secret/x"]);
    assert.equal(
      await refusal(g.lease.leaseTimeToLive({ ID: mine, keys: true })),
      "InvalidArgument etcdserver: user name is empty",
    );
    assert.equal(
      await refusal(g.lease.leaseTimeToLive({ ID: mine, keys: true }, { headers: { token: "x" } })),
      "Unauthenticated etcdserver: invalid auth token",
    );
  } finally {
    await g.close();
  }
});
