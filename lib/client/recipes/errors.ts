/**
 * The errors of the concurrency recipes, with clientv3/concurrency's messages (etcd's
 * v3election server sends the election ones as gRPC Unknown; the recipes use the same).
 */
import { Errors, EtcdError, GrpcCode } from "../../base/errors.ts";

/** TryLock found the mutex held by another session. */
export function mutexLocked(): EtcdError {
  return new EtcdError(GrpcCode.Unknown, "mutex: Locked by another session");
}

/** The session's lease ended while waiting, so the lock or leadership was lost. */
export function sessionExpired(): EtcdError {
  return new EtcdError(GrpcCode.Unknown, "concurrency: session expired");
}

/** Proclaim or resign by a candidate that does not lead. */
export const electionNotLeader = Errors.electionNotLeader;
/** No candidate leads the election. */
export const electionNoLeader = Errors.electionNoLeader;
