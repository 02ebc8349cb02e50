import assert from "node:assert/strict";
import { StateType } from "../../lib/raft/raft.ts";
import { bootstrap, bytes, Cluster, nodeIds, text } from "./cluster.ts";

Deno.test("smoke: 3 nodes elect, replicate, commit and apply", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  assert.equal(c.node(1).raw.raft.state, StateType.Leader);
  c.node(1).raw.propose(bytes("hello"));
  c.deliver();
  for (const n of c.nodes.values()) {
    assert.deepEqual(n.appliedData.map(text), ["hello"]);
  }
});
