/**
 * Raft itself (lib/raft's Node over MemoryStorage) driven through the simulated network, as
 * the whole-cluster simulation will: a leader is elected, proposals commit everywhere, an
 * isolated leader is replaced and the new one compacts its log, and after the heal the old
 * leader catches up through a snapshot and every log converges. Same seed, same run.
 */
import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import type { MemberId } from "../../lib/base/types.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { StateType } from "../../lib/raft/mod.ts";
import { SimNetwork } from "../../lib/transport/sim_network.ts";
import { RaftMember } from "./raft_member.ts";

const IDS: MemberId[] = [1n, 2n, 3n];
const CID = 0x99n;

interface Run {
  trace: string[];
  leaders: MemberId[];
  applied: string[][];
}

async function runCluster(seed: number): Promise<Run> {
  const clock = new SimClock();
  const net = new SimNetwork(new Rand(seed), clock, {
    minDelayMs: 1,
    maxDelayMs: 8,
    dropRate: 0.02,
    duplicateRate: 0.02,
  });
  const members = IDS.map((id) => new RaftMember(id, CID, IDS, seed));
  for (const m of members) {
    m.transport = net.join(m);
    for (const p of IDS) if (p !== m.memberId) m.transport.addPeer({ id: p, urls: [] });
  }
  const step = async (ms: number) => {
    for (let i = 0; i < ms; i++) {
      clock.advance(1);
      if (clock.now() % 10 === 0) {
        for (const m of members) {
          m.node.tick();
          void m.node.process();
        }
      }
      for (let k = 0; k < 10; k++) await Promise.resolve();
    }
  };
  const leader = (among = members) =>
    among.filter((m) => m.node.status().raftState === StateType.Leader);
  const leaders: MemberId[] = [];

  await step(1000);
  const first = leader();
  assert.equal(first.length, 1, "one leader after a second");
  leaders.push(first[0].memberId);
  for (let i = 0; i < 20; i++) {
    first[0].node.propose(new TextEncoder().encode(`a${i}`));
    void first[0].node.process();
    await step(5);
  }
  await step(300);
  for (const m of members) assert.equal(m.applied.length, 20, `member ${m.memberId} applied`);

  // isolate the leader: the other two elect one of themselves and keep committing
  net.isolate(first[0].memberId);
  await step(2000);
  const rest = members.filter((m) => m !== first[0]);
  const second = leader(rest);
  assert.equal(second.length, 1, "a new leader among the majority");
  leaders.push(second[0].memberId);
  for (let i = 0; i < 10; i++) {
    second[0].node.propose(new TextEncoder().encode(`b${i}`));
    void second[0].node.process();
    await step(5);
  }
  await step(300);
  for (const m of rest) assert.equal(m.applied.length, 30);
  assert.equal(first[0].applied.length, 20, "the isolated leader committed nothing new");

  // the new leader compacts past what the old one has, then heal: the old leader steps
  // down and catches up through a snapshot sent in memory
  second[0].compact();
  net.heal();
  await step(2000);
  assert.equal(leader().length, 1);
  for (const m of members) assert.deepEqual(m.applied, members[0].applied);
  assert.equal(members[0].applied.length, 30);
  assert.equal(first[0].snapshotsReceived, 1);
  for (const m of members) await m.transport.close();
  return { trace: net.trace, leaders, applied: members.map((m) => m.applied) };
}

Deno.test("raft over the sim network: election, replication, partition, heal; replays from its seed", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const a = await runCluster(seed);
  const b = await runCluster(seed);
  assert.notEqual(a.leaders[0], a.leaders[1]);
  assert.deepEqual(b.leaders, a.leaders);
  assert.deepEqual(b.trace, a.trace);
  assert.ok(a.trace.length > 1000);
});
