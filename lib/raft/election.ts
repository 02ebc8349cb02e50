/**
 * Leader election (Raft §5.2) with PreVote (thesis §9.6) and CheckQuorum's leader stickiness
 * (§6.2): starting a campaign, counting the answers, and granting or refusing votes.
 *
 * Functions of the state machine (raft.ts) kept in their own file: pure, no I/O, no timers.
 */
import type { NodeId } from "../base/raftpb.ts";
import { CAMPAIGN_TRANSFER, isTransferContext } from "./leader_transfer.ts";
import { confChangeUnapplied } from "./membership.ts";
import { type Message, MessageType, newMessage, voteResponseType } from "./messages.ts";
import { VoteResult } from "./quorum.ts";
import type { Raft } from "./raft.ts";
import { CampaignType, StateType } from "./role.ts";

/** MsgHup: campaign, unless leader, not promotable, or a conf change is committed unapplied. */
export function hup(r: Raft, t: CampaignType): void {
  if (r.state === StateType.Leader) return;
  if (!r.promotable()) return;
  // a committed but unapplied conf change may remove us or change the quorum
  if (confChangeUnapplied(r)) return;
  campaign(r, t);
}

/** Becomes (pre-)candidate and asks every voter; a single voter wins at once. */
export function campaign(r: Raft, t: CampaignType): void {
  if (!r.promotable()) return;
  let voteMsg: MessageType;
  let term: number;
  if (t === CampaignType.PreElection) {
    r.becomePreCandidate();
    voteMsg = MessageType.PreVote;
    term = r.term + 1; // the term we would campaign in; ours does not change yet
  } else {
    r.becomeCandidate();
    voteMsg = MessageType.Vote;
    term = r.term;
  }
  if (poll(r, r.id, true) === VoteResult.Won) {
    // a single-voter configuration wins at once
    if (t === CampaignType.PreElection) campaign(r, CampaignType.Election);
    else r.becomeLeader();
    return;
  }
  const lastIndex = r.raftLog.lastIndex();
  const lastTerm = r.raftLog.lastTerm();
  for (const id of r.trk.voters) {
    if (id === r.id) continue;
    r.send(newMessage({
      type: voteMsg,
      to: id,
      term,
      index: lastIndex,
      logTerm: lastTerm,
      context: t === CampaignType.Transfer ? CAMPAIGN_TRANSFER : null,
    }));
  }
}

function poll(r: Raft, id: NodeId, granted: boolean): VoteResult {
  r.trk.recordVote(id, granted);
  return r.trk.tallyVotes().result;
}

/** A (pre-)candidate counts an answer to its campaign: won, on to the next step; lost, follow. */
export function countVote(r: Raft, m: Message): void {
  const res = poll(r, m.from, !m.reject);
  if (res === VoteResult.Won) {
    if (r.state === StateType.PreCandidate) {
      campaign(r, CampaignType.Election);
    } else {
      r.becomeLeader();
      r.bcastAppend();
    }
  } else if (res === VoteResult.Lost) {
    r.becomeFollower(r.term, 0n);
  }
}

/**
 * Leader stickiness: a vote request of a higher term is ignored while this node heard from a
 * live leader within the election timeout (with CheckQuorum), unless it is a transfer's.
 */
export function ignoresVoteRequest(r: Raft, m: Message): boolean {
  if (m.type !== MessageType.Vote && m.type !== MessageType.PreVote) return false;
  const force = isTransferContext(m.context);
  const inLease = r.checkQuorum && r.lead !== 0n && r.electionElapsed < r.electionTimeout;
  return !force && inLease;
}

/** Grants or refuses a (pre-)vote: once per term, and only to a log at least as up to date. */
export function answerVoteRequest(r: Raft, m: Message): void {
  const canVote = r.vote === m.from ||
    (r.vote === 0n && r.lead === 0n) ||
    (m.type === MessageType.PreVote && m.term > r.term);
  if (canVote && r.raftLog.isUpToDate(m.index, m.logTerm)) {
    // answer with the request's term: a pre-candidate counts it for its next term
    r.send(newMessage({ type: voteResponseType(m.type), to: m.from, term: m.term }));
    if (m.type === MessageType.Vote) {
      r.electionElapsed = 0;
      r.vote = m.from;
    }
  } else {
    r.send(newMessage({
      type: voteResponseType(m.type),
      to: m.from,
      term: r.term,
      reject: true,
    }));
  }
}
