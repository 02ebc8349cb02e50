/**
 * `concord serve`'s fault points from the environment: CONCORD_FAILPOINTS holds etcd's
 * GOFAIL_FAILPOINTS terms (lib/base/failpoint_terms.ts), so a test of real processes can make
 * a member die exactly at one of etcd's failpoints (`raftBeforeSave=panic`), wait at one
 * (`raftBeforeLeaderSend=10*sleep(200)`) or fail a defrag (`defragOpenFileError=return("x")`).
 * CONCORD_FAILPOINTS_HTTP=host:port (gofail's GOFAIL_HTTP) also opens gofail's HTTP endpoint
 * (serve_failpoints_http.ts), so points can be armed and disarmed while the member runs.
 * Both unset (or empty), the member gets no fault points at all and pays nothing.
 */
import type { FaultPoint } from "../base/fault_points.ts";
import {
  type ArmedTerms,
  type FailpointFired,
  FailpointSpecError,
  parseFailpointSpec,
  TermFaultPoints,
} from "../base/failpoint_terms.ts";
import {
  FAILPOINTS_HTTP_ENV,
  type FailpointsHttpAddr,
  parseFailpointsHttpAddr,
} from "./serve_failpoints_http.ts";

/** The variable's name (etcd's is GOFAIL_FAILPOINTS). */
export const FAILPOINTS_ENV = "CONCORD_FAILPOINTS";

/** What the member's points do besides the terms: the process's log and its end. */
export interface ServeFailpointHooks {
  /** A sleep or an error ran (a panic writes its own line first). */
  fired(f: FailpointFired): void;
}

/** The member's fault points, as the environment asked for them. */
export interface ServeFailpoints {
  faults: TermFaultPoints;
  /** The terms armed at start in etcd's form, for the startup log ("" for none). */
  armed: string;
  /** Where gofail's HTTP endpoint is to listen, when CONCORD_FAILPOINTS_HTTP is set. */
  http: FailpointsHttpAddr | undefined;
}

/** `f()`, its FailpointSpecError prefixed with the variable it came from. */
function fromVar<T>(name: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof FailpointSpecError) {
      throw new FailpointSpecError(`${name}: ${err.message}`);
    }
    throw err;
  }
}

/**
 * The member's fault points from `env`: undefined when neither variable is set (or both are
 * empty); points armed at start from CONCORD_FAILPOINTS; an HTTP address from
 * CONCORD_FAILPOINTS_HTTP (the points then exist even with none armed, for the endpoint to
 * arm). Throws FailpointSpecError, naming the variable, on a term, a name or an address it
 * cannot use.
 */
export function failpointsFromEnv(
  env: Readonly<Record<string, string>>,
  hooks: ServeFailpointHooks,
): ServeFailpoints | undefined {
  const value = env[FAILPOINTS_ENV]?.trim() ?? "";
  const httpValue = env[FAILPOINTS_HTTP_ENV]?.trim() ?? "";
  const spec: Map<FaultPoint, ArmedTerms> = value === ""
    ? new Map()
    : fromVar(FAILPOINTS_ENV, () => parseFailpointSpec(value));
  const http = httpValue === ""
    ? undefined
    : fromVar(FAILPOINTS_HTTP_ENV, () => parseFailpointsHttpAddr(httpValue));
  if (spec.size === 0 && http === undefined) return undefined;
  const faults = new TermFaultPoints(new Map(), { die: panicAt, fired: (f) => hooks.fired(f) });
  for (const [point, a] of spec) faults.arm(point, a.terms, a.desc);
  const armed = [...spec].map(([p, a]) => `${p}=${a.desc}`).join(";");
  return { faults, armed, http };
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
