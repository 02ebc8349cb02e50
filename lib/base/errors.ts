/**
 * etcd's errors, in one place: each has the gRPC status code and the exact message etcd's
 * server sends (etcd's rpctypes), because etcd's clients branch on both. Every layer throws
 * `EtcdError`s from this catalogue; the API layer turns them into gRPC, Connect and gateway
 * responses without rewording them.
 */

/** gRPC status codes (the same numbers Connect's `Code` uses). */
export enum GrpcCode {
  OK = 0,
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

/** An error etcd's clients recognize: a gRPC code and etcd's exact message. */
export class EtcdError extends Error {
  readonly code: GrpcCode;
  constructor(code: GrpcCode, message: string) {
    super(message);
    this.name = "EtcdError";
    this.code = code;
  }
}

/** A catalogue entry: makes a fresh error (with its own stack) each time it is thrown. */
export interface EtcdErrorDef {
  readonly code: GrpcCode;
  readonly message: string;
  /** A new EtcdError with this code and message. */
  (): EtcdError;
  /** True when `err` is this error (same code and message). */
  is(err: unknown): boolean;
}

function def(code: GrpcCode, message: string): EtcdErrorDef {
  const make = (() => new EtcdError(code, message)) as EtcdErrorDef;
  Object.defineProperty(make, "code", { value: code });
  Object.defineProperty(make, "message", { value: message });
  Object.defineProperty(make, "is", {
    value: (err: unknown) =>
      err instanceof EtcdError && err.code === code && err.message === message,
  });
  return make;
}

/** Every error etcd's v3 API defines, by name (etcd's ErrGRPC… without the prefix). */
export const Errors = {
  emptyKey: def(GrpcCode.InvalidArgument, "etcdserver: key is not provided"),
  keyNotFound: def(GrpcCode.InvalidArgument, "etcdserver: key not found"),
  valueProvided: def(GrpcCode.InvalidArgument, "etcdserver: value is provided"),
  leaseProvided: def(GrpcCode.InvalidArgument, "etcdserver: lease is provided"),
  tooManyOps: def(GrpcCode.InvalidArgument, "etcdserver: too many operations in txn request"),
  duplicateKey: def(GrpcCode.InvalidArgument, "etcdserver: duplicate key given in txn request"),
  compacted: def(GrpcCode.OutOfRange, "etcdserver: mvcc: required revision has been compacted"),
  futureRev: def(GrpcCode.OutOfRange, "etcdserver: mvcc: required revision is a future revision"),
  // etcd 3.7's RangeStream refuses what it cannot serve in key order chunk by chunk
  rangeStreamSort: def(
    GrpcCode.Unimplemented,
    "RangeStream does not support custom sort orders",
  ),
  rangeStreamFilters: def(
    GrpcCode.Unimplemented,
    "RangeStream does not support revision filters",
  ),
  noSpace: def(GrpcCode.ResourceExhausted, "etcdserver: mvcc: database space exceeded"),
  leaseNotFound: def(GrpcCode.NotFound, "etcdserver: requested lease not found"),
  leaseExist: def(GrpcCode.FailedPrecondition, "etcdserver: lease already exists"),
  leaseTTLTooLarge: def(GrpcCode.OutOfRange, "etcdserver: too large lease TTL"),
  watchCanceled: def(GrpcCode.Canceled, "etcdserver: watch canceled"),
  memberExist: def(GrpcCode.FailedPrecondition, "etcdserver: member ID already exist"),
  peerURLExist: def(GrpcCode.FailedPrecondition, "etcdserver: Peer URLs already exists"),
  memberNotEnoughStarted: def(
    GrpcCode.FailedPrecondition,
    "etcdserver: re-configuration failed due to not enough started members",
  ),
  memberBadURLs: def(GrpcCode.InvalidArgument, "etcdserver: given member URLs are invalid"),
  memberNotFound: def(GrpcCode.NotFound, "etcdserver: member not found"),
  memberNotLearner: def(
    GrpcCode.FailedPrecondition,
    "etcdserver: can only promote a learner member",
  ),
  learnerNotReady: def(
    GrpcCode.FailedPrecondition,
    "etcdserver: can only promote a learner member which is in sync with leader",
  ),
  tooManyLearners: def(
    GrpcCode.FailedPrecondition,
    "etcdserver: too many learner members in cluster",
  ),
  requestTooLarge: def(GrpcCode.InvalidArgument, "etcdserver: request is too large"),
  requestTooManyRequests: def(GrpcCode.ResourceExhausted, "etcdserver: too many requests"),
  rootUserNotExist: def(GrpcCode.FailedPrecondition, "etcdserver: root user does not exist"),
  rootRoleNotExist: def(
    GrpcCode.FailedPrecondition,
    "etcdserver: root user does not have root role",
  ),
  userAlreadyExist: def(GrpcCode.FailedPrecondition, "etcdserver: user name already exists"),
  userEmpty: def(GrpcCode.InvalidArgument, "etcdserver: user name is empty"),
  userNotFound: def(GrpcCode.FailedPrecondition, "etcdserver: user name not found"),
  roleAlreadyExist: def(GrpcCode.FailedPrecondition, "etcdserver: role name already exists"),
  roleNotFound: def(GrpcCode.FailedPrecondition, "etcdserver: role name not found"),
  roleEmpty: def(GrpcCode.InvalidArgument, "etcdserver: role name is empty"),
  authFailed: def(
    GrpcCode.InvalidArgument,
    "etcdserver: authentication failed, invalid user ID or password",
  ),
  permissionDenied: def(GrpcCode.PermissionDenied, "etcdserver: permission denied"),
  roleNotGranted: def(GrpcCode.FailedPrecondition, "etcdserver: role is not granted to the user"),
  permissionNotGranted: def(
    GrpcCode.FailedPrecondition,
    "etcdserver: permission is not granted to the role",
  ),
  authNotEnabled: def(GrpcCode.FailedPrecondition, "etcdserver: authentication is not enabled"),
  invalidAuthToken: def(GrpcCode.Unauthenticated, "etcdserver: invalid auth token"),
  invalidAuthMgmt: def(GrpcCode.InvalidArgument, "etcdserver: invalid auth management"),
  authOldRevision: def(GrpcCode.InvalidArgument, "etcdserver: revision of auth store is old"),
  noLeader: def(GrpcCode.Unavailable, "etcdserver: no leader"),
  notLeader: def(GrpcCode.FailedPrecondition, "etcdserver: not leader"),
  leaderChanged: def(GrpcCode.Unavailable, "etcdserver: leader changed"),
  notCapable: def(GrpcCode.Unavailable, "etcdserver: not capable"),
  stopped: def(GrpcCode.Unavailable, "etcdserver: server stopped"),
  timeout: def(GrpcCode.Unavailable, "etcdserver: request timed out"),
  timeoutDueToLeaderFail: def(
    GrpcCode.Unavailable,
    "etcdserver: request timed out, possibly due to previous leader failure",
  ),
  timeoutDueToConnectionLost: def(
    GrpcCode.Unavailable,
    "etcdserver: request timed out, possibly due to connection lost",
  ),
  timeoutWaitAppliedIndex: def(
    GrpcCode.Unavailable,
    "etcdserver: request timed out, waiting for the applied index took too long",
  ),
  unhealthy: def(GrpcCode.Unavailable, "etcdserver: unhealthy cluster"),
  corrupt: def(GrpcCode.DataLoss, "etcdserver: corrupt cluster"),
  notSupportedForLearner: def(GrpcCode.Unavailable, "etcdserver: rpc not supported for learner"),
  badLeaderTransferee: def(GrpcCode.FailedPrecondition, "etcdserver: bad leader transferee"),
  // etcd's v3election server answers with clientv3/concurrency's plain Go errors, which gRPC
  // sends as Unknown (checked against etcd 3.4)
  electionNotLeader: def(GrpcCode.Unknown, "election: not leader"),
  electionNoLeader: def(GrpcCode.Unknown, "election: no leader"),
  electionMissingLeaderKey: def(GrpcCode.Unknown, '"leader" field must be provided'),
} as const;
