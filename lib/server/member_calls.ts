/**
 * The calls a member answers for its peers beside raft messages, dispatched by name: the
 * membership requests only the leader can answer (etcd's /members/promote/<id> peer route:
 * only the leader knows whether a learner caught up), a peer telling a member its removal
 * was applied (and the error a removed member stops with), the membership list a joiner
 * asks for, this member's Status, and lease renewals and TTLs on the leader.
 */
import type * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Errors, EtcdError } from "../base/errors.ts";
import type { MemberId } from "../base/types.ts";
import type { Lessor } from "../lease/lessor.ts";
import { PeerCallError, type Transport } from "../transport/mod.ts";
import { encodeMembers, MEMBERS_CALL } from "./join.ts";
import { handleLeaseCall } from "./lease_calls.ts";
import { encodeStatusAnswer, STATUS_CALL } from "./members_status.ts";
import type { MemberRecord } from "./membership.ts";

/** The peer call that promotes a learner on the leader; the body is the id in hex. */
export const PROMOTE_CALL = "member-promote";

/** The peer call that tells a member its removal was applied (it stops serving). */
export const REMOVED_CALL = "member-removed";

/** etcd's message when a member learns it was removed from the cluster. */
export class MemberRemovedError extends Error {
  override name = "MemberRemovedError";
  constructor() {
    super("the member has been permanently removed from the cluster");
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Answers a follower's promote call on the leader. */
export async function handlePromoteCall(
  body: Uint8Array,
  promote: (id: MemberId) => Promise<unknown>,
): Promise<Uint8Array> {
  const text = decoder.decode(body);
  if (!/^[0-9a-f]{1,16}$/.test(text)) throw new PeerCallError(3, `bad member id "${text}"`);
  try {
    await promote(BigInt("0x" + text));
  } catch (err) {
    if (err instanceof EtcdError) throw new PeerCallError(err.code, err.message);
    throw err;
  }
  return new Uint8Array(0);
}

/** Asks the leader to promote learner `id`; its refusals come back as etcd's errors. */
export async function promoteAtLeader(
  t: Transport,
  leader: MemberId,
  id: MemberId,
  timeoutMs: number,
): Promise<void> {
  try {
    await t.call(leader, PROMOTE_CALL, encoder.encode(id.toString(16)), timeoutMs);
  } catch (err) {
    if (err instanceof PeerCallError) throw new EtcdError(err.code, err.message);
    throw Errors.timeout();
  }
}

/** What a member answers its peers' calls from. */
export interface PeerCallTargets {
  /** Promotes learner `id` (on the leader; refusals are etcd's errors). */
  promoteHere(id: MemberId): Promise<unknown>;
  /** Peer `from` applied this member's removal: the member stops serving. */
  removedBy(from: MemberId): void;
  /** The applied membership, for a joiner. */
  members(): MemberRecord[];
  /** This member's own Status (waits for a snapshot install, as the Maintenance call does). */
  status(): Promise<pb.StatusResponse>;
  /** The lessor that answers renewals and TTLs when this member leads (a snapshot install replaces it). */
  lessor(): Lessor;
  /** Resolves once a new leader's lessor is promoted (a renewal waits for it, as etcd's). */
  leasesPromoted(): Promise<void>;
}

/** Answers peer `from`'s call `method` with `body`; an unknown method is refused. */
export function answerPeerCall(
  t: PeerCallTargets,
  from: MemberId,
  method: string,
  body: Uint8Array,
): Promise<Uint8Array> {
  switch (method) {
    case PROMOTE_CALL:
      return handlePromoteCall(body, (id) => t.promoteHere(id));
    case REMOVED_CALL:
      t.removedBy(from);
      return Promise.resolve(new Uint8Array(0));
    case MEMBERS_CALL:
      return Promise.resolve(encodeMembers(t.members()));
    case STATUS_CALL:
      return t.status().then(encodeStatusAnswer);
    default:
      return handleLeaseCall(t.lessor(), method, body, () => t.leasesPromoted());
  }
}
