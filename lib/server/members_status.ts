/**
 * Every member's status, as `etcdctl endpoint status --cluster` shows it, asked by one
 * member over the peer transport (the console's Cluster page calls it on the member serving
 * it, which may reach its peers when the browser may not): each member answers the peer call
 * STATUS_CALL from its own state with its own Maintenance.Status. A member that does not
 * answer within the bound, cannot be reached or refuses is reported with that error, never
 * with figures that were not its own answer.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { EtcdError, GrpcCode } from "../base/errors.ts";
import type { MemberId } from "../base/types.ts";
import type { Clock } from "../io/clock.ts";
import { PeerCallError, type Transport } from "../transport/mod.ts";
import { formatId } from "./member_id.ts";
import type { MemberRecord } from "./membership.ts";

/** The peer call a member answers with its Maintenance.Status (etcd's protobuf); no body. */
export const STATUS_CALL = "member-status";

/**
 * How long the fan-out waits for each member by default: a member on the same network
 * answers in milliseconds, and the console polls every two seconds.
 */
export const DEFAULT_MEMBER_STATUS_TIMEOUT_MS = 1500;

/** One member as the fan-out found it: its own Status, or why there is none. */
export type MemberStatus =
  & {
    /** The member as this member's membership records it. */
    member: MemberRecord;
  }
  & (
    /** The member's own answer. */
    | { status: pb.StatusResponse }
    /** Why the member gave no status: unreachable, timed out, or its refusal. */
    | { error: EtcdError }
  );

/** What the fan-out reads from the asking member (a Member and its façade satisfy it). */
export interface MembersStatusSource {
  readonly id: MemberId;
  readonly clock: Clock;
  readonly membership: { list(): MemberRecord[] };
  readonly transport: Transport | null;
  /** This member's own Maintenance.Status (it may wait for a snapshot install). */
  status(): pb.StatusResponse | Promise<pb.StatusResponse>;
}

/** Answers a peer's STATUS_CALL with `status` (this member's own). */
export function encodeStatusAnswer(status: pb.StatusResponse): Uint8Array {
  return toBinary(pb.StatusResponseSchema, status);
}

/**
 * Each member's status, in membership order: this member's from its own state, every other
 * member's by the peer call, all asked at once, each bounded by `timeoutMs` (the whole
 * call then takes at most about that long).
 */
export async function membersStatus(
  src: MembersStatusSource,
  timeoutMs = DEFAULT_MEMBER_STATUS_TIMEOUT_MS,
): Promise<MemberStatus[]> {
  const members = src.membership.list();
  return await Promise.all(members.map(async (member): Promise<MemberStatus> => {
    try {
      if (member.id === src.id) return { member, status: await src.status() };
      return { member, status: await askMember(src, member.id, timeoutMs) };
    } catch (err) {
      return { member, error: statusError(err) };
    }
  }));
}

/** Peer `id`'s Status, or a failure (its refusal, unreachable, or no answer in time). */
async function askMember(
  src: MembersStatusSource,
  id: MemberId,
  timeoutMs: number,
): Promise<pb.StatusResponse> {
  const t = src.transport;
  if (t === null) {
    throw new EtcdError(GrpcCode.Unavailable, "this member has no peer transport");
  }
  // The transport bounds the answer by timeoutMs, but not every step before it (dialing
  // is bounded by its own dial timeout): the member's clock bounds the whole call.
  let timer: { cancel(): void } | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = src.clock.after(timeoutMs, () => {
      reject(new EtcdError(GrpcCode.DeadlineExceeded, `no answer within ${timeoutMs} ms`));
    });
  });
  try {
    const call = t.call(id, STATUS_CALL, new Uint8Array(0), timeoutMs);
    // the call may still fail after the bound: that failure is no longer anyone's answer
    call.catch(() => {});
    const body = await Promise.race([call, late]);
    const status = fromBinary(pb.StatusResponseSchema, body);
    const answered = status.header?.memberId ?? 0n;
    if (answered !== id) {
      throw new EtcdError(
        GrpcCode.Unknown,
        `member ${formatId(answered)} answered at the peer URLs of ${formatId(id)}`,
      );
    }
    return status;
  } finally {
    timer?.cancel();
  }
}

/** A failure as the console shows it: etcd's errors as they are, anything else Unavailable. */
function statusError(err: unknown): EtcdError {
  if (err instanceof EtcdError) return err;
  if (err instanceof PeerCallError) return new EtcdError(err.code as GrpcCode, err.message);
  const message = err instanceof Error ? err.message : String(err);
  return new EtcdError(GrpcCode.Unavailable, message);
}
