/**
 * Why the server itself reset a stream whose response it could not deliver: the client is
 * still connected but gave no flow-control window (for longer than the stall timeout), or the
 * connection already holds as much unsent output as it may. A stream's abort signal carries it
 * as its reason, so a handler can tell a response the server gave up on (etcd counts a failed
 * send of a watch or keep-alive response) from a client that went away (a RST_STREAM from it,
 * a lost connection), which etcd does not count.
 */
export class ResponseAbandonedError extends Error {
  override name = "ResponseAbandonedError";
  /** `code` is the HTTP/2 error code of the RST_STREAM sent (CANCEL, ENHANCE_YOUR_CALM). */
  constructor(readonly code: number, why: string) {
    super(`response abandoned: ${why}`);
  }
}
