/**
 * The raft simulator's invariant checks (sim_invariants.ts) fail on the histories they exist
 * to catch: two entries at one (index, term), two states at one applied index, a read state
 * for a request never asked, and a read answered below what was committed when it was asked.
 */
import assert from "node:assert/strict";
import { EntryType, type NodeId } from "../../lib/base/raftpb.ts";
import { bootstrapStorage, SimNode } from "./cluster.ts";
import { noStats, type SimStats } from "./sim.ts";
import { SimInvariants } from "./sim_invariants.ts";

class Broken extends Error {}

function setup(): { inv: SimInvariants; a: SimNode; b: SimNode; stats: SimStats } {
  const voters: NodeId[] = [1n, 2n];
  const nodes = new Map<NodeId, SimNode>();
  for (const id of voters) {
    nodes.set(id, new SimNode(id, bootstrapStorage(voters, []), { electionTick: 10 }, 1));
  }
  const stats = noStats();
  const inv = new SimInvariants({
    nodes,
    stats,
    fail: (msg) => {
      throw new Broken(msg);
    },
    log: () => {},
  });
  return { inv, a: nodes.get(1n)!, b: nodes.get(2n)!, stats };
}

const entry = (data: number) => ({
  index: 2,
  term: 1,
  type: EntryType.Normal,
  data: Uint8Array.of(data),
});

Deno.test("sim invariants: log matching fails on two entries at one (index, term)", () => {
  const { inv, a, b } = setup();
  inv.checkPersist(a, [entry(1)]);
  inv.checkPersist(b, [entry(1)]); // the same entry: fine
  assert.throws(
    () => inv.checkPersist(b, [entry(2)]),
    /log matching: node 2 has a different entry at \(2,1\)/,
  );
});

Deno.test("sim invariants: state machine safety fails on two states at one applied index", () => {
  const { inv, a, b } = setup();
  inv.checkApply(a, 5, 42);
  inv.checkApply(b, 5, 42);
  assert.throws(() => inv.checkApply(b, 5, 43), /state machine safety: node 2 .* at 5/);
});

Deno.test("sim invariants: a read state must answer an asked read, at or above its commit", () => {
  const { inv, a, stats } = setup();
  const ctx = Uint8Array.of(0, 0, 0, 1);
  assert.throws(() => inv.checkRead(a, 1, ctx), /unknown request/);
  inv.readAsked(ctx); // asked when index 1 was committed
  inv.checkRead(a, 1, ctx);
  assert.equal(stats.readsServed, 1);
  assert.throws(() => inv.checkRead(a, 0, ctx), /stale read: node 1 answered at 0, but 1/);
  assert.throws(() => inv.checkRead(a, 9, ctx), /beyond anything committed/);
});
