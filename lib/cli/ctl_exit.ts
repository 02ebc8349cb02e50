/**
 * etcdctl's exit codes and its way of failing: `Error: <message>` on stderr, then exit with
 * the code. Commands throw `CtlExit`; the dispatcher prints and returns the code, so the
 * whole of `concord ctl` runs in-process (tests call it with captured output).
 */
import { Errors, EtcdError, GrpcCode } from "../base/errors.ts";

/** etcdctl's exit codes (etcdctl/ctlv3/command/error.go). */
export const Exit = {
  Success: 0,
  Error: 1,
  BadConnection: 2,
  /** for txn and watch input */
  InvalidInput: 3,
  /** a valid flag with an unsupported value */
  BadFeature: 4,
  Interrupted: 5,
  IO: 6,
  BadArgs: 128,
} as const;

/** Ends the command with `code`; `message` (when given) is printed as `Error: <message>`. */
export class CtlExit extends Error {
  constructor(readonly code: number, message?: string) {
    super(message ?? "");
    this.name = "CtlExit";
  }
  /** False for an exit that prints nothing (etcdctl's bare os.Exit). */
  get printed(): boolean {
    return this.message !== "";
  }
}

const KNOWN = new Set<string>([
  ...Object.values(Errors).map((d) => d.message),
  "context deadline exceeded",
  "context canceled",
]);

/**
 * The message etcdctl prints for a failed call: clientv3 turns etcd's own errors into their
 * bare message (rpctypes) and leaves any other gRPC status as `rpc error: code = … desc = …`.
 */
export function errorText(err: unknown): string {
  if (err instanceof EtcdError && !KNOWN.has(err.message)) {
    return `rpc error: code = ${GrpcCode[err.code] ?? err.code} desc = ${err.message}`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Throws etcdctl's ExitWithError(code, err). */
export function exitWith(code: number, err: unknown): never {
  throw new CtlExit(code, errorText(err));
}
