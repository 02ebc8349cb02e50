/**
 * The faults of a real-process run, drawn from the run's seed: kill -9 and restart, SIGSTOP
 * then SIGCONT past the election timeout, a member isolated by the peer proxy (its bytes held,
 * or dropped), a one-way partition, slow links, and a cut of the connections between two
 * members, and a membership change (a member removed, added back as a learner with a fresh data
 * dir, promoted: `member_replace.ts`), and a NOSPACE alarm raised by a member restarted past
 * its quota, held, then disarmed (`quota_alarm.ts`). One fault at a time, each healed (and its member healthy again) before the next,
 * so at most one member of three — a minority — is ever down. The list of faults replays from
 * the seed; their timing against the clients' operations does not (real processes, a real
 * clock and a shared machine), and "the leader" is whoever leads when the fault comes.
 */
import { Rand } from "../../lib/base/rand.ts";
import type { ProcessCluster } from "../cluster/processes.ts";
import type { PeerProxy } from "./peer_proxy.ts";

/** Whom a fault hits: a member by index, or whoever leads at the time. */
export type Target = number | "leader";

export type Fault =
  | { kind: "kill"; target: Target; downMs: number }
  | { kind: "stop"; target: Target; ms: number }
  | { kind: "isolate"; target: Target; ms: number; drop: boolean }
  | { kind: "one-way"; target: Target; ms: number; inbound: boolean }
  | { kind: "slow"; target: Target; ms: number; delayMs: number }
  | { kind: "cut"; a: number; b: number; ms: number }
  | { kind: "replace"; target: Target; ms: number; delayMs: number }
  | { kind: "nospace"; target: Target; ms: number };

/** A fault and the quiet time before it. */
export interface Step {
  gapMs: number;
  fault: Fault;
}

/** What a plan draws besides the network and process faults. */
export interface PlanOptions {
  /** The share of steps that replace a member (default 0.08). */
  replaceShare?: number;
  /** The first step replaces a member (a short run still has one). */
  replaceFirst?: boolean;
  /** The share of steps that raise NOSPACE (default 0.05). */
  nospaceShare?: number;
}

/** The run's faults from its seed, enough to fill `seconds` (the run stops at its deadline). */
export function planFaults(
  seed: number,
  seconds: number,
  members = 3,
  opts: PlanOptions = {},
): Step[] {
  const r = new Rand(seed);
  const steps: Step[] = [];
  const target = (): Target => r.chance(0.4) ? "leader" : r.int(members);
  for (let t = 0; t < seconds * 1000;) {
    const gapMs = r.range(500, 2000);
    const replace = r.chance(opts.replaceShare ?? 0.08) ||
      (opts.replaceFirst === true && steps.length === 0);
    const nospace = !replace && r.chance(opts.nospaceShare ?? 0.05);
    const p = r.float();
    // a replacement takes a process start and a catch-up: counted as 8 s
    const fault: Fault = replace
      ? {
        kind: "replace",
        target: target(),
        ms: 8000,
        delayMs: r.chance(0.5) ? r.range(20, 200) : 0,
      }
      : nospace
      ? { kind: "nospace", target: target(), ms: r.range(1000, 3000) }
      : p < 0.25
      ? { kind: "kill", target: target(), downMs: r.range(300, 2500) }
      : p < 0.45
      ? { kind: "stop", target: target(), ms: r.range(1500, 3000) }
      : p < 0.65
      ? { kind: "isolate", target: target(), ms: r.range(1500, 3000), drop: r.chance(0.3) }
      : p < 0.75
      ? { kind: "one-way", target: target(), ms: r.range(1500, 3000), inbound: r.chance(0.5) }
      : p < 0.9
      ? { kind: "slow", target: target(), ms: r.range(1000, 3000), delayMs: r.range(20, 300) }
      : (() => {
        const a = r.int(members);
        return { kind: "cut" as const, a, b: (a + 1 + r.int(members - 1)) % members, ms: 1000 };
      })();
    steps.push({ gapMs, fault });
    t += gapMs + ("downMs" in fault ? fault.downMs : fault.ms);
  }
  return steps;
}

/** One line for the run's log. */
export function describeFault(f: Fault): string {
  const who = (t: Target) => t === "leader" ? "the leader" : `m${t + 1}`;
  switch (f.kind) {
    case "kill":
      return `kill -9 ${who(f.target)}, restart after ${f.downMs} ms`;
    case "stop":
      return `SIGSTOP ${who(f.target)} for ${f.ms} ms`;
    case "isolate":
      return `isolate ${who(f.target)} (${f.drop ? "drop" : "blackhole"}) for ${f.ms} ms`;
    case "one-way":
      return `${who(f.target)} ${f.inbound ? "hears nothing" : "is heard by none"} for ${f.ms} ms`;
    case "slow":
      return `${who(f.target)}'s links delayed ${f.delayMs} ms for ${f.ms} ms`;
    case "cut":
      return `cut m${f.a + 1}-m${f.b + 1} for ${f.ms} ms`;
    case "replace":
      return `remove ${who(f.target)}, add it back as a learner with a fresh data dir, promote` +
        (f.delayMs > 0 ? `, its links delayed ${f.delayMs} ms meanwhile` : "");
    case "nospace":
      return `restart ${who(f.target)} past its quota, NOSPACE held ${f.ms} ms, disarmed`;
  }
}

/** How a run finds the leader now (-1: none known). */
export type LeaderOf = () => Promise<number>;

/** The faults that need a client: each says how it went. */
export interface Actions {
  /** Replaces member m (`member_replace.ts`). */
  replace(m: number): Promise<string>;
  /** Raises NOSPACE through member m, holds it `ms`, disarms it (`quota_alarm.ts`). */
  nospace(m: number, ms: number): Promise<string>;
}

/** Applies one fault, holds it, heals it, and waits until every member is healthy again. */
export async function inject(
  f: Fault,
  c: ProcessCluster,
  proxy: PeerProxy,
  leaderOf: LeaderOf,
  actions: Actions,
): Promise<string> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const resolve = async (t: Target) => {
    if (t !== "leader") return t;
    const l = await leaderOf();
    return l < 0 ? 0 : l;
  };
  let m = -1;
  switch (f.kind) {
    case "kill":
      m = await resolve(f.target);
      await c.signal(m, "SIGKILL");
      await sleep(f.downMs);
      c.spawn(m);
      break;
    case "stop":
      m = await resolve(f.target);
      await c.signal(m, "SIGSTOP");
      await sleep(f.ms);
      await c.signal(m, "SIGCONT");
      break;
    case "isolate":
      m = await resolve(f.target);
      proxy.isolate(m, { kind: f.drop ? "drop" : "blackhole" });
      await sleep(f.ms);
      proxy.heal();
      break;
    case "one-way":
      m = await resolve(f.target);
      for (let o = 0; o < c.members.length; o++) {
        if (o !== m) {
          proxy.set(f.inbound ? o : m, f.inbound ? m : o, { kind: "blackhole" });
        }
      }
      await sleep(f.ms);
      proxy.heal();
      break;
    case "slow":
      m = await resolve(f.target);
      proxy.isolate(m, { kind: "delay", ms: f.delayMs });
      await sleep(f.ms);
      proxy.heal();
      break;
    case "cut":
      proxy.cut(f.a, f.b);
      await sleep(f.ms);
      proxy.heal();
      break;
    case "replace":
    case "nospace": {
      m = await resolve(f.target);
      // the new member catches up over slow links now and then
      if (f.kind === "replace" && f.delayMs > 0) proxy.isolate(m, { kind: "delay", ms: f.delayMs });
      const how = f.kind === "replace" ? await actions.replace(m) : await actions.nospace(m, f.ms);
      proxy.heal();
      await Promise.all(c.members.map((_, i) => c.waitHealthy(i, 60_000)));
      return ` (m${m + 1}${how})`;
    }
  }
  await Promise.all(c.members.map((_, i) => c.waitHealthy(i, 60_000)));
  return m < 0 ? "" : ` (m${m + 1})`;
}
