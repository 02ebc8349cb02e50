/**
 * Linearizable reads without a log entry (ReadIndex, Raft thesis §6.4), the leader's side: a
 * read is answered with the commit index once a quorum has acknowledged a heartbeat sent after
 * it arrived (one heartbeat round per batch of reads); a new leader first holds reads until it
 * has committed an entry of its term; a single voter answers at once. The queue itself is
 * read_only.ts's.
 *
 * Functions of the state machine (raft.ts) kept in their own file: pure, no I/O, no timers.
 */
import { DropReason } from "./errors.ts";
import { type Message, MessageType, newMessage } from "./messages.ts";
import type { Raft } from "./raft.ts";
import { contextKey } from "./read_only.ts";
import { StateType } from "./role.ts";

const EMPTY = new Uint8Array(0);

/** The leader's handling of MsgReadIndex (a local request, or one a follower forwarded). */
export function leaderReadIndex(r: Raft, m: Message): DropReason | null {
  if (r.trk.isSingleton()) {
    answerRead(r, m, r.raftLog.committed);
    return null;
  }
  // a new leader does not know the commit index until it commits in its term (§6.4)
  if (!r.committedEntryInCurrentTerm()) {
    r.pendingReadIndexMessages.push(m);
    return null;
  }
  const key = r.readOnly.addRequest(r.raftLog.committed, m);
  r.readOnly.recvAck(r.id, key);
  r.readHeartbeatPending = true;
  return null;
}

/** Serves a confirmed read: a local one becomes a ReadState, a forwarded one a response. */
function answerRead(r: Raft, req: Message, index: number): void {
  if (req.from === 0n || req.from === r.id) {
    r.readStates.push({ index, context: req.context ?? EMPTY });
  } else {
    r.send(newMessage({
      type: MessageType.ReadIndexResp,
      to: req.from,
      index,
      context: req.context,
    }));
  }
}

/** Once this leader has committed in its term, takes up the reads held until then. */
export function releasePendingReadIndexMessages(r: Raft): void {
  if (r.pendingReadIndexMessages.length === 0) return;
  if (!r.committedEntryInCurrentTerm()) return;
  const msgs = r.pendingReadIndexMessages;
  r.pendingReadIndexMessages = [];
  for (const m of msgs) leaderReadIndex(r, m);
}

/** Sends the heartbeat round that confirms queued ReadIndex requests (one per batch). */
export function flushReadIndex(r: Raft): void {
  if (!r.readHeartbeatPending) return;
  r.readHeartbeatPending = false;
  if (r.state !== StateType.Leader) return;
  const ctx = r.readOnly.lastPendingContext();
  if (ctx !== null) r.bcastHeartbeat(ctx);
}

/** Counts a heartbeat response towards the read it confirms; serves what a quorum confirmed. */
export function ackReadIndex(r: Raft, m: Message): void {
  if (m.context === null || r.readOnly.queue.length === 0) return;
  const key = contextKey(m.context);
  const acks = r.readOnly.recvAck(m.from, key);
  if (acks === null) return;
  let granted = 0;
  for (const id of r.trk.voters) if (acks.has(id)) granted++;
  if (granted < (r.trk.voters.length >> 1) + 1) return;
  for (const rs of r.readOnly.advance(key)) answerRead(r, rs.req, rs.index);
}
