/** Proposals: forwarded from followers, refused with a reason where they cannot go. */
import assert from "node:assert/strict";
import { DropReason, ProposalDroppedError } from "../../lib/raft/errors.ts";
import { MessageType, newMessage } from "../../lib/raft/messages.ts";
import { bootstrap, bytes, Cluster, nodeIds, text } from "./cluster.ts";

function dropReason(fn: () => void): DropReason {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProposalDroppedError) return err.reason;
    throw err;
  }
  throw new Error("not dropped");
}

Deno.test("§8: a follower forwards proposals to the leader; data is opaque to raft", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  const payload = new Uint8Array([0, 255, 1, 254]);
  c.node(3).raw.propose(payload);
  c.deliver();
  for (const n of c.nodes.values()) assert.deepEqual(n.appliedData, [payload]);
});

Deno.test("proposals with no leader, or with forwarding disabled, are refused with a reason", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  assert.equal(dropReason(() => c.node(1).raw.propose(bytes("x"))), DropReason.NoLeader);
  const d = new Cluster(bootstrap(nodeIds(3), [], { disableProposalForwarding: true }));
  d.campaign(1);
  assert.equal(dropReason(() => d.node(2).raw.propose(bytes("x"))), DropReason.ForwardingDisabled);
  d.node(1).raw.propose(bytes("ok"));
  d.deliver();
  assert.equal(text(d.node(2).appliedData[0]), "ok");
});

Deno.test("a candidate refuses proposals", () => {
  const c = new Cluster(bootstrap(nodeIds(3), [], { preVote: false }));
  c.isolate(1);
  c.campaign(1);
  assert.equal(dropReason(() => c.node(1).raw.propose(bytes("x"))), DropReason.NoLeader);
});

Deno.test("a duplicated forwarded proposal does not corrupt the leader's log", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  c.node(2).raw.propose(bytes("dup"));
  const fwd = c.node(2).handleReady().find((m) => m.type === MessageType.Prop)!;
  c.deliver([fwd, fwd]); // the network delivered it twice: two entries, each intact
  const ents = c.node(1).appliedData.map(text);
  assert.deepEqual(ents, ["dup", "dup"]);
  // a proposal that went 1 -> 2 and was forwarded back to 1 carries 1's own id as origin
  const back = newMessage({ type: MessageType.Prop, from: 1n, to: 1n, entries: fwd.entries });
  c.deliver([back, back]);
  assert.deepEqual(c.node(1).appliedData.map(text), ["dup", "dup", "dup", "dup"]);
  const log = c.node(1).raw.raft.raftLog;
  const last = log.lastIndex();
  const tail = log.slice(last - 3, last + 1, Infinity);
  assert.deepEqual(tail.map((e) => e.index), [last - 3, last - 2, last - 1, last]);
});

Deno.test("peers may not send local-only or malformed messages", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  assert.throws(
    () => c.node(1).raw.step(newMessage({ type: MessageType.Hup, from: 2n, to: 1n })),
    /may not send/,
  );
  assert.equal(
    c.node(1).raw.step(newMessage({ type: MessageType.AppResp, from: 9n, to: 1n, term: 1 })),
    false,
  );
});
