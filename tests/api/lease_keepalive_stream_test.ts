/**
 * LeaseKeepAlive streams over gRPC on a real 3-member cluster in one process, through the
 * hand-coded answers (lib/api/lease_keepalive_codec.ts) and the lessor's renewal without a
 * promise: every member answers with its own header (cluster, member, revision, term), a
 * follower's keep-alive renews the lease at the leader (etcd's LeaseRenew through /leases),
 * an unknown or revoked lease is answered with TTL 0 and its id, as etcd does, and an answer
 * reused while nothing changes is made again once the revision moves.
 */
import assert from "node:assert/strict";
import { H2GrpcConn } from "../../bench/loadgen/h2_grpc.ts";
import { type ConcordServer, startServer } from "../../lib/api/member_server.ts";
import type { ServerConfig } from "../../lib/server/config.ts";
import { KV, Lease } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { freePort } from "../support/etcd.ts";
import { testConfig } from "../server/harness.ts";

const NAMES = ["a", "b", "c"];
const enc = (s: string) => new TextEncoder().encode(s);

async function waitFor(cond: () => boolean, what: string, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("LeaseKeepAlive over gRPC on 3 members: headers, forwarding, TTL 0 as etcd", async () => {
  const ports = NAMES.map(() => freePort());
  const peer = (i: number) => new URL(`http://127.0.0.1:${ports[i]}`);
  const dirs = await Promise.all(NAMES.map(() => Deno.makeTempDir({ prefix: "concord-ka-" })));
  const configs: ServerConfig[] = NAMES.map((name, i) =>
    testConfig(dirs[i], (c) => {
      c.name = name;
      c.listenPeerUrls = [peer(i)];
      c.initialAdvertisePeerUrls = [peer(i)];
      c.initialCluster = new Map(NAMES.map((n, j) => [n, [peer(j)]]));
      c.heartbeatIntervalMs = 20;
      c.electionTimeoutMs = 200;
    })
  );
  const servers: ConcordServer[] = await Promise.all(
    configs.map((c) => startServer(c, { log: () => {} })),
  );
  const conns: H2GrpcConn[] = [];
  try {
    await waitFor(
      () =>
        servers.every((s) => s.member.leader !== 0n) &&
        servers.some((s) => s.member.isLeader && s.member.lessor.isPrimary),
      "a leader with a promoted lessor",
    );
    for (const s of servers) conns.push(await H2GrpcConn.connect(s.clientUrls[0]));
    const li = servers.findIndex((s) => s.member.isLeader);
    const leader = servers[li];
    const { ID } = await conns[li].unary(Lease.method.leaseGrant, { TTL: 30n });
    const { ID: other } = await conns[li].unary(Lease.method.leaseGrant, { TTL: 45n });
    await waitFor(() => servers.every((s) => s.member.lessor.exists(other)), "the grants");

    for (const [i, s] of servers.entries()) {
      const ka = await conns[i].stream(Lease.method.leaseKeepAlive);
      const before = leader.member.lessor.lookup(ID)!.expiry;
      // keep-alives until the leader's expiry moves (its clock counts milliseconds)
      let r;
      do {
        await ka.send({ ID });
        r = (await ka.next())!;
        assert.equal(r.ID, ID);
        assert.equal(r.TTL, 30n);
      } while (leader.member.lessor.lookup(ID)!.expiry === before);
      assert.ok(leader.member.lessor.lookup(ID)!.expiry > before, `renewed through member ${i}`);
      const h = r.header!;
      assert.equal(h.clusterId, s.member.clusterId);
      assert.equal(h.memberId, s.member.id, "the header names the member asked");
      assert.equal(h.raftTerm, BigInt(s.member.term));
      assert.equal(h.revision, BigInt(s.member.store.rev()));

      // a put moves the revision: the next answer for the same lease says so
      const put = await conns[i].unary(KV.method.put, { key: enc(`k${i}`), value: enc("v") });
      const rev = put.header!.revision;
      await waitFor(() => BigInt(s.member.store.rev()) >= rev, "the put applied");
      await ka.send({ ID });
      const after = (await ka.next())!;
      assert.equal(after.TTL, 30n);
      assert.equal(after.header?.revision, BigInt(s.member.store.rev()));
      assert.ok(after.header!.revision >= rev);
      // other leases on the same stream, unknown ones with TTL 0 and their id
      await ka.send({ ID: other });
      assert.equal((await ka.next())!.TTL, 45n);
      for (const unknown of [123456789n, -5n, (1n << 63n) - 1n]) {
        await ka.send({ ID: unknown });
        const u = (await ka.next())!;
        assert.equal(u.ID, unknown);
        assert.equal(u.TTL, 0n);
        assert.equal(u.header?.memberId, s.member.id);
      }

      await ka.closeSend();
      assert.equal(await ka.next(), undefined);
    }

    // revoked: every member answers TTL 0
    await conns[li].unary(Lease.method.leaseRevoke, { ID });
    await waitFor(() => servers.every((s) => !s.member.lessor.exists(ID)), "the revoke");
    for (const c of conns) {
      const ka = await c.stream(Lease.method.leaseKeepAlive);
      await ka.send({ ID });
      const r = (await ka.next())!;
      assert.equal(r.ID, ID);
      assert.equal(r.TTL, 0n);
      ka.cancel();
    }
  } finally {
    await Promise.all(conns.map((c) => c.close()));
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(dirs.map((d) => Deno.remove(d, { recursive: true })));
  }
});
