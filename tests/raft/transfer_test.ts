/** Leadership transfer (Raft thesis §3.10): catch the target up, then TimeoutNow. */
import assert from "node:assert/strict";
import { MessageType } from "../../lib/raft/messages.ts";
import { StateType } from "../../lib/raft/raft.ts";
import { bootstrap, bytes, Cluster, nodeIds, text } from "./cluster.ts";

Deno.test("transfer to an up-to-date follower: TimeoutNow, and it wins at once", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  const term = c.node(1).raw.raft.term;
  c.delivered = [];
  c.node(1).raw.transferLeader(2n);
  c.deliver();
  assert.equal(c.node(2).raw.raft.state, StateType.Leader);
  assert.equal(c.node(2).raw.raft.term, term + 1, "a real election, without PreVote");
  assert.equal(c.node(1).raw.raft.state, StateType.Follower);
  assert.equal(c.node(1).raw.raft.lead, 2n);
  assert.ok(c.delivered.some((m) => m.type === MessageType.TimeoutNow && m.to === 2n));
});

Deno.test("transfer to a lagging follower catches it up first; proposals are refused meanwhile", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  c.isolate(3);
  for (let i = 0; i < 5; i++) c.node(1).raw.propose(bytes(`v${i}`));
  c.deliver();
  c.recover();
  c.cut(1, 3); // keep 3 behind while the transfer starts
  c.node(1).raw.transferLeader(3n);
  c.deliver();
  assert.equal(c.node(1).raw.raft.leadTransferee, 3n);
  assert.throws(() => c.node(1).raw.propose(bytes("during")), /leadership transfer in progress/);
  c.recover();
  c.tick(2); // heartbeat -> 3 is caught up -> TimeoutNow
  assert.equal(c.node(3).raw.raft.state, StateType.Leader);
  assert.deepEqual(c.node(3).appliedData.map(text).slice(0, 5), ["v0", "v1", "v2", "v3", "v4"]);
  c.node(3).raw.propose(bytes("after"));
  c.deliver();
  for (const n of c.nodes.values()) assert.equal(text(n.appliedData.at(-1)!), "after");
});

Deno.test("a transfer that cannot finish is abandoned after an election timeout", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  c.isolate(3);
  c.node(1).raw.propose(bytes("x"));
  c.deliver();
  c.node(1).raw.transferLeader(3n);
  c.deliver();
  assert.equal(c.node(1).raw.raft.leadTransferee, 3n);
  for (let i = 0; i < 10; i++) {
    c.node(1).raw.tick();
    c.node(2).raw.tick();
    c.deliver();
  }
  assert.equal(c.node(1).raw.raft.leadTransferee, 0n);
  assert.equal(c.node(1).raw.raft.state, StateType.Leader);
  c.node(1).raw.propose(bytes("accepted again"));
});

Deno.test("a transfer request on a follower is forwarded to the leader", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  c.node(2).raw.transferLeader(2n);
  c.deliver();
  assert.equal(c.node(2).raw.raft.state, StateType.Leader);
});

Deno.test("transfer to a learner or to an unknown node is refused", () => {
  const c = new Cluster(bootstrap([1n, 2n], [3n]));
  c.campaign(1);
  assert.throws(() => c.node(1).raw.transferLeader(3n), /transfer target is not a voter/);
  assert.throws(() => c.node(1).raw.transferLeader(9n), /transfer target is not a voter/);
  assert.equal(c.node(1).raw.raft.state, StateType.Leader);
});
