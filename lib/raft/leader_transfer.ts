/**
 * Leadership transfer (Raft thesis §3.10), the leader's side and the vote's mark: a
 * TransferLeader request names a voter; the leader stops taking proposals, brings that voter's
 * log up to its own and then sends it TimeoutNow, upon which the voter campaigns at once
 * (CampaignType.Transfer), its vote requests carrying CAMPAIGN_TRANSFER so that followers grant
 * them despite leader stickiness. A transfer not done within an election timeout is abandoned.
 *
 * Functions of the state machine (raft.ts) kept in their own file: pure, no I/O, no timers.
 */
import type { NodeId } from "../base/raftpb.ts";
import { DropReason } from "./errors.ts";
import { type Message, MessageType, newMessage } from "./messages.ts";
import type { Progress } from "./progress.ts";
import type { Raft } from "./raft.ts";

/** The vote context that marks a leader-transfer campaign. */
export const CAMPAIGN_TRANSFER = new TextEncoder().encode("CampaignTransfer");

/** Whether a vote request's context marks a transfer campaign (which ignores stickiness). */
export function isTransferContext(ctx: Uint8Array | null): boolean {
  if (ctx === null || ctx.length !== CAMPAIGN_TRANSFER.length) return false;
  for (let i = 0; i < ctx.length; i++) if (ctx[i] !== CAMPAIGN_TRANSFER[i]) return false;
  return true;
}

/** The leader's handling of MsgTransferLeader (`m.from` names the target). */
export function startLeaderTransfer(r: Raft, m: Message): DropReason | null {
  const target = m.from;
  const pr = r.trk.progress.get(target);
  if (pr === undefined || pr.isLearner) return DropReason.InvalidTransferTarget;
  if (r.leadTransferee !== 0n) {
    if (r.leadTransferee === target) return null; // already under way
    r.leadTransferee = 0n; // abort the previous one, start this one
  }
  if (target === r.id) return null; // already leader
  r.electionElapsed = 0; // the transfer must finish within one election timeout
  r.leadTransferee = target;
  if (pr.match === r.raftLog.lastIndex()) sendTimeoutNow(r, target);
  else r.sendAppend(target);
  return null;
}

/** After `from` acknowledged appends: if it is the transferee and caught up, it may campaign. */
export function maybeFinishTransfer(r: Raft, from: NodeId, pr: Progress): void {
  if (from === r.leadTransferee && pr.match === r.raftLog.lastIndex()) sendTimeoutNow(r, from);
}

/** Tells `to` to campaign now, without PreVote (its log is complete). */
export function sendTimeoutNow(r: Raft, to: NodeId): void {
  r.send(newMessage({ type: MessageType.TimeoutNow, to }));
}

/** A voter (other than this node) whose log matches this leader's to its end, or 0n. */
export function completeVoter(r: Raft): NodeId {
  const last = r.raftLog.lastIndex();
  for (const id of r.trk.voters) {
    if (id !== r.id && r.trk.progress.get(id)?.match === last) return id;
  }
  return 0n;
}
