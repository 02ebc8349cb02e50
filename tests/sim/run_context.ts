/**
 * What a workload of a whole-cluster run gets from the run: the cluster, the run's random
 * source, its recorded history, a client's timeout and sleep on the simulated clock, and the
 * API's service implementations over a member (clients go through the same code as gRPC).
 */
import { createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import type { Rand } from "../../lib/base/rand.ts";
import { KV } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { Member } from "../../lib/server/member.ts";
import type { SimCluster } from "../cluster/sim_cluster.ts";
import type { HistoryArchive } from "./history_archive.ts";

/** A call's outcome as a client sees it: a value, an error, or no answer in time. */
export type Outcome<T> = { v: T } | { e: unknown } | "timeout";

export interface RunContext {
  c: SimCluster;
  r: Rand;
  archive: HistoryArchive;
  /** The next position in the run's one order of invocations and responses. */
  tick(): number;
  within<T>(p: Promise<T>): Promise<Outcome<T>>;
  sleep(ms: number): Promise<void>;
  note(line: string): void;
}

/** A random running member and its index, or null when the one picked is down. */
export function pickMember(ctx: RunContext): { m: Member; i: number } | null {
  const i = ctx.r.int(ctx.c.members.length);
  const m = ctx.c.members[i];
  return m === null ? null : { m, i };
}

/** A handler context as the gRPC intake makes it for a call without a token. */
export function apiContext(): HandlerContext {
  return createHandlerContext({
    service: KV,
    method: KV.method.range,
    protocolName: "grpc",
    requestMethod: "POST",
    url: "http://sim/etcdserverpb.KV/Range",
    requestHeader: {},
  });
}

/** A service method's answer as a promise (a method may answer at once or throw at once). */
export function serve<T>(call: () => T | Promise<T>): Promise<T> {
  return new Promise<T>((resolve) => resolve(call()));
}

/** The message of a failure, for records and traces. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Whether `e`, thrown by a read of member `m`'s store, is that member's backend failure. A
 * commit that fails (a full disk) fails the page file at once and the member hears of it a
 * microtask later: a read in between throws the failure, as it should, and the run treats it
 * as a read of a failed member (seeds 21500021 and 22000476: before, it ended the run).
 */
export function isBackendFailure(m: Member, e: unknown): boolean {
  return e !== null && e !== undefined && e === m.backend.failure;
}
