/**
 * The log rewrite of --force-new-cluster: entries past the commit index are dropped, the
 * members the log configures (snapshot, then each add and removal) are found, and one
 * committed removal per other member follows, at the current term.
 */
import assert from "node:assert/strict";
import { type Entry, EntryType, type Snapshot } from "../../lib/base/raftpb.ts";
import { ConfChangeType, decodeConfChange, encodeConfChange } from "../../lib/raft/mod.ts";
import { configuredIds, forceNewCluster } from "../../lib/server/force_new_cluster.ts";

const cc = (index: number, type: ConfChangeType, id: bigint): Entry => ({
  index,
  term: 2,
  type: EntryType.ConfChange,
  data: encodeConfChange({ type, nodeId: id, context: new Uint8Array() }),
});
const normal = (index: number): Entry => ({
  index,
  term: 3,
  type: EntryType.Normal,
  data: new Uint8Array([index]),
});

function snapshot(index: number, voters: bigint[], learners: bigint[] = []): Snapshot {
  return {
    data: new Uint8Array(),
    metadata: {
      index,
      term: 2,
      confState: { voters, learners, votersOutgoing: [], learnersNext: [], autoLeave: false },
    },
  };
}

Deno.test("force-new-cluster: uncommitted entries go, every other member is removed", () => {
  const entries = [
    cc(11, ConfChangeType.AddLearnerNode, 4n),
    normal(12),
    cc(13, ConfChangeType.RemoveNode, 2n),
    normal(14),
    normal(15), // past the commit index: dropped
    cc(16, ConfChangeType.AddNode, 9n), // likewise: 9 never joins
  ];
  const snap = snapshot(10, [1n, 2n, 3n]);
  assert.deepEqual([...configuredIds(snap, entries.slice(0, 4))].sort(), [1n, 3n, 4n]);
  const f = forceNewCluster(3n, snap, { term: 5, vote: 3n, commit: 14 }, entries);
  assert.equal(f.discarded, 2);
  assert.deepEqual(f.removed, [1n, 4n]);
  assert.deepEqual(f.entries.map((e) => e.index), [11, 12, 13, 14, 15, 16]);
  assert.deepEqual(f.forced.map((e) => [e.index, e.term]), [[15, 5], [16, 5]]);
  assert.deepEqual(
    f.forced.map((e) => decodeConfChange(e.data)).map((c) => [c.type, c.nodeId]),
    [[ConfChangeType.RemoveNode, 1n], [ConfChangeType.RemoveNode, 4n]],
  );
  assert.deepEqual(f.hardState, { term: 5, vote: 3n, commit: 16 });
});

Deno.test("force-new-cluster: a member its own log removed is refused", () => {
  const entries = [cc(11, ConfChangeType.RemoveNode, 2n)];
  assert.throws(
    () =>
      forceNewCluster(2n, snapshot(10, [1n, 2n, 3n]), { term: 2, vote: 0n, commit: 11 }, entries),
    /not in its own log's membership/,
  );
});
