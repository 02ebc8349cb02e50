/**
 * The peer families on a real cluster of three members in one process (loopback HTTP/2
 * between them, /metrics over HTTP): a follower killed shows as a disconnection and a receive
 * failure at the leader; brought back behind the leader's compacted log, it catches up by a
 * snapshot, which both sides count and time.
 */
import assert from "node:assert/strict";
import { type ConcordServer, startServer } from "../../lib/api/member_server.ts";
import type { ServerConfig } from "../../lib/server/config.ts";
import { formatId } from "../../lib/server/member_id.ts";
import { freePort } from "../support/etcd.ts";
import { testConfig } from "../server/harness.ts";
import { sample } from "./prom_text.ts";

const NAMES = ["a", "b", "c"];

async function scrape(s: ConcordServer): Promise<string> {
  return await (await fetch(`${s.clientUrls[0]}/metrics`)).text();
}

/** Waits (bounded) until `series` on `s`'s /metrics passes `ok` (absent reads as 0). */
async function until(
  s: ConcordServer,
  series: string,
  ok: (v: number) => boolean,
  timeoutMs = 15000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = sample(await scrape(s), series) ?? 0;
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${series} is ${v}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function put(s: ConcordServer, key: string, value: string): Promise<void> {
  const res = await fetch(`${s.clientUrls[0]}/v3/kv/put`, {
    method: "POST",
    body: JSON.stringify({ key: btoa(key), value: btoa(value) }),
  });
  assert.equal(res.status, 200, await res.text());
}

Deno.test("peer metrics on a 3-member cluster: a follower killed, then caught up by a snapshot", async () => {
  const ports = NAMES.map(() => freePort());
  const peer = (i: number) => new URL(`http://127.0.0.1:${ports[i]}`);
  const dirs = await Promise.all(
    NAMES.map(() => Deno.makeTempDir({ prefix: "concord-peermetrics-" })),
  );
  const configs: ServerConfig[] = NAMES.map((name, i) =>
    testConfig(dirs[i], (c) => {
      c.name = name;
      c.listenPeerUrls = [peer(i)];
      c.initialAdvertisePeerUrls = [peer(i)];
      c.initialCluster = new Map(NAMES.map((n, j) => [n, [peer(j)]]));
      c.snapshotCount = 10;
    })
  );
  const start = (i: number) =>
    startServer(configs[i], { log: () => {}, snapshotCatchUpEntries: 3 });
  const servers: (ConcordServer | null)[] = await Promise.all(NAMES.map((_, i) => start(i)));
  try {
    const all = () => servers.filter((s): s is ConcordServer => s !== null);
    await waitFor(() => all().every((s) => s.member.leader !== 0n), "a leader");
    const leader = all().find((s) => s.member.leader === s.member.id)!;
    const fi = servers.findIndex((s) => s !== leader);
    const follower = servers[fi]!;
    const L = formatId(leader.member.id);
    const F = formatId(follower.member.id);
    await until(leader, `etcd_network_active_peers{Local="${L}",Remote="${F}"}`, (v) => v === 1);
    await put(leader, "k0", "v0");
    await waitFor(
      () => follower.member.store.range({ key: "k0", end: undefined }).count === 1,
      "k0",
    );
    let text = await scrape(leader);
    assert.ok((sample(text, `etcd_network_peer_sent_bytes_total{To="${F}"}`) ?? 0) > 0);
    assert.ok((sample(text, `etcd_network_peer_received_bytes_total{From="${F}"}`) ?? 0) > 0);
    assert.equal(
      sample(text, `etcd_network_disconnected_peers_total{Local="${L}",Remote="${F}"}`),
      undefined,
    );
    assert.equal(sample(text, `etcd_network_peer_sent_failures_total{To="${F}"}`), undefined);

    // the follower killed: a disconnection and a broken stream from it at the leader
    await follower.close();
    servers[fi] = null;
    await until(leader, `etcd_network_active_peers{Local="${L}",Remote="${F}"}`, (v) => v === 0);
    await until(
      leader,
      `etcd_network_disconnected_peers_total{Local="${L}",Remote="${F}"}`,
      (v) => v === 1,
    );
    await until(leader, `etcd_network_peer_received_failures_total{From="${F}"}`, (v) => v >= 1);

    // the log moves past what the leader keeps behind its snapshots
    for (let i = 1; i <= 20; i++) await put(leader, `k${i}`, `v${i}`);
    text = await scrape(leader);
    assert.equal(sample(text, `etcd_network_snapshot_send_success{To="${F}"}`), undefined);
    // the leader's messages to it (heartbeats, appends) that could not leave, one each
    const sentFailures = sample(text, `etcd_network_peer_sent_failures_total{To="${F}"}`) ?? 0;
    const toF = leader.member.transport!.stats().find((s) => s.id === follower.member.id)!;
    assert.ok(sentFailures >= 1, "no send failure counted");
    assert.ok(sentFailures <= toF.dropped + toF.snapshotsFailed, `${sentFailures} failures`);

    // back: it catches up by a snapshot, counted and timed on both sides
    const back = await start(fi);
    servers[fi] = back;
    await until(leader, `etcd_network_snapshot_send_success{To="${F}"}`, (v) => v === 1);
    await until(back, `etcd_network_snapshot_receive_success{From="${L}"}`, (v) => v === 1);
    await waitFor(() => back.member.store.range({ key: "k20", end: undefined }).count === 1, "k20");
    text = await scrape(leader);
    assert.equal(
      sample(text, `etcd_network_snapshot_send_total_duration_seconds_count{To="${F}"}`),
      1,
    );
    assert.equal(sample(text, `etcd_network_snapshot_send_inflights_total{To="${F}"}`), 0);
    assert.equal(sample(text, `etcd_network_snapshot_send_failures{To="${F}"}`), undefined);
    await until(leader, `etcd_network_active_peers{Local="${L}",Remote="${F}"}`, (v) => v === 1);
    text = await scrape(back);
    assert.equal(
      sample(text, `etcd_network_snapshot_receive_total_duration_seconds_count{From="${L}"}`),
      1,
    );
    assert.equal(sample(text, `etcd_network_snapshot_receive_inflights_total{From="${L}"}`), 0);
    assert.equal(sample(text, `etcd_network_snapshot_receive_failures{From="${L}"}`), undefined);
  } finally {
    await Promise.all(servers.map((s) => s?.close()));
    await Promise.all(dirs.map((d) => Deno.remove(d, { recursive: true })));
  }
});
