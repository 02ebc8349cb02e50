/**
 * etcd's etcd_network_* peer families over the real HTTP/2 transport between members in one
 * process: each event made to happen (a stream up, garbage on it, a peer killed, a snapshot
 * sent, held, refused or corrupted) and its count read from what /metrics renders. The
 * families' names, types, help texts, labels and buckets are etcd's (rafthttp/metrics.go of
 * v3.4.23 and v3.5.33, which agree).
 */
import assert from "node:assert/strict";
import type { MemberId } from "../../lib/base/types.ts";
import type { HttpServer } from "../../lib/http/server.ts";
import { MetricsRegistry } from "../../lib/api/metrics.ts";
import { registerPeerMetrics, registerPeerObservers } from "../../lib/api/peer_metrics.ts";
import { encodeFrames, framePrefix } from "../../lib/transport/frames.ts";
import { HttpTransport } from "../../lib/transport/http_transport.ts";
import type { Message } from "../../lib/raft/mod.ts";
import type { SnapshotPayload } from "../../lib/transport/transport.ts";
import { connectAll, FAST, stopAll, type TestMember, waitFor } from "../transport/http_cluster.ts";
import { msg, RecordingHost, snapMsg } from "../transport/recording_host.ts";
import { parseFamilies, sample } from "./prom_text.ts";
import { ETCD_PEER_FAMILIES } from "./etcd_families.ts";

const CID = 0x5eedn;

/** A host whose snapshot receives wait for `release()` while `held`. */
class HoldingHost extends RecordingHost {
  held = false;
  #release: (() => void)[] = [];
  release(): void {
    this.held = false;
    for (const r of this.#release.splice(0)) r();
  }
  override async receiveSnapshot(m: Message, db: SnapshotPayload): Promise<void> {
    if (this.held) await new Promise<void>((r) => this.#release.push(r));
    await super.receiveSnapshot(m, db);
  }
}

interface Metered extends TestMember {
  host: HoldingHost;
  /** What this member's /metrics shows of the peer families now. */
  scrape(): string;
}

async function startMetered(id: MemberId): Promise<Metered> {
  const host = new HoldingHost(id, CID);
  const registry = new MetricsRegistry();
  const logs: string[] = [];
  const transport = new HttpTransport({
    ...FAST,
    host,
    log: (l) => logs.push(l),
    ...registerPeerObservers(registry),
  });
  registry.onCollect(registerPeerMetrics(registry, { id, transport }));
  const server: HttpServer = await transport.serve({ limits: { drainTimeoutMs: 500 } });
  const url = `http://127.0.0.1:${server.port}`;
  return { id, host, transport, server, url, logs, scrape: () => registry.render() };
}

/**
 * The value of `series` in `text`; 0 when absent (a labelled counter's series appears at its
 * first count, as etcd's do).
 */
function value(text: string, series: string): number {
  return sample(text, series) ?? 0;
}

/** Waits (bounded) until the series shows `want` (or passes `want` as a predicate). */
async function until(
  m: Metered,
  series: string,
  want: number | ((v: number | undefined) => boolean),
): Promise<void> {
  const ok = typeof want === "number" ? (v: number | undefined) => (v ?? 0) === want : want;
  const deadline = Date.now() + 5000;
  for (;;) {
    const v = sample(m.scrape(), series);
    if (ok(v)) return;
    if (Date.now() > deadline) {
      throw new Error(`member ${m.id}: ${series} is ${v}, waited for ${want}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("peer metrics: streams up, bytes, garbage from a peer, a peer killed and back", async () => {
  const [a, b] = await Promise.all([startMetered(1n), startMetered(2n)]);
  const ms = [a, b];
  try {
    connectAll(ms);
    await until(a, 'etcd_network_active_peers{Local="1",Remote="2"}', 1);
    await until(b, 'etcd_network_active_peers{Local="2",Remote="1"}', 1);
    a.transport.send([msg(1n, 2n, 1), msg(1n, 2n, 2)]);
    await waitFor(() => b.host.received.length === 2, "two messages");
    const framed = encodeFrames([msg(1n, 2n, 1), msg(1n, 2n, 2)]).length;
    await until(a, 'etcd_network_peer_sent_bytes_total{To="2"}', framed);
    await until(b, 'etcd_network_peer_received_bytes_total{From="1"}', framed);
    let text = a.scrape();
    assert.equal(value(text, 'etcd_network_disconnected_peers_total{Local="1",Remote="2"}'), 0);
    assert.equal(value(text, 'etcd_network_peer_received_failures_total{From="2"}'), 0);

    // garbage on a stream "from 1": b counts a receive failure from 1 (and only that)
    const res = await fetch(`${b.url}/raft/stream`, {
      method: "POST",
      headers: {
        "x-etcd-cluster-id": CID.toString(16),
        "x-server-from": "1",
        "x-raft-to": "2",
      },
      body: new Blob([new Uint8Array(framePrefix(0x7fffffff))]),
    });
    await assert.rejects(res.text());
    await until(b, 'etcd_network_peer_received_failures_total{From="1"}', 1);
    assert.equal(value(b.scrape(), 'etcd_network_active_peers{Local="2",Remote="1"}'), 1);

    // b killed: a's stream to it breaks (a disconnection), b's stream to a breaks (a receive
    // failure at a)
    const port = b.server!.port;
    await b.transport.close();
    await b.server!.close();
    await until(a, 'etcd_network_active_peers{Local="1",Remote="2"}', 0);
    await until(a, 'etcd_network_disconnected_peers_total{Local="1",Remote="2"}', 1);
    await until(a, 'etcd_network_peer_received_failures_total{From="2"}', 1);
    // while b is down a's dials fail, but as in etcd's rafthttp a send failure is a message
    // that did not reach the peer: no message, no send failure, however many dials failed
    const dials = a.transport.stats()[0].failures;
    await waitFor(() => a.transport.stats()[0].failures >= dials + 2, "two more failed dials");
    assert.equal(value(a.scrape(), 'etcd_network_peer_sent_failures_total{To="2"}'), 0);
    // each message sent to the peer while it is down is one
    a.transport.send([msg(1n, 2n, 3), msg(1n, 2n, 4), msg(1n, 2n, 5)]);
    await until(a, 'etcd_network_peer_sent_failures_total{To="2"}', 3);

    // b back on the same port: active again, still one disconnection
    const b2 = new HttpTransport({ ...FAST, host: b.host, log: () => {} });
    const s2 = await b2.serve({ port, limits: { drainTimeoutMs: 500 } });
    ms[1] = { ...b, transport: b2, server: s2 };
    b2.addPeer({ id: 1n, urls: [a.url] });
    await until(a, 'etcd_network_active_peers{Local="1",Remote="2"}', 1);
    text = a.scrape();
    assert.equal(value(text, 'etcd_network_disconnected_peers_total{Local="1",Remote="2"}'), 1);
  } finally {
    await stopAll(ms);
  }
});

Deno.test("peer metrics: a snapshot sent, held in flight, stored; then refused; then corrupted", async () => {
  const [a, b] = await Promise.all([startMetered(1n), startMetered(2n)]);
  try {
    connectAll([a, b]);
    await until(a, 'etcd_network_active_peers{Local="1",Remote="2"}', 1);
    a.host.snapshotFile = new Uint8Array(256 * 1024).fill(7);

    // held by the receiver: in flight on both sides
    b.host.held = true;
    a.transport.send([snapMsg(1n, 2n, 5)]);
    await until(a, 'etcd_network_snapshot_send_inflights_total{To="2"}', 1);
    await until(b, 'etcd_network_snapshot_receive_inflights_total{From="1"}', 1);
    b.host.release();
    await waitFor(() => a.host.snapshotReports.length === 1, "the snapshot's report");
    assert.deepEqual(a.host.snapshotReports, [{ to: 2n, ok: true }]);
    let sa = a.scrape();
    let sb = b.scrape();
    assert.equal(value(sa, 'etcd_network_snapshot_send_inflights_total{To="2"}'), 0);
    assert.equal(value(sa, 'etcd_network_snapshot_send_success{To="2"}'), 1);
    assert.equal(value(sa, 'etcd_network_snapshot_send_failures{To="2"}'), 0);
    assert.equal(value(sa, 'etcd_network_peer_sent_failures_total{To="2"}'), 0);
    assert.equal(value(sa, 'etcd_network_snapshot_send_total_duration_seconds_count{To="2"}'), 1);
    assert.equal(value(sb, 'etcd_network_snapshot_receive_inflights_total{From="1"}'), 0);
    assert.equal(value(sb, 'etcd_network_snapshot_receive_success{From="1"}'), 1);
    assert.equal(value(sb, 'etcd_network_snapshot_receive_failures{From="1"}'), 0);
    // the page file's bytes count as bytes sent and received, as etcd's
    const file = a.host.snapshotFile.length;
    assert.ok(value(sa, 'etcd_network_peer_sent_bytes_total{To="2"}') >= file);
    assert.ok(value(sb, 'etcd_network_peer_received_bytes_total{From="1"}') >= file);
    assert.equal(
      value(sb, 'etcd_network_snapshot_receive_total_duration_seconds_count{From="1"}'),
      1,
    );

    // refused by the receiver's store: a failure on both sides, no duration observed
    b.host.refuseSnapshots = "no space left on device";
    a.transport.send([snapMsg(1n, 2n, 6)]);
    await waitFor(() => a.host.snapshotReports.length === 2, "the second report");
    assert.deepEqual(a.host.snapshotReports[1], { to: 2n, ok: false });
    sa = a.scrape();
    sb = b.scrape();
    assert.equal(value(sa, 'etcd_network_snapshot_send_failures{To="2"}'), 1);
    // a failed snapshot is a send failure too (etcd's snapshot_sender.go counts both)
    assert.equal(value(sa, 'etcd_network_peer_sent_failures_total{To="2"}'), 1);
    assert.equal(value(sa, 'etcd_network_snapshot_send_success{To="2"}'), 1);
    assert.equal(value(sa, 'etcd_network_snapshot_send_total_duration_seconds_count{To="2"}'), 1);
    assert.equal(value(sb, 'etcd_network_snapshot_receive_failures{From="1"}'), 1);
    // the store refused it; nothing unreadable came from the peer
    assert.equal(value(sb, 'etcd_network_peer_received_failures_total{From="1"}'), 0);

    // a body that is not a snapshot message: a receive failure and a snapshot receive failure
    b.host.refuseSnapshots = "";
    const res = await fetch(`${b.url}/raft/snapshot`, {
      method: "POST",
      headers: {
        "x-etcd-cluster-id": CID.toString(16),
        "x-server-from": "1",
        "x-raft-to": "2",
        "x-snapshot-size": "10",
      },
      body: new Blob([new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3])]),
    });
    assert.equal(res.status, 400);
    await res.text();
    sb = b.scrape();
    assert.equal(value(sb, 'etcd_network_snapshot_receive_failures{From="1"}'), 2);
    assert.equal(value(sb, 'etcd_network_peer_received_failures_total{From="1"}'), 1);
    assert.equal(value(sb, 'etcd_network_snapshot_receive_success{From="1"}'), 1);
  } finally {
    await stopAll([a, b]);
  }
});

Deno.test("peer metrics: the families are etcd's (type, help, labels, buckets)", async () => {
  const [a, b] = await Promise.all([startMetered(1n), startMetered(2n)]);
  try {
    connectAll([a, b]);
    await until(a, 'etcd_network_active_peers{Local="1",Remote="2"}', 1);
    // every event once: a message, a snapshot stored and one refused, garbage, b killed
    a.transport.send([msg(1n, 2n, 1)]);
    a.host.snapshotFile = new Uint8Array(1024);
    a.transport.send([snapMsg(1n, 2n, 5)]);
    await waitFor(() => a.host.snapshotReports.length === 1, "the snapshot's report");
    b.host.refuseSnapshots = "refused";
    a.transport.send([snapMsg(1n, 2n, 6)]);
    await waitFor(() => a.host.snapshotReports.length === 2, "the second report");
    await until(a, 'etcd_network_peer_round_trip_time_seconds_count{To="2"}', (v) => v === 1);
    const fb = parseFamilies(b.scrape());
    await b.transport.close();
    await b.server!.close();
    await until(a, 'etcd_network_disconnected_peers_total{Local="1",Remote="2"}', 1);
    await until(a, 'etcd_network_peer_received_failures_total{From="2"}', 1);
    const fa = parseFamilies(a.scrape());
    const problems: string[] = [];
    for (const [name, [type, help, labels, buckets]] of Object.entries(ETCD_PEER_FAMILIES)) {
      const f = (fa.get(name)?.samples ?? 0) > 0 ? fa.get(name) : fb.get(name);
      if (f === undefined || f.samples === 0) {
        problems.push(`${name}: no series`);
        continue;
      }
      if (f.type !== type) problems.push(`${name}: type ${f.type}`);
      if (f.help !== help) problems.push(`${name}: help ${f.help}`);
      if (f.labels.join(",") !== labels.join(",")) problems.push(`${name}: labels ${f.labels}`);
      if (f.buckets.join(" ") !== (buckets ?? "")) problems.push(`${name}: buckets ${f.buckets}`);
    }
    assert.deepEqual(problems, []);
    const ours = [...fa.keys()].filter((n) => n.startsWith("etcd_network_")).sort();
    assert.deepEqual(ours, Object.keys(ETCD_PEER_FAMILIES).sort());
  } finally {
    await stopAll([a, b]);
  }
});
