/**
 * Linearizable reads via ReadIndex (Raft thesis §6.4, paper §8): confirmed by a heartbeat
 * round to a quorum; forwarded from followers; refused by a stale leader; held by a new
 * leader until it commits in its term; concurrent requests share one round.
 */
import assert from "node:assert/strict";
import { MessageType, newMessage } from "../../lib/raft/messages.ts";
import { CampaignType, StateType } from "../../lib/raft/raft.ts";
import { raftWithLog, take } from "./raft_net.ts";
import { bootstrap, bytes, Cluster, nodeIds, text } from "./cluster.ts";

Deno.test("§8 ReadIndex on the leader: confirmed by a quorum, answered with the commit index", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  c.node(1).raw.propose(bytes("a"));
  c.deliver();
  const commit = c.node(1).raw.raft.raftLog.committed;
  c.delivered = [];
  c.node(1).raw.readIndex(bytes("r1"));
  c.deliver();
  const rs = c.node(1).readStates;
  assert.equal(rs.length, 1);
  assert.equal(text(rs[0].context), "r1");
  assert.equal(rs[0].index, commit);
  const hbs = c.delivered.filter((m) => m.type === MessageType.Heartbeat);
  assert.equal(hbs.length, 2, "one heartbeat round");
  assert.ok(hbs.every((m) => text(m.context!) === "r1"));
});

Deno.test("§8 ReadIndex: many concurrent requests share one heartbeat round", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  c.delivered = [];
  for (let i = 0; i < 50; i++) c.node(1).raw.readIndex(bytes(`r${i}`));
  c.deliver();
  assert.equal(c.node(1).readStates.length, 50);
  assert.deepEqual(
    c.node(1).readStates.map((r) => text(r.context)),
    Array.from({ length: 50 }, (_, i) => `r${i}`),
  );
  const hbs = c.delivered.filter((m) => m.type === MessageType.Heartbeat);
  assert.equal(hbs.length, 2, `50 reads took ${hbs.length / 2} rounds`);
});

Deno.test("§8 ReadIndex on a follower is forwarded to the leader and answered there", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  c.node(1).raw.propose(bytes("a"));
  c.deliver();
  c.node(3).raw.readIndex(bytes("f1"));
  c.deliver();
  const rs = c.node(3).readStates;
  assert.equal(rs.length, 1);
  assert.equal(text(rs[0].context), "f1");
  assert.equal(rs[0].index, c.node(1).raw.raft.raftLog.committed);
  assert.equal(c.node(1).readStates.length, 0, "the leader answered the follower, not itself");
});

Deno.test("§8 ReadIndex: a stale leader cut off from the quorum cannot serve", () => {
  const c = new Cluster(bootstrap(nodeIds(3), [], { checkQuorum: false, preVote: false }));
  c.campaign(1);
  c.isolate(1);
  // the majority elects a new leader and commits a write the old leader never sees
  c.campaign(2);
  assert.equal(c.node(2).raw.raft.state, StateType.Leader);
  c.node(2).raw.propose(bytes("new"));
  c.deliver();
  assert.equal(c.node(1).raw.raft.state, StateType.Leader, "the old leader still thinks it leads");
  c.node(1).raw.readIndex(bytes("stale"));
  c.deliver();
  c.tick(3);
  assert.equal(c.node(1).readStates.length, 0, "no quorum confirmed it: no answer");
  // when the partition heals, the heartbeat replies carry the new term: it steps down and
  // the pending read is dropped, never answered with a stale index
  c.recover();
  c.tick(3);
  assert.equal(c.node(1).raw.raft.state, StateType.Follower);
  assert.equal(c.node(1).readStates.length, 0);
});

Deno.test("§8 ReadIndex: a new leader answers only after committing an entry of its term", () => {
  // node 2 has entries from term 1 that node 1 (the new leader) has too, committed by the
  // old leader; the new leader does not know they are committed until its term commits
  const l = raftWithLog(1, [1, 2, 3], [1, 1, 1], 1, { checkQuorum: true });
  l.campaign(CampaignType.Election);
  take(l);
  l.step(newMessage({ type: MessageType.VoteResp, from: 2n, to: 1n, term: 2 }));
  assert.equal(l.state, StateType.Leader);
  take(l);
  l.step(newMessage({ type: MessageType.ReadIndex, from: 1n, context: bytes("early") }));
  assert.equal(take(l).filter((m) => m.type === MessageType.Heartbeat).length, 0, "held back");
  assert.equal(l.readStates.length, 0);
  // the term's empty entry (index 4) is acknowledged: committed, and the read proceeds
  l.step(newMessage({ type: MessageType.AppResp, from: 2n, to: 1n, term: 2, index: 4 }));
  assert.equal(l.raftLog.committed, 4);
  const hbs = take(l).filter((m) => m.type === MessageType.Heartbeat);
  assert.equal(hbs.length, 2);
  l.step(
    newMessage({
      type: MessageType.HeartbeatResp,
      from: 3n,
      to: 1n,
      term: 2,
      context: hbs[0].context,
    }),
  );
  assert.deepEqual(l.readStates.map((r) => [r.index, text(r.context)]), [[4, "early"]]);
});

Deno.test("§8 ReadIndex without a leader is refused with a clear reason", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  assert.throws(() => c.node(1).raw.readIndex(bytes("x")), /no leader/);
});

Deno.test("§8 ReadIndex on a single-node cluster needs no round", () => {
  const c = new Cluster(bootstrap(nodeIds(1)));
  c.campaign(1);
  c.node(1).raw.readIndex(bytes("solo"));
  c.deliver();
  assert.equal(c.node(1).readStates.length, 1);
});
