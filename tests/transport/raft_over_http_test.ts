/**
 * Raft (lib/raft's Node over MemoryStorage) between three in-process members over the real
 * HTTP/2 transport on loopback: a leader is elected, proposals commit everywhere, a follower
 * whose transport and listener stop misses entries that the majority commits and the leader
 * compacts away, and when it comes back on the same port its peers' streams reconnect and it
 * catches up through a snapshot sent by the pipeline.
 */
import assert from "node:assert/strict";
import { testSeed } from "../../lib/base/rand.ts";
import type { MemberId } from "../../lib/base/types.ts";
import type { HttpServer } from "../../lib/http/server.ts";
import { StateType } from "../../lib/raft/mod.ts";
import { HttpTransport } from "../../lib/transport/http_transport.ts";
import { waitFor } from "./http_cluster.ts";
import { RaftMember } from "./raft_member.ts";

const IDS: MemberId[] = [1n, 2n, 3n];
const CID = 0x5150n;

interface Running {
  member: RaftMember;
  transport: HttpTransport;
  server: HttpServer;
}

async function start(member: RaftMember, port = 0): Promise<Running> {
  const transport = new HttpTransport({ host: member, backoffMaxMs: 200, log: () => {} });
  member.transport = transport;
  const server = await transport.serve({ port, limits: { drainTimeoutMs: 200 } });
  return { member, transport, server };
}

async function stop(r: Running): Promise<void> {
  await r.transport.close();
  await r.server.close();
}

Deno.test("raft over the HTTP transport: election, replication, a follower down and back", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const members = IDS.map((id) => new RaftMember(id, CID, IDS, seed));
  const running = await Promise.all(members.map((m) => start(m)));
  const urls = new Map(running.map((r) => [r.member.memberId, r.server.port]));
  const connect = (r: Running) => {
    for (const [id, port] of urls) {
      if (id !== r.member.memberId) r.transport.addPeer({ id, urls: [`http://127.0.0.1:${port}`] });
    }
  };
  running.forEach(connect);
  const ticker = setInterval(() => {
    for (const m of members) {
      m.node.tick();
      void m.node.process();
    }
  }, 10);
  const leaderOf = () => members.filter((m) => m.node.status().raftState === StateType.Leader);
  try {
    await waitFor(() => leaderOf().length === 1, "a leader", 10_000);
    const leader = leaderOf()[0];
    for (let i = 0; i < 50; i++) leader.node.propose(new TextEncoder().encode(`a${i}`));
    void leader.node.process();
    await waitFor(() => members.every((m) => m.applied.length === 50), "50 applied everywhere");

    // a follower goes down; the other two keep committing
    const down = running.find((r) => r.member !== leader)!;
    await stop(down);
    await waitFor(() => leader.transport.activeSince(down.member.memberId) === 0, "peer down");
    for (let i = 0; i < 20; i++) leader.node.propose(new TextEncoder().encode(`b${i}`));
    void leader.node.process();
    const up = members.filter((m) => m !== down.member);
    await waitFor(() => up.every((m) => m.applied.length === 70), "70 applied by the majority");
    assert.equal(down.member.applied.length, 50);

    // the leader compacts its log past what the follower has: only a snapshot can help it
    leader.compact();
    assert.ok(leader.storage.firstIndex() > down.member.appliedIndex + 1);

    // it comes back on its port: the streams reconnect and it catches up from the snapshot
    const back = await start(down.member, down.server.port);
    connect(back);
    running[running.indexOf(down)] = back;
    await waitFor(() => down.member.applied.length === 70, "the follower caught up", 10_000);
    for (const m of members) assert.deepEqual(m.applied, leader.applied);
    assert.equal(down.member.snapshotsReceived, 1);
    const snapStats = () => leader.transport.stats().find((s) => s.id === down.member.memberId)!;
    // the sender counts it once the 204 is back, which may be after the follower applied it
    await waitFor(() => snapStats().snapshotsSent === 1, "the sender's count");
    assert.equal(snapStats().snapshotsFailed, 0);
    // and the log continues after the snapshot
    leader.node.propose(new TextEncoder().encode("c"));
    void leader.node.process();
    await waitFor(() => members.every((m) => m.applied.at(-1) === "c"), "one more everywhere");
    const stats = leader.transport.stats();
    assert.ok(stats.every((s) => s.messagesSent > 0 && s.messagesReceived > 0));
    const outage = stats.find((s) => s.id === down.member.memberId)!;
    assert.ok(
      outage.dropped > 0 && outage.failures > 0,
      JSON.stringify(outage, (_, v) => typeof v === "bigint" ? String(v) : v),
    );
  } finally {
    clearInterval(ticker);
    await Promise.all(running.map((r) => r.transport.close()));
    await Promise.all(running.map((r) => r.server.close()));
  }
});
