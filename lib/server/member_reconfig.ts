/**
 * A running member's membership changes (etcd's configure and its apply side): proposing
 * add, remove, update and promote as raft conf changes with etcd's checks, validating each
 * change as raft applies it (every member refuses the same ones), recording applied changes
 * in the membership and the transport's peers, and answering the proposer.
 */
import { Errors, type EtcdError } from "../base/errors.ts";
import type { Entry } from "../base/raftpb.ts";
import type { MemberId } from "../base/types.ts";
import type { Clock } from "../io/clock.ts";
import {
  type AppliedConfChange,
  type ConfChange,
  ConfChangeOutcome,
  ConfChangeType,
  ProposalDroppedError,
} from "../raft/mod.ts";
import type { ServerConfig } from "./config.ts";
import type { Applied } from "./applier.ts";
import type { ServerState } from "./state.ts";
import type { RaftLoop } from "./raft_loop.ts";
import type { Waits } from "./waits.ts";
import { decodeMember, type MemberRecord } from "./membership.ts";
import {
  decodeChangeContext,
  encodeChangeContext,
  LEARNER_READY_PERCENT,
  mayAddMember,
  mayPromoteMember,
  mayRemoveMember,
  MembershipOverlay,
  type ReconfigState,
  validateChange,
} from "./reconfig.ts";
import { memberIdFor } from "./member_id.ts";
import { promoteAtLeader, REMOVED_CALL } from "./member_calls.ts";
import type { MemberEvents } from "./member_events.ts";
import type { ServerMetrics } from "./server_metrics.ts";

/** What membership changes use of their member. */
export interface ReconfigHost {
  readonly id: MemberId;
  readonly config: ServerConfig;
  readonly clock: Clock;
  /** How long a proposer waits for its apply. */
  readonly timeoutMs: number;
  readonly loop: RaftLoop;
  readonly waits: Waits<Applied>;
  isLeader(): boolean;
  /** The leader's id, 0n when none is known. */
  leader(): MemberId;
  /** The current applied state (replaced when a snapshot is installed). */
  state(): ServerState;
  /** A fresh request id (the member's etcd-idutil sequence). */
  nextRequestId(): bigint;
  /** Throws etcd's "server stopped" once the member no longer serves. */
  checkRunning(): void;
  linearizableRead(): Promise<void>;
  /** This member learned it is no longer part of the cluster. */
  removed(why: string): void;
  /** Another member joined a cluster that had no transport (a cluster of one grows). */
  needTransport(): void;
  /** Where membership changes are logged. */
  readonly events: MemberEvents;
  /** Where promotions are counted (etcd_server_learner_promote_*). */
  readonly metrics: Pick<ServerMetrics, "learnerPromoteFailure" | "learnerPromoteSuccesses">;
}

/** Membership changes of one member. */
export class MemberReconfig {
  readonly #h: ReconfigHost;
  /** Conf changes refused by validation in the batch being applied, by entry index. */
  readonly #refusals = new Map<number, EtcdError>();
  /** The membership as the conf changes validated in the current batch leave it. */
  #overlay: MembershipOverlay | null = null;

  constructor(host: ReconfigHost) {
    this.#h = host;
  }

  /** A new batch of committed entries starts: validation starts from the membership again. */
  newBatch(): void {
    this.#overlay = null;
  }

  /** Records an applied membership change and connects to or drops the peer. */
  apply(c: AppliedConfChange, e: Entry): void {
    if (c === undefined || c.index !== e.index) {
      throw new Error(`concord: conf change at ${e.index} was not applied by raft`);
    }
    if (c.outcome === ConfChangeOutcome.Refused) return;
    const ms = this.#h.state().membership;
    const t = this.#h.loop.transport;
    const ctx = decodeChangeContext(c.change.context);
    switch (c.change.type) {
      case ConfChangeType.AddNode:
      case ConfChangeType.AddLearnerNode: {
        if (c.change.context.length === 0) return;
        if (ctx.isPromote) {
          const had = ms.get(c.change.nodeId);
          if (had !== undefined) ms.add({ ...had, isLearner: false });
          this.#h.events.promoted(c.change.nodeId);
          return;
        }
        const rec: MemberRecord = {
          ...decodeMember(c.change.nodeId, c.change.context),
          isLearner: c.change.type === ConfChangeType.AddLearnerNode,
        };
        const had = ms.get(rec.id);
        ms.add(had ? { ...rec, name: had.name, clientURLs: had.clientURLs } : rec);
        this.#h.events.added(rec);
        if (rec.id !== this.#h.id) {
          if (t === null) this.#h.needTransport();
          else if (had) t.updatePeer({ id: rec.id, urls: rec.peerURLs });
          else t.addPeer({ id: rec.id, urls: rec.peerURLs });
        }
        break;
      }
      case ConfChangeType.RemoveNode:
        this.#h.events.removed(c.change.nodeId, ms.get(c.change.nodeId)?.peerURLs);
        ms.remove(c.change.nodeId);
        if (c.change.nodeId === this.#h.id) this.#h.removed("its removal was applied");
        else if (t !== null) {
          // raft stops talking to it now, so it may never see this entry committed: tell it
          // (etcd closes the streams it reads from, and its redial is refused with 410)
          const gone = c.change.nodeId;
          t.call(gone, REMOVED_CALL, new Uint8Array(0), 1000)
            .catch(() => {
              // down or gone: it learns from the 410 its next dial gets
            })
            .finally(() => t.removePeer(gone));
        }
        break;
      case ConfChangeType.UpdateNode: {
        const had = ms.get(c.change.nodeId);
        if (had === undefined || ctx.member === null) return;
        ms.add({ ...had, peerURLs: ctx.member.peerURLs });
        this.#h.events.updated(had.id, ctx.member.peerURLs);
        if (had.id !== this.#h.id) t?.updatePeer({ id: had.id, urls: ctx.member.peerURLs });
        break;
      }
    }
  }

  /**
   * etcd's ValidateConfigurationChange, as raft applies a conf change: every member refuses
   * the same changes (from the replicated membership and the change itself). Entries the
   * backend already holds (a replay) were decided before and are accepted.
   */
  validate(cc: ConfChange, index: number): string | null {
    if (index <= this.#h.state().store.consistentIndex().index) return null;
    this.#overlay ??= new MembershipOverlay(this.#h.state().membership);
    const err = validateChange(this.#overlay, cc, this.#h.config.maxLearners);
    if (err !== null) {
      this.#refusals.set(index, err);
      return err.message;
    }
    this.#overlay.note(cc);
    return null;
  }

  /** Answers the proposer of an applied (or refused) conf change, when it waits here. */
  settle(c: AppliedConfChange): void {
    const refusal = this.#refusals.get(c.index);
    this.#refusals.delete(c.index);
    const { reqId } = decodeChangeContext(c.change.context);
    if (reqId === 0n) return;
    if (refusal !== undefined) this.#h.waits.settle(reqId, { error: refusal });
    else if (c.outcome === ConfChangeOutcome.Refused) {
      this.#h.waits.settle(reqId, { error: Errors.memberNotEnoughStarted() });
    } else {this.#h.waits.settle(reqId, {
        value: { kind: "revision", revision: this.#h.state().store.rev() },
      });}
  }

  #state(): ReconfigState {
    const t = this.#h.loop.transport;
    return {
      strict: this.#h.config.strictReconfigCheck,
      self: this.#h.id,
      now: this.#h.clock.now(),
      members: this.#h.state().membership.list(),
      activeSince: (id) => (t === null ? 0 : t.activeSince(id)),
    };
  }

  /**
   * Proposes a conf change and waits for its apply (etcd's configure); resolves with the
   * membership afterwards, or fails with the refusal of the apply's validation.
   */
  async #configure(
    type: ConfChangeType,
    nodeId: MemberId,
    member: { peerURLs: string[]; isLearner: boolean } | null,
    isPromote = false,
  ): Promise<MemberRecord[]> {
    this.#h.checkRunning();
    const reqId = this.#h.nextRequestId();
    const change: ConfChange = {
      type,
      nodeId,
      context: encodeChangeContext({
        reqId,
        isPromote,
        member: member === null ? null : { ...member, name: "" },
      }),
    };
    // the apply decides, but a change refused now never takes a log entry
    const early = validateChange(this.#h.state().membership, change, this.#h.config.maxLearners);
    if (early !== null) throw early;
    const wait = this.#h.waits.register(reqId, this.#h.clock.now() + this.#h.timeoutMs);
    try {
      this.#h.loop.node.proposeConfChange(change);
    } catch (err) {
      this.#h.waits.fail(reqId, err instanceof ProposalDroppedError ? Errors.noLeader() : err);
    }
    this.#h.loop.drive();
    await wait;
    return this.#h.state().membership.list();
  }

  /**
   * etcd's MemberAdd: the id derived from the peer URLs and the time (as etcd does for a
   * member added at run time); refused when the strict reconfig check fails.
   */
  async addMember(
    peerURLs: string[],
    isLearner: boolean,
  ): Promise<{ member: MemberRecord; members: MemberRecord[] }> {
    const id = await memberIdFor(peerURLs, "", Math.floor(this.#h.clock.wallNow() / 1000));
    const refusal = mayAddMember(this.#state(), isLearner);
    if (refusal !== null) throw refusal;
    const members = await this.#configure(
      isLearner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode,
      id,
      { peerURLs, isLearner },
    );
    const member = members.find((m) => m.id === id) ??
      { id, name: "", peerURLs, clientURLs: [], isLearner };
    return { member, members };
  }

  /** etcd's MemberRemove. */
  removeMember(id: MemberId): Promise<MemberRecord[]> {
    const refusal = mayRemoveMember(this.#state(), id);
    if (refusal !== null) return Promise.reject(refusal);
    return this.#configure(ConfChangeType.RemoveNode, id, null);
  }

  /** etcd's MemberUpdate: new peer URLs for a member. */
  updateMember(id: MemberId, peerURLs: string[]): Promise<MemberRecord[]> {
    return this.#configure(ConfChangeType.UpdateNode, id, { peerURLs, isLearner: false });
  }

  /**
   * etcd's MemberPromote: only the leader knows whether the learner caught up (its match
   * within 90% of the leader's); a follower forwards the request to the leader.
   */
  async promoteMember(id: MemberId): Promise<MemberRecord[]> {
    if (!this.#h.isLeader()) {
      const t = this.#h.loop.transport;
      if (this.#h.leader() === 0n || t === null) throw Errors.noLeader();
      await promoteAtLeader(t, this.#h.leader(), id, this.#h.timeoutMs);
      await this.#h.linearizableRead();
      return this.#h.state().membership.list();
    }
    return await this.promoteHere(id);
  }

  async promoteHere(id: MemberId): Promise<MemberRecord[]> {
    if (!this.#h.isLeader()) throw Errors.notLeader();
    const pr = this.#h.loop.node.raw.raft.trk.progress;
    const learner = pr.get(id);
    if (learner === undefined) throw Errors.memberNotFound();
    const leaderMatch = pr.get(this.#h.id)?.match ?? 0;
    if (leaderMatch > 0 && learner.match / leaderMatch < LEARNER_READY_PERCENT) {
      const err = Errors.learnerNotReady();
      this.#h.metrics.learnerPromoteFailure?.(err.message);
      throw err;
    }
    const refusal = mayPromoteMember(this.#state());
    if (refusal !== null) throw refusal;
    const m = this.#h.state().membership.get(id);
    const members = await this.#configure(ConfChangeType.AddNode, id, {
      peerURLs: m?.peerURLs ?? [],
      isLearner: false,
    }, true);
    this.#h.metrics.learnerPromoteSuccesses?.add();
    return members;
  }
}
