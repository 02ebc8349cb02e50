/**
 * A leader hands leadership over before it goes, as etcd's Stop does (TransferLeadership):
 * on SIGTERM a leading `concord serve` moves leadership to a connected voter before it stops,
 * and says so; the others then serve with that member as leader. A leader removed from the
 * cluster hands over too (raft tells a voter with its whole log to campaign at once).
 */
import assert from "node:assert/strict";
import { etcdctl, ProcessCluster } from "./processes.ts";

interface Status {
  Endpoint: string;
  Status: { header: { member_id: number; raft_term: number }; leader: number };
}

/** `endpoint status` of the given endpoints, read as JSON (ids as decimal text). */
async function status(endpoints: string): Promise<{ id: string; leader: string; term: number }[]> {
  const r = await etcdctl(endpoints, "endpoint", "status", "-w", "json");
  assert.equal(r.code, 0, r.stderr.trim().split("\n").pop() ?? "");
  // ids exceed 2^53: read them as text
  const text = r.stdout.replace(/"(member_id|leader)":(\d+)/g, '"$1":"$2"');
  return (JSON.parse(text) as Status[]).map((s) => ({
    id: String(s.Status.header.member_id),
    leader: String(s.Status.leader),
    term: s.Status.header.raft_term,
  }));
}

/** Waits until every given endpoint names one leader among them; returns its index. */
async function agreedLeader(c: ProcessCluster, among: number[]): Promise<number> {
  const endpoints = among.map((i) => c.members[i].clientUrl).join(",");
  const deadline = Date.now() + 20_000;
  for (;;) {
    const st = await status(endpoints).catch(() => []);
    if (st.length === among.length && st.every((s) => s.leader === st[0].leader)) {
      const at = st.findIndex((s) => s.id === st[0].leader);
      if (at >= 0) return among[at];
    }
    if (Date.now() > deadline) throw new Error(`no agreed leader among ${endpoints}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test("SIGTERM on the leader: it hands leadership to a peer before stopping", async () => {
  const c = await ProcessCluster.start("concord", 3);
  try {
    const all = [0, 1, 2];
    const old = await agreedLeader(c, all);
    // peers count as connected after a moment; the put makes sure the streams carry traffic
    assert.equal((await etcdctl(c.endpoints, "put", "k", "v")).code, 0);
    await c.signal(old, "SIGTERM");
    const log = await c.members[old].logs.at(-1)!;
    const m = /"msg":"leadership transfer finished".*"new-leader-member-id":"([0-9a-f]+)"/.exec(
      log,
    );
    assert.ok(m !== null, `the stopping leader says it handed over:\n${log}`);
    const rest = all.filter((i) => i !== old);
    const now = await agreedLeader(c, rest);
    const st = await status(c.members[now].clientUrl);
    assert.equal(BigInt(st[0].id).toString(16), m[1], "the member it named leads");
    const put = await etcdctl(c.members[rest[0]].clientUrl, "put", "after", "1");
    assert.equal(put.code, 0, put.stderr);
  } finally {
    await c.stop();
  }
});
