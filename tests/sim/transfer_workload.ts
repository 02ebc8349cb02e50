/**
 * Leader transfers in a whole-cluster run (etcd's MoveLeader), under the run's faults: now and
 * then a client asks a random running member to hand leadership to a random other voter. Only
 * the leader may (a follower refuses with "not leader", as etcd's does), and a transfer the
 * faults get in the way of times out; both are part of the game. What is checked is what
 * the run's checkers check across the transfers: a new leader must not lose an acknowledged
 * write, serve a stale linearizable read, break a watch or end a kept-alive lease early. It
 * draws from its own random source, so the rest of the run's choices stay where they were.
 */
import type { Rand } from "../../lib/base/rand.ts";
import type { Member } from "../../lib/server/member.ts";
import { errorText, type RunContext } from "./run_context.ts";

/** What the transfer client did. */
export interface TransferRecord {
  asked: number;
  moved: number;
  refused: number;
  timedOut: number;
}

/** Runs `steps` transfer attempts with pauses between them. */
export async function transferClient(
  ctx: RunContext,
  rand: Rand,
  steps: number,
): Promise<TransferRecord> {
  const { c } = ctx;
  const rec: TransferRecord = { asked: 0, moved: 0, refused: 0, timedOut: 0 };
  for (let k = 0; k < steps; k++) {
    await ctx.sleep(300 + rand.int(900));
    const up = c.members.filter((m): m is Member => m !== null && m.failure === null);
    if (up.length < 2) continue;
    // mostly through the leader; now and then through a follower (etcd refuses: not leader)
    // (a member that believes it leads, at the highest term: the cluster may not agree yet)
    const leader = up.filter((m) => m.isLeader).sort((a, b) => b.term - a.term)[0];
    const via = leader !== undefined && rand.chance(0.8) ? leader : up[rand.int(up.length)];
    const voters = via.membership.list().filter((x) => !x.isLearner && x.id !== via.id);
    if (voters.length === 0) continue;
    const target = voters[rand.int(voters.length)];
    rec.asked++;
    const name = target.name || target.id.toString(16);
    const got = await ctx.within(via.moveLeader(target.id));
    if (got === "timeout") {
      rec.timedOut++;
      ctx.note(`move leader to ${name} through ${via.config.name}: timed out`);
    } else if ("e" in got) {
      rec.refused++;
      ctx.note(`move leader to ${name} through ${via.config.name}: ${errorText(got.e)}`);
    } else {
      rec.moved++;
      ctx.note(`move leader to ${name} through ${via.config.name}: ok`);
    }
  }
  return rec;
}
