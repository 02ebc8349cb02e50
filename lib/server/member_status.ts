/**
 * A member's Status as etcd's Maintenance.Status reports it, computed from the member's own
 * state. Two callers need it: the Maintenance façade (a client's Status) and the member itself
 * (a peer's STATUS_CALL, the console's Cluster page fan-out); it lives here so the member
 * never reaches up into the façade built on top of it.
 */
import { create } from "@bufbuild/protobuf";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Errors } from "../base/errors.ts";
import type { MemberId } from "../base/types.ts";
import { ETCD_COMPAT_VERSION } from "../base/version.ts";
import type { BackendStats } from "../backend/backend.ts";
import { alarmText } from "./alarms.ts";

/** What Status reads from a member (a `Member` satisfies it). */
export interface StatusFigures {
  readonly id: MemberId;
  readonly leader: MemberId;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly backend: { stats(): BackendStats };
  readonly membership: { get(id: MemberId): { isLearner: boolean } | undefined };
  readonly alarms: { get(): pb.AlarmMember[] };
  header(): pb.ResponseHeader;
}

/** Status: versions, sizes, raft positions and the errors etcd lists (no leader, alarms). */
export function statusOf(m: StatusFigures): pb.StatusResponse {
  const stats = m.backend.stats();
  return create(pb.StatusResponseSchema, {
    header: m.header(),
    version: ETCD_COMPAT_VERSION,
    dbSize: BigInt(stats.fileBytes),
    dbSizeInUse: BigInt(stats.inUseBytes),
    leader: m.leader,
    raftIndex: BigInt(m.commitIndex),
    raftTerm: BigInt(m.term),
    raftAppliedIndex: BigInt(m.appliedIndex),
    isLearner: m.membership.get(m.id)?.isLearner ?? false,
    errors: [
      ...(m.leader === 0n ? [Errors.noLeader().message] : []),
      ...m.alarms.get().map(alarmText),
    ],
  });
}
