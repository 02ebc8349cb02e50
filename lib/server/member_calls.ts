/**
 * Membership requests only the leader can answer (etcd's /members/promote/<id> peer route:
 * only the leader knows whether a learner caught up), and the error a removed member stops
 * with.
 */
import { Errors, EtcdError } from "../base/errors.ts";
import type { MemberId } from "../base/types.ts";
import { PeerCallError, type Transport } from "../transport/mod.ts";

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
