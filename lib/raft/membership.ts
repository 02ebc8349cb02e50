/**
 * How the raft state machine's membership changes: the configuration it starts from (storage's
 * ConfState, or a snapshot's), the conf-change proposals a leader accepts (one at a time, never
 * a joint ConfChangeV2), the check that keeps a node from campaigning while a committed change
 * is unapplied, and what applying a committed change does to the node: a learner learns it is
 * one, a removed or demoted leader hands over, a leader whose quorum changed commits and sends.
 *
 * Functions of the state machine (raft.ts) kept in their own file: pure, no I/O, no timers.
 * The change itself (format, effect on the tracker) is confchange.ts's.
 */
import { type ConfState, type Entry, EntryType, type NodeId } from "../base/raftpb.ts";
import {
  applyConfChangeTo,
  type ConfChange,
  ConfChangeOutcome,
  confChangeProblem,
  decodeConfChange,
} from "./confchange.ts";
import { DropReason, RaftInvariantError } from "./errors.ts";
import { completeVoter, sendTimeoutNow } from "./leader_transfer.ts";
import { Progress } from "./progress.ts";
import type { Raft } from "./raft.ts";
import { StateType } from "./role.ts";
import { ProgressTracker } from "./tracker.ts";

/** Throws `message` when `cs` is a joint configuration (joint consensus is not supported). */
export function assertNotJoint(cs: ConfState, message: string): void {
  if (cs.votersOutgoing.length > 0 || cs.learnersNext.length > 0) {
    throw new RaftInvariantError(message);
  }
}

/**
 * A tracker for the configuration `cs` with a log ending at `lastIndex`: every node is probed
 * from the next index, and this node (`self`) already holds its own log.
 */
export function trackerFor(
  cs: ConfState,
  self: NodeId,
  lastIndex: number,
  maxInflight: number,
  maxInflightBytes: number,
): ProgressTracker {
  const trk = new ProgressTracker(maxInflight, maxInflightBytes);
  trk.voters = cs.voters.slice();
  trk.learners = cs.learners.slice();
  for (const id of trk.ids()) {
    const pr = new Progress(
      0,
      lastIndex + 1,
      maxInflight,
      maxInflightBytes,
      cs.learners.includes(id),
    );
    if (id === self) pr.match = lastIndex;
    trk.progress.set(id, pr);
  }
  return trk;
}

/**
 * Checks a proposal's conf-change entries: returns the position in `entries` of its one
 * ConfChange (-1 when it has none), or why the proposal is refused (a ConfChangeV2, a second
 * change, one while an earlier one is unapplied, or one the configuration cannot take).
 */
export function proposedConfChangeAt(r: Raft, entries: readonly Entry[]): number | DropReason {
  let confAt = -1;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e.type === EntryType.ConfChangeV2) return DropReason.InvalidConfChange;
    if (e.type !== EntryType.ConfChange) continue;
    if (confAt !== -1 || r.pendingConfIndex > r.raftLog.applied) {
      return DropReason.ConfChangePending;
    }
    let cc: ConfChange;
    try {
      cc = decodeConfChange(e.data);
    } catch {
      return DropReason.InvalidConfChange;
    }
    if (confChangeProblem(r.trk, cc) !== null) return DropReason.InvalidConfChange;
    confAt = i;
  }
  return confAt;
}

/** Whether a committed entry that is not yet applied may be a conf change (so: no campaign). */
export function confChangeUnapplied(r: Raft): boolean {
  const log = r.raftLog;
  if (log.applied >= log.committed) return false;
  const lo = Math.max(log.applied + 1, log.firstIndex());
  for (const e of log.slice(lo, log.committed + 1, Infinity)) {
    if (e.type !== EntryType.Normal) return true;
  }
  return false;
}

/** Applies a committed conf change to the node; returns what it did. */
export function applyCommittedConfChange(r: Raft, cc: ConfChange): ConfChangeOutcome {
  const outcome = applyConfChangeTo(r.trk, cc, r.raftLog.lastIndex());
  if (outcome !== ConfChangeOutcome.Applied) return outcome;
  const self = r.trk.progress.get(r.id);
  r.isLearner = self !== undefined && self.isLearner;
  if (r.state !== StateType.Leader) return outcome;
  if (self === undefined || self.isLearner) {
    // removed or demoted: a leader that is not a voter must not lead (thesis §4.2.2). Tell
    // the others the commit index first, so they apply the change too and elect among the
    // new configuration, instead of waiting for a quorum of the old one.
    for (const id of r.trk.progress.keys()) if (id !== r.id) r.sendHeartbeat(id, null);
    // and hand leadership over rather than leave them to an election timeout: a voter
    // whose log is complete is told to campaign now (as a transfer would)
    const heir = completeVoter(r);
    if (heir !== 0n) sendTimeoutNow(r, heir);
    r.becomeFollower(r.term, 0n);
    return outcome;
  }
  if (r.leadTransferee !== 0n && !r.trk.voters.includes(r.leadTransferee)) {
    r.leadTransferee = 0n;
  }
  // the quorum changed: maybe more is committed now; and new nodes need the log
  if (!r.commitAndBroadcast()) {
    for (const id of r.trk.progress.keys()) {
      if (id !== r.id) r.maybeSendAppend(id, false);
    }
  }
  return outcome;
}
