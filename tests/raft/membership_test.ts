/**
 * Membership (Raft paper §6, thesis §4): single-step changes, one at a time, effective when applied;
 * learners receive the log without voting; promotion; removal; a removed leader steps down;
 * a joiner with an empty log catches up by snapshot.
 */
import assert from "node:assert/strict";
import { ConfChangeType } from "../../lib/raft/confchange.ts";
import { MessageType } from "../../lib/raft/messages.ts";
import { StateType } from "../../lib/raft/raft.ts";
import { bootstrap, bytes, Cluster, joinerStorage, nodeIds, SimNode, text } from "./cluster.ts";

function change(c: Cluster, leader: number, type: ConfChangeType, id: number): void {
  c.node(leader).raw.proposeConfChange({ type, nodeId: BigInt(id), context: new Uint8Array() });
  c.deliver();
}

Deno.test("§6 learner: added with an empty log, catches up by snapshot, never votes, then promoted", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  for (let i = 0; i < 20; i++) c.node(1).raw.propose(bytes(`v${i}`));
  c.deliver();
  c.node(1).compact(); // the joiner cannot get these entries except from a snapshot
  c.add(new SimNode(4n, joinerStorage(), {}, 4));
  change(c, 1, ConfChangeType.AddLearnerNode, 4);
  c.tick(3);
  const n4 = c.node(4);
  assert.equal(n4.raw.raft.isLearner, true);
  assert.equal(n4.appliedIndex, c.node(1).appliedIndex, "caught up");
  assert.ok(n4.storage.snapshot().metadata.index > 1, "installed a snapshot");
  assert.deepEqual(c.node(1).raw.raft.trk.learners, [4n]);
  // a learner does not count for commit: with 2 and 3 cut off, nothing commits
  c.isolate(2);
  c.isolate(3);
  c.node(1).raw.propose(bytes("needs-a-voter"));
  c.deliver();
  assert.equal(text(c.node(1).appliedData.at(-1)!), "v19");
  c.recover();
  c.tick(2);
  // promotion
  change(c, 1, ConfChangeType.AddNode, 4);
  c.tick(2);
  assert.deepEqual(c.node(1).raw.raft.trk.voters, [1n, 2n, 3n, 4n]);
  assert.equal(n4.raw.raft.isLearner, false);
  assert.equal(text(n4.appliedData.at(-1)!), "needs-a-voter");
  // now 4 counts: with 2 and 3 away, 1 + 4 is not a majority of 4; add 2 back -> 3 of 4
  c.isolate(3);
  c.node(1).raw.propose(bytes("three-of-four"));
  c.deliver();
  assert.equal(text(c.node(1).appliedData.at(-1)!), "three-of-four");
});

Deno.test("§6: one membership change at a time", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  c.isolate(2);
  c.isolate(3);
  c.node(1).raw.proposeConfChange({
    type: ConfChangeType.AddLearnerNode,
    nodeId: 4n,
    context: new Uint8Array(),
  });
  assert.throws(
    () =>
      c.node(1).raw.proposeConfChange({
        type: ConfChangeType.AddLearnerNode,
        nodeId: 5n,
        context: new Uint8Array(),
      }),
    /already pending/,
  );
  c.recover();
  c.deliver();
  c.tick(2);
  c.node(1).raw.proposeConfChange({
    type: ConfChangeType.AddLearnerNode,
    nodeId: 5n,
    context: new Uint8Array(),
  });
  c.deliver();
  assert.deepEqual(c.node(1).raw.raft.trk.learners, [4n, 5n]);
});

Deno.test("§6: removing a follower: it stops counting, and the rest commit", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  change(c, 1, ConfChangeType.RemoveNode, 3);
  c.tick(1);
  assert.deepEqual(c.node(1).raw.raft.trk.voters, [1n, 2n]);
  c.node(3).crash();
  c.node(1).raw.propose(bytes("two-of-two"));
  c.deliver();
  assert.equal(text(c.node(2).appliedData.at(-1)!), "two-of-two");
  assert.equal(c.node(3).raw.raft.promotable(), false, "a removed node cannot campaign");
});

Deno.test("§6: a removed leader steps down and the others elect a new one", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  change(c, 1, ConfChangeType.RemoveNode, 1);
  assert.equal(c.node(1).raw.raft.state, StateType.Follower);
  assert.equal(c.node(1).raw.raft.promotable(), false);

  c.node(1).crash();
  let ticks = 0;
  while (c.leader() === null) {
    c.tick();
    assert.ok(++ticks < 60, "a new leader within a bounded time");
  }
  const l = c.leader()!;
  assert.notEqual(l.id, 1n);
  assert.deepEqual(l.raw.raft.trk.voters, [2n, 3n]);
  l.raw.propose(bytes("after-removal"));
  c.deliver();
  for (const id of [2, 3]) assert.equal(text(c.node(id).appliedData.at(-1)!), "after-removal");
});

Deno.test("§6: a removed leader hands over: a voter with its whole log leads with no tick", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  const term = c.node(1).raw.raft.term;
  change(c, 1, ConfChangeType.RemoveNode, 1);
  assert.equal(c.node(1).raw.raft.state, StateType.Follower);
  // no tick passed: the new leader was told to campaign (MsgTimeoutNow), not elected on timeout
  const l = c.leader();
  assert.ok(l !== null && l.id !== 1n, "a new leader without an election timeout");
  assert.equal(l.raw.raft.term, term + 1);
  assert.deepEqual(l.raw.raft.trk.voters, [2n, 3n]);
});

Deno.test("§6: removing the last voter is refused at proposal time", () => {
  const c = new Cluster(bootstrap(nodeIds(1)));
  c.campaign(1);
  assert.throws(
    () =>
      c.node(1).raw.proposeConfChange({
        type: ConfChangeType.RemoveNode,
        nodeId: 1n,
        context: new Uint8Array(),
      }),
    /invalid configuration change/,
  );
});

Deno.test("§6: a leader removing itself tells the others the commit index before stepping down", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  const l = c.node(1);
  l.raw.proposeConfChange({
    type: ConfChangeType.RemoveNode,
    nodeId: 1n,
    context: new Uint8Array(),
  });
  // replicate the entry and collect the acks by hand
  for (const m of l.handleReady()) c.node(m.to).raw.step(m);
  for (const id of [2, 3]) for (const m of c.node(id).handleReady()) l.raw.step(m);
  // the leader has committed and applies the removal in this Ready; the appends announcing
  // the commit are lost, so only what it sends on stepping down can tell the others
  const out = l.handleReady();
  assert.equal(l.raw.raft.state, StateType.Follower);
  for (const m of out) if (m.type !== MessageType.App) c.node(m.to).raw.step(m);
  for (const id of [2, 3]) c.node(id).handleReady();
  // they applied it, so they elect within the new configuration (2 of 2, not 2 of the old 3)
  assert.deepEqual(c.node(2).raw.raft.trk.voters, [2n, 3n]);
  assert.deepEqual(c.node(3).raw.raft.trk.voters, [2n, 3n]);
});
