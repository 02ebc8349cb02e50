/**
 * Log replication (Raft §5.3), both sides: the leader sends each follower the entries its
 * progress allows (or its snapshot when the log no longer reaches back far enough) and
 * reads the answers to advance that progress and the commit index; a follower appends what
 * matches its log, rejects with a hint what does not, and installs snapshots.
 *
 * Functions of the state machine (raft.ts) kept in their own file: pure, no I/O, no timers.
 */
import type { Entry, NodeId, Snapshot } from "../base/raftpb.ts";
import {
  CompactedError,
  RaftInvariantError,
  SnapshotTemporarilyUnavailableError,
} from "./errors.ts";
import { maybeFinishTransfer } from "./leader_transfer.ts";
import { assertNotJoint, trackerFor } from "./membership.ts";
import { type Message, MessageType, newMessage } from "./messages.ts";
import { type Progress, ProgressState } from "./progress.ts";
import type { Raft } from "./raft.ts";
import { ackReadIndex } from "./read_index.ts";
import { StateType } from "./role.ts";
import { payloadSize } from "./storage.ts";

// ---- the leader's side ----

/** Sends entries (or a snapshot) to `to` if its progress allows; true if sent. */
export function maybeSendAppend(r: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = r.trk.progress.get(to);
  if (pr === undefined || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = r.raftLog.term(prevIndex);
  let ents: Entry[] | null = null;
  if (prevTerm !== -1) {
    try {
      ents = r.raftLog.entries(pr.next, r.maxMsgSize);
    } catch (err) {
      if (!(err instanceof CompactedError)) throw err;
    }
  }
  if (ents === null) return sendSnapshot(r, to, pr);
  if (ents.length === 0 && !sendIfEmpty) return false;
  r.send(newMessage({
    type: MessageType.App,
    to,
    index: prevIndex,
    logTerm: prevTerm,
    entries: ents,
    commit: r.raftLog.committed,
  }));
  if (ents.length > 0) {
    pr.sentEntries(ents.length, ents[ents.length - 1].index, payloadSize(ents));
  } else {
    pr.sentEntries(0, prevIndex, 0);
  }
  return true;
}

/** Ships the leader's snapshot to a follower the log no longer reaches; true if sent. */
function sendSnapshot(r: Raft, to: NodeId, pr: Progress): boolean {
  if (!pr.recentActive) return false; // wait until it answers before shipping a snapshot
  let snap;
  try {
    snap = r.raftLog.snapshot();
  } catch (err) {
    if (err instanceof SnapshotTemporarilyUnavailableError) return false;
    throw err;
  }
  if (snap.metadata.index === 0) throw new RaftInvariantError("need a non-empty snapshot");
  pr.becomeSnapshot(snap.metadata.index);
  r.send(newMessage({ type: MessageType.Snap, to, snapshot: snap }));
  return true;
}

/**
 * The leader's handling of what a follower says about its log: append and heartbeat answers,
 * a snapshot's status, and the transport's report that it is unreachable.
 */
export function stepProgress(r: Raft, m: Message): void {
  const pr = r.trk.progress.get(m.from);
  if (pr === undefined) return;
  switch (m.type) {
    case MessageType.AppResp:
      handleAppendResponse(r, m, pr);
      break;
    case MessageType.HeartbeatResp:
      handleHeartbeatResponse(r, m, pr);
      break;
    case MessageType.SnapStatus:
      if (pr.state !== ProgressState.Snapshot) break;
      if (m.reject) pr.pendingSnapshot = 0;
      pr.becomeProbe();
      // wait for a heartbeat response before probing: the snapshot may still be applying
      pr.probeSent = true;
      break;
    case MessageType.Unreachable:
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      break;
  }
}

function handleAppendResponse(r: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true;
  if (m.reject) {
    let next = m.rejectHint;
    if (m.logTerm > 0) next = r.raftLog.findConflictByTerm(m.rejectHint, m.logTerm)[0];
    if (pr.maybeDecrTo(m.index, next)) {
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      r.sendAppend(m.from);
    }
    return;
  }
  const wasPaused = pr.isPaused();
  if (!pr.maybeUpdate(m.index)) return;
  if (pr.state === ProgressState.Probe) {
    pr.becomeReplicate();
  } else if (
    pr.state === ProgressState.Snapshot && pr.match + 1 >= r.raftLog.firstIndex()
  ) {
    // the follower caught up past our compaction point: resume replication
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === ProgressState.Replicate) {
    pr.inflights.freeLE(m.index);
  }
  if (!r.commitAndBroadcast() && wasPaused) r.sendAppend(m.from);
  // keep the pipe full while the window allows
  while (maybeSendAppend(r, m.from, false)) { /* sent one more */ }
  maybeFinishTransfer(r, m.from, pr);
}

function handleHeartbeatResponse(r: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true;
  pr.probeSent = false;
  // appends may have been lost: free a slot so replication cannot stall on a full window
  if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
  if (pr.match < r.raftLog.lastIndex() || pr.state === ProgressState.Probe) {
    r.sendAppend(m.from);
  }
  ackReadIndex(r, m);
}

// ---- the follower's side ----

/** A follower's handling of MsgApp: append what matches, or reject with a hint (§5.3). */
export function handleAppendEntries(r: Raft, m: Message): void {
  if (m.index < r.raftLog.committed) {
    r.send(
      newMessage({ type: MessageType.AppResp, to: m.from, index: r.raftLog.committed }),
    );
    return;
  }
  const lastNew = r.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNew !== -1) {
    r.send(newMessage({ type: MessageType.AppResp, to: m.from, index: lastNew }));
    return;
  }
  // reject, with a hint: our largest index <= m.index whose term is <= m.logTerm
  const [hintIndex, hintTerm] = r.raftLog.findConflictByTerm(
    Math.min(m.index, r.raftLog.lastIndex()),
    m.logTerm,
  );
  r.send(newMessage({
    type: MessageType.AppResp,
    to: m.from,
    index: m.index,
    reject: true,
    rejectHint: hintIndex,
    logTerm: hintTerm,
  }));
}

/** A follower's handling of a heartbeat: commit what the leader says, answer it. */
export function handleHeartbeat(r: Raft, m: Message): void {
  r.raftLog.commitTo(m.commit);
  r.send(newMessage({ type: MessageType.HeartbeatResp, to: m.from, context: m.context }));
}

/** A follower's handling of MsgSnap: install it if it is news, answer with its log's end. */
export function handleSnapshot(r: Raft, m: Message): void {
  const s = m.snapshot;
  if (s === null) throw new RaftInvariantError("MsgSnap without a snapshot");
  if (restore(r, s)) {
    r.send(
      newMessage({ type: MessageType.AppResp, to: m.from, index: r.raftLog.lastIndex() }),
    );
  } else {
    r.send(
      newMessage({ type: MessageType.AppResp, to: m.from, index: r.raftLog.committed }),
    );
  }
}

/** Installs a snapshot from the leader; false if it is stale or not for us. */
export function restore(r: Raft, s: Snapshot): boolean {
  const meta = s.metadata;
  if (meta.index <= r.raftLog.committed) return false;
  if (r.state !== StateType.Follower) {
    // defensive: only followers install snapshots
    r.becomeFollower(r.term + 1, 0n);
    return false;
  }
  const cs = meta.confState;
  assertNotJoint(cs, "snapshot carries a joint configuration (unsupported)");
  // A snapshot may predate our own addition (a joiner catching up from an older snapshot):
  // we install it anyway. Without ourselves in the configuration we cannot campaign, and the
  // entries after it (including the change that added us) bring the configuration up to date.
  if (r.raftLog.matchTerm(meta.index, meta.term)) {
    // we already have the entries: just fast-forward the commit
    r.raftLog.commitTo(meta.index);
    return false;
  }
  r.raftLog.restore(s);
  r.trk = trackerFor(
    cs,
    r.id,
    r.raftLog.lastIndex(),
    r.trk.maxInflight,
    r.trk.maxInflightBytes,
  );
  r.isLearner = r.trk.learners.includes(r.id);
  return true;
}
