/**
 * The console's every-member status (GET /ui/api/members-status): on three members served
 * in one process over the real peer transport, the serving member's answer holds each
 * member's own Status (checked against what each member's own Maintenance.Status says);
 * a stopped member shows as unreachable with its error at once, and a member that accepts
 * connections but never answers shows as timed out within the bound. With auth on, the
 * endpoint asks for a user as etcd's Status does; its refusals are etcd's errors.
 */
import assert from "node:assert/strict";
import { type ConcordServer, startServer } from "../../../lib/api/member_server.ts";
import { MEMBERS_STATUS_PATH } from "../../../lib/api/console/members_status.ts";
import { NOBODY } from "../../../lib/server/caller.ts";
import { MaintenanceServer } from "../../../lib/server/maintenance_server.ts";
import type { MemberStatus } from "../../../lib/server/members_status.ts";
import { startTestServer, testConfig, waitFor } from "../../server/harness.ts";
import { freePort } from "../../support/etcd.ts";
import { Client } from "../../../mod.ts";
import { Errors } from "../../../lib/base/errors.ts";

interface Entry {
  member: { ID: string; name?: string; peerURLs?: string[] };
  status?: Record<string, unknown> & { header?: Record<string, string> };
  error?: { code: number; message: string };
}

async function membersStatus(url: string, token?: string): Promise<[number, unknown]> {
  const res = await fetch(url + MEMBERS_STATUS_PATH, {
    headers: token === undefined ? {} : { Authorization: token },
  });
  return [res.status, await res.json()];
}

/** The figures `endpoint status` shows, as the gateway's JSON names them. */
function figures(s: Record<string, unknown> & { header?: Record<string, string> }) {
  return {
    member: s.header?.member_id,
    cluster: s.header?.cluster_id,
    revision: s.header?.revision,
    term: s.raftTerm,
    index: s.raftIndex,
    applied: s.raftAppliedIndex,
    leader: s.leader,
    dbSize: s.dbSize,
    dbInUse: s.dbSizeInUse,
    version: s.version,
    learner: s.isLearner,
    errors: s.errors,
  };
}

/** Each member's own Status through its gateway (as `etcdctl endpoint status` asks it). */
async function ownStatus(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url + "/v3/maintenance/status", { method: "POST", body: "{}" });
  assert.equal(res.status, 200);
  return await res.json();
}

/** Three members in this process, on free peer ports, each in its own temp dir. */
async function startThree(): Promise<{ servers: ConcordServer[]; dirs: string[] }> {
  const names = ["a", "b", "c"];
  const peers = names.map(() => new URL(`http://127.0.0.1:${freePort()}`));
  const initial = new Map(names.map((n, i) => [n, [peers[i]]]));
  const dirs = await Promise.all(
    names.map(() => Deno.makeTempDir({ prefix: "concord-members-status-" })),
  );
  const servers = await Promise.all(names.map((n, i) =>
    startServer(
      testConfig(dirs[i], (c) => {
        c.name = n;
        c.listenPeerUrls = [peers[i]];
        c.initialAdvertisePeerUrls = [peers[i]];
        c.initialCluster = initial;
        c.heartbeatIntervalMs = 10;
        c.electionTimeoutMs = 100;
      }),
      { log: () => {} },
    )
  ));
  await Promise.all(servers.map((s) => s.member.published));
  return { servers, dirs };
}

Deno.test("members status: every member's own figures; a stopped or silent member's error within the bound", async () => {
  const { servers, dirs } = await startThree();
  const closed = new Set<number>();
  let silent: Deno.Listener | undefined;
  const held: Deno.Conn[] = [];
  try {
    const urls = servers.map((s) => s.clientUrls[0]);
    const put = await fetch(urls[1] + "/v3/kv/put", {
      method: "POST",
      body: JSON.stringify({ key: btoa("k"), value: btoa("v") }),
    });
    assert.equal(put.status, 200);
    await put.body?.cancel();
    const ids = servers.map((s) => s.member.id.toString());

    // once the cluster is quiet, each entry is exactly that member's own Status
    let last = "";
    await waitFor("the fan-out to equal every member's own status", async () => {
      const own = await Promise.all(urls.map(ownStatus));
      const [code, body] = await membersStatus(urls[0]);
      assert.equal(code, 200, JSON.stringify(body));
      const entries = (body as { members: Entry[] }).members;
      assert.deepEqual(entries.map((e) => e.member.ID).sort(), [...ids].sort());
      const fanned = ids.map((id) => {
        const e = entries.find((x) => x.member.ID === id)!;
        assert.equal(e.error, undefined, JSON.stringify(e.error));
        return figures(e.status!);
      });
      const mine = own.map((s) => figures(s as Parameters<typeof figures>[0]));
      for (const f of [...fanned, ...mine]) {
        const { learner: _l, errors: _e, ...shown } = f;
        for (const [k, v] of Object.entries(shown)) assert.notEqual(v, undefined, k);
      }
      last = JSON.stringify({ fanned, mine });
      return JSON.stringify(fanned) === JSON.stringify(mine);
    }).catch((err) => {
      throw new Error(`${err.message}: ${last}`);
    });
    const answer = (await membersStatus(urls[0]))[1] as { members: Entry[] };
    for (const [i, s] of servers.entries()) {
      const e = answer.members.find((x) => x.member.ID === ids[i])!;
      assert.equal(e.member.name, s.member.config.name);
      assert.equal(e.status?.header?.member_id, ids[i]);
      assert.equal(e.status?.leader, servers[0].member.leader.toString());
      assert.match(String(e.status?.dbSize), /^[1-9]\d*$/);
    }

    // member c stopped: refused at once, the others still answer
    const stopped = servers[2].member.id;
    const stoppedPeer = servers[2].member.config.listenPeerUrls[0];
    await servers[2].close();
    closed.add(2);
    const maint = new MaintenanceServer(servers[0].member);
    const t0 = performance.now();
    const down = await maint.membersStatus(NOBODY, 1000);
    const tookDown = performance.now() - t0;
    const c = down.find((x) => x.member.id === stopped)!;
    assert.ok("error" in c, "a stopped member has no status");
    assert.equal(c.error.code, 14, c.error.message);
    assert.ok(tookDown < 1500, `took ${tookDown} ms`);
    for (const x of down.filter((x) => x.member.id !== stopped)) {
      assert.ok("status" in x, `member ${x.member.id.toString(16)} answers`);
      assert.equal(x.status.header?.memberId, x.member.id);
    }
    // through the console's endpoint, as the page sees it
    const [code, body] = await membersStatus(urls[1]);
    assert.equal(code, 200);
    const entry = (body as { members: Entry[] }).members.find((x) => x.member.ID === ids[2])!;
    assert.equal(entry.status, undefined);
    assert.equal(entry.error?.code, 14);
    assert.ok(entry.error!.message.length > 0);

    // something now accepts connections at c's peer URL but never answers: timed out
    silent = Deno.listen({ hostname: "127.0.0.1", port: Number(stoppedPeer.port) });
    const accepting = (async () => {
      for await (const conn of silent) held.push(conn);
    })();
    // (a dial begun before the listener was there may still be refused: ask until it is not)
    let tookHung = 0;
    let h: MemberStatus | undefined;
    await waitFor("the silent member to time out", async () => {
      const t1 = performance.now();
      const hung = await maint.membersStatus(NOBODY, 400);
      tookHung = performance.now() - t1;
      h = hung.find((x) => x.member.id === stopped)!;
      assert.ok("error" in h, "a silent member has no status");
      return h.error.code === 4;
    });
    assert.ok(h !== undefined && "error" in h);
    assert.equal(h.error.message, "no answer within 400 ms");
    assert.ok(tookHung >= 390 && tookHung < 1400, `took ${tookHung} ms`);
    silent.close();
    silent = undefined;
    await accepting.catch(() => {});
  } finally {
    silent?.close();
    for (const c of held) {
      try {
        c.close();
      } catch {
        // already closed by the peer
      }
    }
    for (const [i, s] of servers.entries()) if (!closed.has(i)) await s.close();
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("members status: with auth on, a user is required; refusals are etcd's errors", async () => {
  const s = await startTestServer();
  try {
    await s.ok(["user", "add", "root:rootpw"]);
    await s.ok(["user", "add", "alice:alicepw"]);
    await s.ok(["auth", "enable"]);
    // refusals are answered 200 with etcd's code and message (as gRPC-web's), so the
    // browser logs no failed load for the console's cue to log in
    const [anon, anonBody] = await membersStatus(s.url);
    assert.equal(anon, 200);
    assert.deepEqual(anonBody, { error: { code: 3, message: "etcdserver: user name is empty" } });
    const [bad, badBody] = await membersStatus(s.url, "not-a-token");
    assert.equal(bad, 200);
    assert.deepEqual(badBody, { error: { code: 16, message: "etcdserver: invalid auth token" } });
    const auth = await fetch(s.url + "/v3/auth/authenticate", {
      method: "POST",
      body: JSON.stringify({ name: "alice", password: "alicepw" }),
    });
    const { token } = await auth.json();
    const [ok, okBody] = await membersStatus(s.url, token);
    assert.equal(ok, 200, JSON.stringify(okBody));
    const members = (okBody as { members: Entry[] }).members;
    assert.equal(members.length, 1);
    assert.equal(members[0].status?.header?.member_id, s.server.member.id.toString());
    // the client's getJson (the console's way) carries its user's token, and its refusals
    // are etcd's errors
    const alice = new Client({ endpoints: s.url, username: "alice", password: "alicepw" });
    const nobody = new Client({ endpoints: s.url });
    try {
      const viaClient = await alice.getJson(MEMBERS_STATUS_PATH) as { members: Entry[] };
      assert.equal(viaClient.members[0].member.ID, s.server.member.id.toString());
      await assert.rejects(nobody.getJson(MEMBERS_STATUS_PATH), (e) => Errors.userEmpty.is(e));
    } finally {
      await alice.close();
      await nobody.close();
    }
    // only GET
    const post = await fetch(s.url + MEMBERS_STATUS_PATH, { method: "POST", body: "{}" });
    assert.equal(post.status, 405);
    await post.body?.cancel();
  } finally {
    await s.close();
  }
});
