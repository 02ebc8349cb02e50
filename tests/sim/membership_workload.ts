/**
 * Membership changes in a whole-cluster run, under the run's faults: a learner is added
 * (member add --learner through any member), started with --initial-cluster-state existing,
 * promoted once the leader finds it in sync (or removed again), and then a voter — any, the
 * leader included — is removed, so the cluster has its size or one voter more at any time
 * and the run's crash budget (a minority of the original size) stays safe. Refusals (unhealthy
 * cluster, learner not in sync, no leader) and lost answers are part of the game: the next
 * step reads the applied membership to see what happened. A removed member stops by itself;
 * the run takes it out of the cluster and never restarts it.
 */
import type { MemberId } from "../../lib/base/types.ts";
import type { Member } from "../../lib/server/member.ts";
import { ConfigError } from "../../lib/server/config.ts";
import { joinMember } from "../cluster/sim_join.ts";
import { errorText, pickMember, type RunContext } from "./run_context.ts";

/** What the run does when a member starts or goes for good. */
export interface MembershipHooks {
  /** A member joined: index `i` in the cluster's arrays. */
  started(i: number, m: Member): void;
  /** Indices of members removed from the cluster (never restarted). */
  removed: Set<number>;
}

export interface MembershipRecord {
  added: number;
  promoted: number;
  removed: number;
  refused: number;
  /**
   * Learners whose start waited for a running member to list them (without the wait, each
   * was harness defect 16: a refused start), refused starts tried again, and learners never
   * started (no running member listed them in time).
   */
  joinWaits: number;
  joinRetries: number;
  notStarted: number;
}

/**
 * The member whose applied membership is the newest: the running member that applied the
 * most (a member cut off by a partition may still list voters removed since, and judging
 * from its view removed one voter too many: seed 200693527 shrank a 3-member cluster to one
 * voter that could not elect itself).
 */
function applied(ctx: RunContext): Member | null {
  let best: Member | null = null;
  for (const m of ctx.c.live) {
    if (m.failure !== null) continue;
    if (best === null || m.appliedIndex > best.appliedIndex) best = m;
  }
  return best;
}

/** Runs `steps` membership steps with pauses between them. */
export async function membershipClient(
  ctx: RunContext,
  hooks: MembershipHooks,
  steps: number,
): Promise<MembershipRecord> {
  const { c, r } = ctx;
  const rec: MembershipRecord = {
    added: 0,
    promoted: 0,
    removed: 0,
    refused: 0,
    joinWaits: 0,
    joinRetries: 0,
    notStarted: 0,
  };
  const size = c.members.length;
  let learner: MemberId | null = null;
  /** A voter whose removal timed out: it may still apply. */
  let unsure: MemberId | null = null;
  for (let k = 0; k < steps; k++) {
    await ctx.sleep(300 + r.int(600));
    const pick = pickMember(ctx);
    const view = applied(ctx);
    if (pick === null || hooks.removed.has(pick.i) || view === null) continue;
    const list = view.membership.list();
    const voters = list.filter((x) => !x.isLearner);
    const learners = list.filter((x) => x.isLearner);
    const via = pick.m;
    if (learners.length > 0) {
      // promote the learner, or now and then remove it again
      learner = learners[0].id;
      const promote = r.chance(0.8) && voters.length === size;
      const what = `${promote ? "promote" : "remove"} learner ${learner.toString(16)}`;
      const got = await ctx.within(
        promote ? via.promoteMember(learner) : via.removeMember(learner),
      );
      ctx.note(`${what} through ${via.config.name}: ${describe(got)}`);
      if (got !== "timeout" && "v" in got) rec[promote ? "promoted" : "removed"]++;
      else if (got !== "timeout") rec.refused++;
    } else if (voters.length > size) {
      // a removal whose answer was lost may still apply: no other voter is removed until the
      // newest view shows it gone (else both could apply and leave too few voters)
      if (unsure !== null && voters.some((x) => x.id === unsure)) continue;
      unsure = null;
      // one voter too many: remove one at random (the leader too)
      const victim = voters[r.int(voters.length)];
      const got = await ctx.within(via.removeMember(victim.id));
      if (got === "timeout") unsure = victim.id;
      ctx.note(
        `remove ${victim.name || victim.id.toString(16)} through ${via.config.name}: ` +
          describe(got),
      );
      if (got !== "timeout" && "v" in got) rec.removed++;
      else if (got !== "timeout") rec.refused++;
    } else if (r.chance(0.5)) {
      const name = `m${c.configs.length + 1}`;
      const got = await ctx.within(via.addMember([`http://${name}.sim:2380`], true));
      ctx.note(`add learner ${name} through ${via.config.name}: ${describe(got)}`);
      if (got === "timeout" || "e" in got) {
        if (got !== "timeout") rec.refused++;
        // an add whose answer was lost may still apply: a learner nobody starts is harmless,
        // and the next step promotes or removes it
        continue;
      }
      rec.added++;
      const m = await startLearner(ctx, name, rec);
      if (m !== null) hooks.started(c.members.length - 1, m);
    }
  }
  return rec;
}

/** How long the operator waits for the members to know an acknowledged learner. */
const JOIN_WAIT_MS = 5000;

/**
 * Starts the learner `name` whose add was acknowledged, as an operator would: the member that
 * answered applied the add, the others may not have yet (and the one that answered may be down
 * by now), while the learner's start asks the running members for the cluster and refuses when
 * none of them lists it ("the cluster has no member with peer URLs ...": harness defect 16, an
 * uncaught refusal that ended a whole sweep). So it waits, on the simulated clock and for at
 * most JOIN_WAIT_MS, until a running member lists it, then starts it, and starts it again
 * (same config, same empty disk) when a refusal still comes within that time. Null when no
 * running member listed it in time: nothing was started, and the next step promotes or
 * removes the learner (as after a lost answer). A refusal past the bound fails the run.
 */
export async function startLearner(
  ctx: RunContext,
  name: string,
  rec: MembershipRecord,
): Promise<Member | null> {
  const { c } = ctx;
  const url = `http://${name}.sim:2380`;
  const listed = () =>
    c.live.some((m) =>
      m.failure === null && m.membership.list().some((x) => x.peerURLs.includes(url))
    );
  const until = c.clock.now() + JOIN_WAIT_MS;
  if (!listed()) {
    rec.joinWaits++;
    ctx.note(`learner ${name}: no running member lists it yet; waiting`);
  }
  while (!listed()) {
    if (c.clock.now() >= until) {
      ctx.note(`learner ${name} not started: no running member lists it`);
      rec.notStarted++;
      return null;
    }
    await ctx.sleep(20);
  }
  try {
    return await joinMember(c, name);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const i = c.configs.length - 1;
    let refusal: ConfigError = err;
    for (;;) {
      rec.joinRetries++;
      ctx.note(`learner ${name} refused to start (${errorText(refusal)}); trying again`);
      await ctx.sleep(100);
      try {
        return await c.startMember(i);
      } catch (again) {
        if (!(again instanceof ConfigError) || c.clock.now() >= until) throw again;
        refusal = again;
      }
    }
  }
}

function describe(o: "timeout" | { v: unknown } | { e: unknown }): string {
  return o === "timeout" ? "timed out" : "e" in o ? `refused: ${errorText(o.e)}` : "ok";
}
