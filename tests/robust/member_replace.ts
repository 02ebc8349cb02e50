/**
 * A membership change in a real-process run, as tests/sim's membership workload makes them:
 * a member (the leader too) is removed from the cluster, its process killed and its data dir
 * wiped, then it is added back as a learner at the same peer URL (the proxy's port for its
 * index, so the peer proxy routes the new member as it did the old), started with a fresh
 * data dir and `--initial-cluster-state existing`, and promoted once the leader finds it in
 * sync. Refusals and lost answers are part of the game: each step reads the membership to
 * see what happened, and retries until done (60 s each at most).
 */
import type { Client } from "../../lib/client/mod.ts";
import type { Member } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { ProcessCluster } from "../cluster/processes.ts";

const STEP_MS = 60_000;

/** Retries `f` until it returns a value (not undefined) or the step's deadline passes. */
async function until<T>(what: string, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + STEP_MS;
  let last: unknown = "no answer";
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what} did not happen in ${STEP_MS} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/**
 * Replaces member `i` (advertised at `peerUrl`) by a fresh one; returns what happened, for
 * the run's log.
 */
export async function replaceMember(
  c: ProcessCluster,
  admin: Client,
  i: number,
  peerUrl: string,
): Promise<string> {
  const list = async () => (await admin.cluster.list({ timeoutMs: 2000 })).members;
  const at = (ms: Member[]) => ms.find((m) => m.peerURLs.includes(peerUrl));
  const old = await until("finding the member", async () => at(await list()));
  let refused = 0;
  const why = new Set<string>();
  const note = (err: unknown) =>
    why.add((err instanceof Error ? err.message : String(err)).slice(0, 60));
  await until("the removal", async () => {
    const now = at(await list());
    if (now === undefined || now.ID !== old.ID) return true;
    try {
      await admin.cluster.remove(old.ID, { timeoutMs: 3000 });
    } catch (err) {
      refused++;
      note(err);
      throw err;
    }
    return undefined; // listed again next round
  });
  await c.signal(i, "SIGKILL");
  await Deno.remove(`${c.dir}/${c.members[i].name}`, { recursive: true }).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
  const learner = await until("the learner's add", async () => {
    const now = at(await list());
    // added (maybe by an add whose answer was lost); the old one: a member behind answered
    if (now !== undefined) return now.ID === old.ID ? undefined : now;
    await admin.cluster.add([peerUrl], { isLearner: true, timeoutMs: 3000 });
    return undefined;
  });
  const members = await until("a list with the learner", async () => {
    const l = await list();
    return l.some((m) => m.ID === learner.ID) ? l : undefined;
  });
  const initial = members.flatMap((m) =>
    m.peerURLs.map((u) => `${m.ID === learner.ID ? c.members[i].name : m.name}=${u}`)
  ).join(",");
  c.spawn(i, [`--initial-cluster=${initial}`, "--initial-cluster-state=existing"]);
  let notReady = 0;
  await until("the promotion", async () => {
    const now = at(await list());
    if (now !== undefined && now.ID === learner.ID && !now.isLearner) return true;
    try {
      await admin.cluster.promote(learner.ID, { timeoutMs: 3000 });
    } catch (err) {
      notReady++;
      note(err);
      throw err;
    }
    return undefined;
  });
  await c.waitHealthy(i, STEP_MS);
  return ` (id ${old.ID.toString(16)} -> ${learner.ID.toString(16)}, ${refused} removals and ` +
    `${notReady} promotions refused or lost${why.size > 0 ? `: ${[...why].join("; ")}` : ""})`;
}
