/**
 * Membership changes at run time with etcd's semantics (etcdserver's AddMember, RemoveMember,
 * UpdateMember, PromoteMember): the checks a member makes before proposing a change
 * (--strict-reconfig-check, a learner's readiness), the checks every member makes when the
 * change is applied (etcd's ValidateConfigurationChange: same answer everywhere, from
 * replicated state only), and the conf change context that carries the member and the
 * proposer's request id (so the proposer can wait for the apply, as etcd's configure does).
 */
import { Errors, type EtcdError } from "../base/errors.ts";
import type { MemberId } from "../base/types.ts";
import { type ConfChange, ConfChangeType } from "../raft/mod.ts";
import type { MemberRecord } from "./membership.ts";

/** etcd's HealthInterval: a peer counts as connected once reachable for this long. */
export const HEALTH_INTERVAL_MS = 5000;

/** etcd's readyPercent: a learner is promotable once its match reaches 90% of the leader's. */
export const LEARNER_READY_PERCENT = 0.9;

/** What a conf change context carries (etcd's member JSON, plus our proposer id). */
export interface ChangeContext {
  /** The proposer's request id (0n: nobody waits, e.g. the bootstrap entries). */
  reqId: bigint;
  /** True for a promotion (etcd's ConfigChangeContext.IsPromote). */
  isPromote: boolean;
  /** The member as the change describes it (absent for a removal). */
  member: { peerURLs: string[]; name: string; isLearner: boolean } | null;
}

interface ContextJson {
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
  isPromote?: boolean;
  reqId?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a change context: member JSON (decodeMember reads it) with isPromote and reqId. */
export function encodeChangeContext(c: ChangeContext): Uint8Array {
  const j: ContextJson = { reqId: c.reqId.toString(16) };
  if (c.member !== null) {
    j.name = c.member.name;
    j.peerURLs = c.member.peerURLs;
    j.clientURLs = [];
    if (c.member.isLearner) j.isLearner = true;
  }
  if (c.isPromote) j.isPromote = true;
  return encoder.encode(JSON.stringify(j));
}

/** Decodes a change context; an empty one (or a bootstrap member's JSON) has reqId 0n. */
export function decodeChangeContext(data: Uint8Array): ChangeContext {
  if (data.length === 0) return { reqId: 0n, isPromote: false, member: null };
  const j = JSON.parse(decoder.decode(data)) as ContextJson;
  return {
    reqId: j.reqId !== undefined && /^[0-9a-f]{1,16}$/.test(j.reqId) ? BigInt("0x" + j.reqId) : 0n,
    isPromote: j.isPromote === true,
    member: j.peerURLs === undefined
      ? null
      : { peerURLs: j.peerURLs, name: j.name ?? "", isLearner: j.isLearner === true },
  };
}

/** What the checks read of the membership. */
export interface MembershipView {
  list(): MemberRecord[];
  get(id: MemberId): MemberRecord | undefined;
  isRemoved(id: MemberId): boolean;
}

/**
 * etcd's ValidateConfigurationChange: run by every member when the change is applied, in log
 * order, so all refuse the same changes. Returns etcd's gRPC error (as the v3 API maps
 * membership's errors), or null to accept.
 */
export function validateChange(
  view: MembershipView,
  cc: ConfChange,
  maxLearners: number,
): EtcdError | null {
  const id = cc.nodeId;
  if (view.isRemoved(id)) return Errors.memberNotFound();
  const ctx = decodeChangeContext(cc.context);
  const cur = view.get(id);
  switch (cc.type) {
    case ConfChangeType.AddNode:
    case ConfChangeType.AddLearnerNode: {
      if (ctx.isPromote) {
        if (cur === undefined) return Errors.memberNotFound();
        if (!cur.isLearner) return Errors.memberNotLearner();
        return null;
      }
      if (cur !== undefined) return Errors.memberExist();
      const used = new Set(view.list().flatMap((m) => m.peerURLs));
      if ((ctx.member?.peerURLs ?? []).some((u) => used.has(u))) return Errors.peerURLExist();
      if (cc.type === ConfChangeType.AddLearnerNode) {
        const learners = view.list().filter((m) => m.isLearner).length;
        if (learners + 1 > maxLearners) return Errors.tooManyLearners();
      }
      return null;
    }
    case ConfChangeType.RemoveNode:
      return cur === undefined ? Errors.memberNotFound() : null;
    case ConfChangeType.UpdateNode: {
      if (cur === undefined) return Errors.memberNotFound();
      const used = new Set(view.list().filter((m) => m.id !== id).flatMap((m) => m.peerURLs));
      if ((ctx.member?.peerURLs ?? []).some((u) => used.has(u))) return Errors.peerURLExist();
      return null;
    }
  }
  return null;
}

/**
 * The membership as the changes validated so far in one apply batch left it: raft hands a
 * batch's conf changes to validation before the server applies any of them, so a second
 * change in the same batch must see the first.
 */
export class MembershipOverlay implements MembershipView {
  readonly #base: MembershipView;
  readonly #changed = new Map<MemberId, MemberRecord | null>();

  constructor(base: MembershipView) {
    this.#base = base;
  }

  list(): MemberRecord[] {
    const out = new Map(this.#base.list().map((m) => [m.id, m]));
    for (const [id, m] of this.#changed) {
      if (m === null) out.delete(id);
      else out.set(id, m);
    }
    return [...out.values()];
  }

  get(id: MemberId): MemberRecord | undefined {
    if (this.#changed.has(id)) return this.#changed.get(id) ?? undefined;
    return this.#base.get(id);
  }

  isRemoved(id: MemberId): boolean {
    return (this.#changed.has(id) && this.#changed.get(id) === null) || this.#base.isRemoved(id);
  }

  /** Records an accepted change. */
  note(cc: ConfChange): void {
    const ctx = decodeChangeContext(cc.context);
    const cur = this.get(cc.nodeId);
    switch (cc.type) {
      case ConfChangeType.AddNode:
      case ConfChangeType.AddLearnerNode:
        if (cur !== undefined) {
          this.#changed.set(cc.nodeId, {
            ...cur,
            isLearner: cc.type === ConfChangeType.AddLearnerNode,
          });
        } else if (ctx.member !== null) {
          this.#changed.set(cc.nodeId, {
            id: cc.nodeId,
            name: ctx.member.name,
            peerURLs: ctx.member.peerURLs,
            clientURLs: [],
            isLearner: cc.type === ConfChangeType.AddLearnerNode,
          });
        }
        break;
      case ConfChangeType.RemoveNode:
        this.#changed.set(cc.nodeId, null);
        break;
      case ConfChangeType.UpdateNode:
        if (cur !== undefined && ctx.member !== null) {
          this.#changed.set(cc.nodeId, { ...cur, peerURLs: ctx.member.peerURLs });
        }
        break;
    }
  }
}

/** What the proposal-time checks read of the member. */
export interface ReconfigState {
  strict: boolean;
  self: MemberId;
  now: number;
  members: MemberRecord[];
  /** When the transport last saw `id` become reachable (0: not now). */
  activeSince(id: MemberId): number;
}

function started(m: MemberRecord): boolean {
  return m.name !== "";
}

function voters(s: ReconfigState): MemberRecord[] {
  return s.members.filter((m) => !m.isLearner);
}

/** True when every other voter has been reachable for HEALTH_INTERVAL_MS (etcd's isConnectedFullySince). */
function connectedFully(s: ReconfigState): boolean {
  const since = s.now - HEALTH_INTERVAL_MS;
  return voters(s).every((m) => {
    if (m.id === s.self) return true;
    const t = s.activeSince(m.id);
    return t !== 0 && t <= since;
  });
}

/** Voters (self included) reachable for HEALTH_INTERVAL_MS (etcd's numConnectedSince). */
function connectedCount(s: ReconfigState): number {
  const since = s.now - HEALTH_INTERVAL_MS;
  return voters(s).filter((m) => {
    if (m.id === s.self) return true;
    const t = s.activeSince(m.id);
    return t !== 0 && t <= since;
  }).length;
}

/** etcd 3.4's mayAddMember. */
export function mayAddMember(s: ReconfigState, isLearner: boolean): EtcdError | null {
  if (!s.strict) return null;
  if (!isLearner) {
    // IsReadyToAddVotingMember: the new member counts as a member that has not started
    const vs = voters(s);
    const nmembers = vs.length + 1;
    const nstarted = vs.filter(started).length;
    if (!(nstarted === 1 && nmembers === 2) && nstarted < Math.floor(nmembers / 2) + 1) {
      return Errors.memberNotEnoughStarted();
    }
  }
  if (!connectedFully(s)) return Errors.unhealthy();
  return null;
}

/** etcd 3.4's mayRemoveMember. */
export function mayRemoveMember(s: ReconfigState, id: MemberId): EtcdError | null {
  if (!s.strict) return null;
  const target = s.members.find((m) => m.id === id);
  if (target !== undefined && target.isLearner) return null;
  const rest = voters(s).filter((m) => m.id !== id);
  if (rest.filter(started).length < Math.floor(rest.length / 2) + 1) {
    return Errors.memberNotEnoughStarted();
  }
  // a member that is down is safe to remove: it is not part of the active quorum
  if (id !== s.self && s.activeSince(id) === 0) return null;
  const m = voters(s).length;
  if (connectedCount(s) - 1 < 1 + Math.floor((m - 1) / 2)) return Errors.unhealthy();
  return null;
}

/** etcd 3.4's mayPromoteMember after the readiness check (IsReadyToPromoteMember). */
export function mayPromoteMember(s: ReconfigState): EtcdError | null {
  if (!s.strict) return null;
  const vs = voters(s);
  const nmembers = vs.length + 1;
  const nstarted = vs.filter(started).length + 1;
  if (nstarted < Math.floor(nmembers / 2) + 1) return Errors.memberNotEnoughStarted();
  return null;
}
