/**
 * Membership changes under load with real processes and the real etcdctl: one member grows
 * to three and then to five (each new member started with the ETCD_* lines `member add`
 * printed) and shrinks back to three (the removed members stop by themselves) while writers
 * put through every member in turn. Afterwards every running member holds every acknowledged write at its revision, and
 * they agree on the hash of the whole store at the same revision.
 */
import assert from "node:assert/strict";
import { freePort } from "../support/etcd.ts";
import { etcdctlSettled, ProcessCluster } from "./processes.ts";
import { checkAcked, converged, Writers } from "./writers.ts";

/** etcdctl, retried until it succeeds (processes.ts). */
const settled = (endpoints: string, ...args: string[]) => etcdctlSettled(endpoints, args);

/** The member ids by name, from `member list -w json` (ids as text: they exceed 2^53). */
async function ids(endpoints: string): Promise<Map<string, string>> {
  const raw = await settled(endpoints, "member", "list", "-w", "json");
  const out = new Map<string, string>();
  for (const m of raw.matchAll(/"ID":(\d+),"name":"([^"]*)"/g)) {
    out.set(m[2], BigInt(m[1]).toString(16));
  }
  return out;
}

Deno.test("membership under writers: 1 -> 3 -> 5 -> 3 members, every acknowledged write kept, hashes equal", async () => {
  const c = await ProcessCluster.start("concord", 1);
  const writers = new Writers(c, 4, "w");
  try {
    await writers.more(100);
    for (const name of ["m2", "m3", "m4", "m5"]) {
      const peer = `http://127.0.0.1:${freePort()}`;
      const running = c.members.filter((m) => m.proc !== null).map((m) => m.clientUrl).join(",");
      const add = await settled(running, "member", "add", name, `--peer-urls=${peer}`);
      const i = c.join(add, peer);
      await c.waitHealthy(i);
      await writers.more(100);
    }
    const five = c.members.map((m) => m.clientUrl).join(",");
    assert.equal((await ids(five)).size, 5);
    // shrink back: remove the two newest, one at a time, as an operator would
    for (const name of ["m5", "m4"]) {
      const id = (await ids(five)).get(name)!;
      await settled(five, "member", "remove", id);
      const i = c.members.findIndex((m) => m.name === name);
      // the removed member stops by itself (etcd's message), then its process is reaped
      let timer: ReturnType<typeof setTimeout> | undefined;
      const outcome = await Promise.race([
        c.members[i].proc!.status.then(() => "exited"),
        new Promise<string>((r) => (timer = setTimeout(() => r("still running"), 20_000))),
      ]);
      clearTimeout(timer);
      assert.equal(outcome, "exited", `${name} stops once removed`);
      await c.signal(i, "SIGKILL");
      await writers.more(100);
    }
    await writers.stop();
    const three = c.members.filter((m) => m.proc !== null);
    assert.deepEqual(three.map((m) => m.name), ["m1", "m2", "m3"]);
    assert.equal((await ids(three.map((m) => m.clientUrl).join(","))).size, 3);
    await converged(c);
    for (let i = 0; i < c.members.length; i++) {
      if (c.members[i].proc !== null) await checkAcked(c, i, writers.acked);
    }
    assert.ok(writers.acked.length >= 500, `${writers.acked.length} writes acknowledged`);
  } finally {
    await writers.stop();
    await c.stop();
  }
});
