/**
 * Log compaction and InstallSnapshot (Raft §7), and restarts from durable state: a follower
 * that fell behind the leader's compaction point is sent a snapshot; a failed transfer is
 * retried; a node restarts from what it persisted and loses only what it had not.
 */
import assert from "node:assert/strict";
import { MessageType } from "../../lib/raft/messages.ts";
import { ProgressState } from "../../lib/raft/progress.ts";
import { StateType } from "../../lib/raft/raft.ts";
import { bootstrap, bytes, Cluster, decodeState, nodeIds, text } from "./cluster.ts";

Deno.test("§7: a follower behind the compaction point catches up by snapshot, then by log", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  c.isolate(3);
  for (let i = 0; i < 10; i++) c.node(1).raw.propose(bytes(`v${i}`));
  c.deliver();
  assert.ok(c.node(1).compact());
  const snapIndex = c.node(1).storage.snapshot().metadata.index;
  c.recover();
  c.delivered = [];
  c.tick(2);
  const snaps = c.delivered.filter((m) => m.type === MessageType.Snap);
  assert.equal(snaps.length, 1);
  const n3 = c.node(3);
  assert.equal(n3.storage.snapshot().metadata.index, snapIndex);
  assert.equal(n3.appliedIndex, c.node(1).appliedIndex);
  assert.equal(n3.hash, c.node(1).hash, "same state as the leader");
  assert.equal(decodeState(n3.storage.snapshot().data).index, snapIndex);
  // the leader learns the follower's new position and replicates normally
  c.node(1).raw.reportSnapshot(3n, true);
  c.tick(2);
  const pr = c.node(1).raw.raft.trk.progress.get(3n)!;
  assert.equal(pr.state, ProgressState.Replicate);
  c.node(1).raw.propose(bytes("after"));
  c.deliver();
  assert.equal(text(n3.appliedData.at(-1)!), "after");
});

Deno.test("§7: a lost snapshot is reported and sent again", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  c.isolate(3);
  for (let i = 0; i < 5; i++) c.node(1).raw.propose(bytes(`v${i}`));
  c.deliver();
  c.node(1).compact();
  c.recover();
  c.ignore(MessageType.Snap);
  c.tick(2);
  const pr = c.node(1).raw.raft.trk.progress.get(3n)!;
  assert.equal(pr.state, ProgressState.Snapshot);
  assert.ok(pr.isPaused(), "nothing else is sent while a snapshot is in flight");
  c.node(1).raw.reportSnapshot(3n, false);
  assert.equal(pr.state, ProgressState.Probe);
  c.recover();
  c.tick(3);
  assert.equal(c.node(3).appliedIndex, c.node(1).appliedIndex);
});

Deno.test("a node restarts from its durable state; what it had not persisted is gone", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  c.node(1).raw.propose(bytes("durable"));
  c.deliver();
  const n2 = c.node(2);
  const term = n2.raw.raft.term;
  const last = n2.raw.raft.raftLog.lastIndex();
  // a proposal reaches node 2's raft, but node 2 crashes before its Ready is persisted
  c.cut(1, 3);
  c.node(1).raw.propose(bytes("in flight"));
  const msgs = c.node(1).handleReady();
  for (const m of msgs) if (m.to === 2n) n2.raw.step(m);
  assert.equal(n2.raw.raft.raftLog.lastIndex(), last + 1);
  n2.crash();
  n2.restart();
  assert.equal(n2.raw.raft.term, term, "term and vote survive");
  assert.equal(n2.raw.raft.raftLog.lastIndex(), last, "the unpersisted entry is lost");
  n2.handleReady();
  assert.deepEqual(n2.appliedData.map(text), ["durable"], "committed entries are applied again");
  assert.equal(n2.raw.raft.state, StateType.Follower);
  c.recover();
  c.tick(3);
  assert.deepEqual(n2.appliedData.map(text), ["durable", "in flight"]);
});

Deno.test("a restarted node keeps its vote: no second vote in the same term", () => {
  const c = new Cluster(bootstrap(nodeIds(3), [], { preVote: false }));
  c.campaign(1);
  const n3 = c.node(3);
  const { term, vote } = n3.storage.hardState();
  assert.equal(vote, 1n);
  n3.crash();
  n3.restart();
  assert.equal(n3.raw.raft.vote, 1n);
  assert.equal(n3.raw.raft.term, term);
});
