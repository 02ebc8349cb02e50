/**
 * Leases whose answer only the leader knows (etcd's LeaseRenew and LeaseTimeToLive through
 * /leases and /leases/internal): the leader's lessor holds the expiries, so a follower asks
 * the leader over the peer transport. Requests and answers are etcd's protobuf messages.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Errors, EtcdError } from "../base/errors.ts";
import type { MemberId } from "../base/types.ts";
import { type LeaseTimeToLive, type Lessor, NotPrimaryError } from "../lease/lessor.ts";
import { PeerCallError, type Transport } from "../transport/mod.ts";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";

/** The peer call names. */
export const CALL_LEASE_RENEW = "lease-renew";
export const CALL_LEASE_TTL = "lease-ttl";

/** Renews lease `id` on this member's lessor; a non-leader's refusal is etcd's no leader. */
export async function renewLocal(lessor: Lessor, id: bigint): Promise<number> {
  try {
    return await lessor.renew(id);
  } catch (err) {
    if (err instanceof NotPrimaryError) throw Errors.notLeader();
    throw err;
  }
}

/**
 * Answers a follower's lease call on the leader. A keep-alive first waits for `promoted`
 * (the leader's lessor is promoted once its term's first entry applies: member_leases.ts).
 */
export async function handleLeaseCall(
  lessor: Lessor,
  method: string,
  body: Uint8Array,
  promoted: () => Promise<void>,
): Promise<Uint8Array> {
  try {
    switch (method) {
      case CALL_LEASE_RENEW: {
        const req = fromBinary(pb.LeaseKeepAliveRequestSchema, body);
        await promoted();
        const ttl = await renewLocal(lessor, req.ID);
        return toBinary(
          pb.LeaseKeepAliveResponseSchema,
          create(pb.LeaseKeepAliveResponseSchema, { ID: req.ID, TTL: BigInt(ttl) }),
        );
      }
      case CALL_LEASE_TTL: {
        const req = fromBinary(pb.LeaseTimeToLiveRequestSchema, body);
        if (!lessor.isPrimary) throw Errors.notLeader();
        const t = lessor.timeToLive(req.ID, req.keys);
        return toBinary(
          pb.LeaseTimeToLiveResponseSchema,
          create(pb.LeaseTimeToLiveResponseSchema, {
            ID: t.id,
            TTL: BigInt(t.ttl),
            grantedTTL: BigInt(t.grantedTtl),
            keys: t.keys,
          }),
        );
      }
      default:
        throw new PeerCallError(12, `unknown peer call ${method}`);
    }
  } catch (err) {
    if (err instanceof EtcdError) throw new PeerCallError(err.code, err.message);
    throw err;
  }
}

/** Asks the leader; its refusals come back as etcd's errors, a lost peer as a timeout. */
async function ask(
  t: Transport,
  leader: MemberId,
  method: string,
  body: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array> {
  try {
    return await t.call(leader, method, body, timeoutMs);
  } catch (err) {
    if (err instanceof PeerCallError) throw new EtcdError(err.code, err.message);
    throw Errors.timeout();
  }
}

/** LeaseRenew through the leader. */
export async function renewAtLeader(
  t: Transport,
  leader: MemberId,
  id: bigint,
  timeoutMs: number,
): Promise<number> {
  const req = create(pb.LeaseKeepAliveRequestSchema, { ID: id });
  const out = await ask(
    t,
    leader,
    CALL_LEASE_RENEW,
    toBinary(pb.LeaseKeepAliveRequestSchema, req),
    timeoutMs,
  );
  return Number(fromBinary(pb.LeaseKeepAliveResponseSchema, out).TTL);
}

/** LeaseTimeToLive through the leader. */
export async function timeToLiveAtLeader(
  t: Transport,
  leader: MemberId,
  id: bigint,
  keys: boolean,
  timeoutMs: number,
): Promise<LeaseTimeToLive> {
  const req = create(pb.LeaseTimeToLiveRequestSchema, { ID: id, keys });
  const out = await ask(
    t,
    leader,
    CALL_LEASE_TTL,
    toBinary(pb.LeaseTimeToLiveRequestSchema, req),
    timeoutMs,
  );
  const r = fromBinary(pb.LeaseTimeToLiveResponseSchema, out);
  return { id: r.ID, ttl: Number(r.TTL), grantedTtl: Number(r.grantedTTL), keys: r.keys };
}
