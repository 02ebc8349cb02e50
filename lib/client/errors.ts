/**
 * How the client reports failures: every error a call rejects with is an `EtcdError` (from
 * lib/base/errors.ts) carrying the gRPC code and etcd's exact message, so callers test them
 * with the same catalogue the server uses (`Errors.compacted.is(err)`). Failures that never
 * reached a server (no connection, deadline, cancellation) get gRPC's codes and clientv3's
 * wording, with the underlying error as `cause`.
 */
import { ConnectError } from "@connectrpc/connect";
import { Errors, EtcdError, GrpcCode } from "../base/errors.ts";

/**
 * Marks a transport failure that happened before any byte of the request was sent (the
 * connection could not be made), so even a write may be retried on another member.
 */
export class NotSentError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NotSentError";
  }
}

/** True when the request provably never left this process. */
export function wasNotSent(err: unknown): boolean {
  return err instanceof ConnectError && err.cause instanceof NotSentError;
}

/** The client-side error for a call whose deadline passed. */
export function deadlineExceeded(cause?: unknown): EtcdError {
  const e = new EtcdError(GrpcCode.DeadlineExceeded, "context deadline exceeded");
  if (cause !== undefined) e.cause = cause;
  return e;
}

/** The client-side error for a call its caller aborted (or a closed client). */
export function canceled(cause?: unknown): EtcdError {
  const e = new EtcdError(GrpcCode.Canceled, "context canceled");
  if (cause !== undefined) e.cause = cause;
  return e;
}

/** Converts whatever a Connect call threw into an EtcdError (EtcdErrors pass through). */
export function toEtcdError(err: unknown): EtcdError {
  if (err instanceof EtcdError) return err;
  if (err instanceof ConnectError) {
    const e = new EtcdError(err.code as number as GrpcCode, err.rawMessage);
    e.cause = err;
    return e;
  }
  const e = new EtcdError(GrpcCode.Unknown, err instanceof Error ? err.message : String(err));
  e.cause = err;
  return e;
}

/** True for errors that mean "this member cannot serve now; another may" (clientv3's). */
export function isUnavailable(err: EtcdError): boolean {
  return err.code === GrpcCode.Unavailable;
}

/**
 * True when a write failed in a way that proves it was not applied: never sent, refused for
 * want of a leader or as too many requests, or refused by auth before it was proposed.
 */
export function writeNotApplied(err: EtcdError): boolean {
  const c = err.cause;
  if (wasNotSent(c)) return true;
  return Errors.noLeader.is(err) || Errors.requestTooManyRequests.is(err) ||
    Errors.notCapable.is(err) || Errors.notSupportedForLearner.is(err);
}

/** True when a fresh auth token would let the call succeed. */
export function needsNewToken(err: EtcdError): boolean {
  return Errors.invalidAuthToken.is(err) || Errors.authOldRevision.is(err);
}
