/**
 * `concord serve`'s fault points from the environment: CONCORD_FAILPOINTS holds etcd's
 * GOFAIL_FAILPOINTS terms (lib/base/failpoint_terms.ts), so a test of real processes can make
 * a member die exactly at one of etcd's failpoints (`raftBeforeSave=panic`), wait at one
 * (`raftBeforeLeaderSend=10*sleep(200)`) or fail a defrag (`defragOpenFileError=return("x")`).
 * Unset (or empty), the member gets no fault points at all and pays nothing.
 */
import type { FaultPoint, FaultPoints } from "../base/fault_points.ts";
import {
  describeFailpoints,
  type FailpointFired,
  parseFailpoints,
  TermFaultPoints,
} from "../base/failpoint_terms.ts";

/** The variable's name (etcd's is GOFAIL_FAILPOINTS). */
export const FAILPOINTS_ENV = "CONCORD_FAILPOINTS";

/** What the member's points do besides the terms: the process's log and its end. */
export interface ServeFailpointHooks {
  /** A sleep or an error ran (a panic writes its own line first). */
  fired(f: FailpointFired): void;
}

/**
 * The member's fault points from `env` (undefined when the variable is unset or empty), and
 * the armed terms in etcd's form for the startup log. Throws FailpointSpecError on a term or
 * a name it cannot run.
 */
export function failpointsFromEnv(
  env: Readonly<Record<string, string>>,
  hooks: ServeFailpointHooks,
): { faults: FaultPoints; armed: string } | undefined {
  const value = env[FAILPOINTS_ENV];
  if (value === undefined || value.trim() === "") return undefined;
  const terms = parseFailpoints(value);
  if (terms.size === 0) return undefined;
  const faults = new TermFaultPoints(terms, { die: panicAt, fired: (f) => hooks.fired(f) });
  return { faults, armed: describeFailpoints(terms) };
}

/**
 * `panic`: one line on stderr, written synchronously, then SIGKILL to this process: nothing
 * after the point runs (no flush, no close, no unload handler), as under kill -9. (Go's panic
 * exits 2 after unwinding deferred calls; etcd's points sit where no deferred call writes.)
 */
function panicAt(point: FaultPoint): never {
  Deno.stderr.writeSync(new TextEncoder().encode(`panic: failpoint panic: ${point}\n`));
  Deno.kill(Deno.pid, "SIGKILL");
  throw new Error(`failpoint ${point}: SIGKILL did not end the process`);
}
