/**
 * `--force-new-cluster` (etcd's restartAsStandaloneNode): a surviving member restarts as a
 * cluster of one that keeps all its data, when the others are lost for good and the quorum
 * with them. Its log loses the entries past its commit index (no quorum may ever have held
 * them) and gains committed conf changes removing every other member, so raft and the
 * membership both end with this member alone; it can then grow again with `member add`.
 */
import { type Entry, EntryType, type HardState, type Snapshot } from "../base/raftpb.ts";
import type { MemberId } from "../base/types.ts";
import { ConfChangeType, decodeConfChange, encodeConfChange } from "../raft/mod.ts";

/** The log a forced restart continues from. */
export interface ForcedLog {
  /** The committed entries, then the forced ones. */
  entries: Entry[];
  /** The forced conf change entries (to be saved to the WAL). */
  forced: Entry[];
  /** The hard state with the commit index at the last forced entry. */
  hardState: HardState;
  /** How many uncommitted entries were dropped. */
  discarded: number;
  /** The members removed. */
  removed: MemberId[];
}

/**
 * The members the log leaves in the configuration (etcd's getIDs): the snapshot's voters and
 * learners, then each conf change's add or removal in log order.
 */
export function configuredIds(snap: Snapshot | null, entries: readonly Entry[]): Set<MemberId> {
  const ids = new Set<MemberId>();
  if (snap !== null) {
    for (const id of snap.metadata.confState.voters) ids.add(id);
    for (const id of snap.metadata.confState.learners) ids.add(id);
  }
  for (const e of entries) {
    if (e.type !== EntryType.ConfChange) continue;
    const cc = decodeConfChange(e.data);
    if (cc.type === ConfChangeType.AddNode || cc.type === ConfChangeType.AddLearnerNode) {
      ids.add(cc.nodeId);
    } else if (cc.type === ConfChangeType.RemoveNode) ids.delete(cc.nodeId);
  }
  return ids;
}

/**
 * Rewrites a restarting member's log as etcd's --force-new-cluster does. Refuses a member
 * that its own log no longer lists (it was removed: nothing of the cluster is its to keep).
 */
export function forceNewCluster(
  self: MemberId,
  snap: Snapshot | null,
  hardState: HardState,
  entries: readonly Entry[],
): ForcedLog {
  const kept = entries.filter((e) => e.index <= hardState.commit);
  const ids = configuredIds(snap, kept);
  if (!ids.has(self)) {
    throw new Error(
      `--force-new-cluster: member ${self.toString(16)} is not in its own log's membership ` +
        `(it was removed); restore a snapshot into a new data dir instead`,
    );
  }
  const others = [...ids].filter((id) => id !== self).sort((a, b) => (a < b ? -1 : 1));
  let index = kept.length > 0 ? kept[kept.length - 1].index : (snap?.metadata.index ?? 0);
  const forced: Entry[] = others.map((id) => ({
    index: ++index,
    term: hardState.term,
    type: EntryType.ConfChange,
    data: encodeConfChange({
      type: ConfChangeType.RemoveNode,
      nodeId: id,
      context: new Uint8Array(),
    }),
  }));
  return {
    entries: [...kept, ...forced],
    forced,
    hardState: { ...hardState, commit: Math.max(hardState.commit, index) },
    discarded: entries.length - kept.length,
    removed: others,
  };
}
