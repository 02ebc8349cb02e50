/**
 * The disk fault a real-process run can make honestly: a member restarted with a backend
 * quota it is already past (`--quota-backend-bytes=1`), so the next put it receives raises
 * etcd's NOSPACE alarm through raft and every member refuses writes ("database space
 * exceeded") until the alarm is disarmed; held a while, then the member restarted with its
 * usual quota and the alarm disarmed, as an operator does after making room. A real full
 * disk (ENOSPC on the WAL or the backend) and a slow fsync need a filesystem the test can
 * fill or slow (a small tmpfs or a device-mapper delay target, both needing root): the
 * simulation's disk has them, real processes here do not.
 */
import { AlarmType, type Client, Errors } from "../../lib/client/mod.ts";
import type { ProcessCluster } from "../cluster/processes.ts";

const STEP_MS = 60_000;

/** Raises NOSPACE through member `m`, holds it `holdMs`, then clears it; says how it went. */
export async function quotaAlarm(
  c: ProcessCluster,
  admin: Client,
  m: number,
  holdMs: number,
): Promise<string> {
  const endpoint = c.members[m].clientUrl;
  await c.signal(m, "SIGKILL");
  c.spawn(m, ["--quota-backend-bytes=1"]);
  // a put through the member: refused, and the alarm raised (the member may be starting)
  const deadline = Date.now() + STEP_MS;
  let puts = 0;
  for (;;) {
    try {
      puts++;
      await admin.put("k/quota", "never stored", { endpoint, timeoutMs: 2000 });
      throw new Error("a put through a member past its quota was stored");
    } catch (err) {
      if (Errors.noSpace.is(err)) break;
      if (err instanceof Error && err.message.startsWith("a put through")) throw err;
      if (Date.now() > deadline) {
        throw new Error(`m${m + 1} never refused a put past its quota: ${err}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  // the refusal raised the alarm through raft: every member lists it soon
  let raised = 0;
  for (const end = Date.now() + 10_000; raised === 0;) {
    raised = await alarms(admin).then((l) => l.length, () => 0);
    if (raised > 0) break;
    if (Date.now() > end) throw new Error(`m${m + 1} refused a put past its quota, no alarm`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, holdMs));
  // room again: the usual quota, then the alarm disarmed
  await c.signal(m, "SIGKILL");
  c.spawn(m);
  let last: unknown = "still raised";
  for (;;) {
    try {
      const left = await alarms(admin);
      if (left.length === 0) break;
      for (const a of left) await admin.maintenance.disarm(a, { timeoutMs: 2000 });
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline + holdMs) throw new Error(`NOSPACE never disarmed: ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return ` (${puts} puts through it before the refusal; ${raised} NOSPACE alarm raised)`;
}

/** The NOSPACE alarms now. */
async function alarms(admin: Client): Promise<{ memberID: bigint; alarm: AlarmType }[]> {
  const r = await admin.maintenance.alarms({ timeoutMs: 2000 });
  return r.alarms.filter((a) => a.alarm === AlarmType.NOSPACE)
    .map((a) => ({ memberID: a.memberID, alarm: a.alarm }));
}
