/**
 * Concord's /metrics against etcd's: every family the real etcd 3.4 exports (the committed
 * fixture, taken from its /metrics after the same workload) is exported here with the same
 * type, help text, label names and histogram buckets, except the few listed in NOT_HERE with
 * the reason. Then the values the workload must have produced, which etcd's own output shows.
 */
import assert from "node:assert/strict";
import { type Family, parseFamilies, sample } from "./prom_text.ts";
import { startTestServer, type TestServer } from "../server/harness.ts";
import { ETCD_OTHER_FAMILIES, ETCD_PEER_FAMILIES } from "./etcd_families.ts";

const FIXTURE = new URL("./fixtures/etcd34_metrics.txt", import.meta.url);

/** etcd families with no meaning in Concord, and why. */
function notHere(name: string): string | undefined {
  if (name.startsWith("go_")) {
    return "Go runtime; Deno's V8 heap is under nodejs_* and the version in deno_version_info";
  }
  if (name === "etcd_server_go_version") return "Go version; see deno_version_info";
  if (name.startsWith("etcd_debugging_store_")) return "etcd's v2 store, which Concord lacks";
  if (name.startsWith("etcd_grpc_proxy_")) return "etcd's gRPC proxy, not a member's";
  if (/^etcd_debugging_disk_backend_commit_(rebalance|spill|write)_/.test(name)) {
    return "bbolt's commit phases; the page file's whole commit is backend_commit_duration";
  }
  return undefined;
}

/** The workload the fixture was taken after, through etcdctl 3.4. */
async function workload(t: TestServer): Promise<void> {
  for (let i = 1; i <= 5; i++) await t.ok(["put", `k${i}`, `v${i}`]);
  await t.ok(["get", "--prefix", "k"]);
  await t.ok(["del", "k1"]);
  await t.ok(["compact", "3"]);
  await t.ok(["defrag"]);
  await t.ok(["endpoint", "hashkv"]);
  await t.ok(["lease", "grant", "100"]);
  const snap = `${t.dir}/../${crypto.randomUUID()}.db`;
  try {
    await t.ok(["snapshot", "save", snap]);
  } finally {
    await Deno.remove(snap).catch(() => {});
  }
  assert.equal((await fetch(`${t.url}/health`).then((r) => r.json())).health, "true");
}

/** Waits (bounded) until `ok(text of /metrics)`; returns that text. */
async function scrapeUntil(url: string, ok: (text: string) => boolean): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const text = await (await fetch(`${url}/metrics`)).text();
    if (ok(text) || Date.now() > deadline) return text;
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("/metrics has etcd 3.4's families with their types, help, labels and buckets", async () => {
  const etcd = parseFamilies(await Deno.readTextFile(FIXTURE));
  assert.ok(etcd.size >= 120, `fixture has ${etcd.size} families`);
  const t = await startTestServer((c) => (c.metrics = "extensive"));
  try {
    await workload(t);
    // the compaction finishes in the background
    const text = await scrapeUntil(
      t.url,
      (x) => sample(x, "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_count") === 1,
    );
    const ours = parseFamilies(text);
    const problems: string[] = [];
    let compared = 0;
    for (const want of etcd.values()) {
      if (notHere(want.name) !== undefined) continue;
      const got: Family | undefined = ours.get(want.name);
      if (got === undefined) {
        problems.push(`${want.name}: missing`);
        continue;
      }
      compared++;
      if (got.type !== want.type) {
        problems.push(`${want.name}: type ${got.type}, etcd ${want.type}`);
      }
      if (got.help !== want.help) problems.push(`${want.name}: help "${got.help}"`);
      if (got.labels.join(",") !== want.labels.join(",")) {
        problems.push(`${want.name}: labels [${got.labels}], etcd [${want.labels}]`);
      }
      if (got.buckets.join(" ") !== want.buckets.join(" ")) {
        problems.push(
          `${want.name}: buckets ${got.buckets.join(" ")}, etcd ${want.buckets.join(" ")}`,
        );
      }
    }
    assert.deepEqual(problems, []);
    // all but 41: 27 go_*, etcd_server_go_version, 5 v2 store, 5 gRPC proxy, 3 bbolt phases
    assert.equal(compared, etcd.size - 41, `compared ${compared} of ${etcd.size}`);

    // etcd 3.5's additions (server/storage/wal and mvcc metrics.go of v3.5.33)
    const walWrite = ours.get("etcd_disk_wal_write_duration_seconds");
    assert.equal(walWrite?.type, "histogram");
    assert.equal(walWrite?.help, "The latency distributions of write called by WAL.");
    assert.deepEqual(walWrite?.buckets, etcd.get("etcd_disk_wal_fsync_duration_seconds")?.buckets);
    assert.equal(ours.get("etcd_debugging_mvcc_db_compaction_last")?.type, "gauge");
    assert.ok((sample(text, "etcd_debugging_mvcc_db_compaction_last") ?? 0) > 1.7e9);

    // the families etcd's fixture cannot show (no series on a single etcd member): their
    // type and help here too (labels and buckets are checked where they have series, in
    // peer_metrics_test, stream_failures_test and probes_test)
    for (
      const [name, [type, help]] of Object.entries({
        ...ETCD_PEER_FAMILIES,
        ...ETCD_OTHER_FAMILIES,
      })
    ) {
      assert.deepEqual([ours.get(name)?.type, ours.get(name)?.help], [type, help], name);
    }

    // values etcd shows after the same workload
    const same = [
      "etcd_mvcc_put_total",
      "etcd_debugging_mvcc_put_total",
      "etcd_mvcc_delete_total",
      "etcd_mvcc_txn_total",
      "etcd_debugging_mvcc_total_put_size_in_bytes",
      "etcd_debugging_mvcc_current_revision",
      "etcd_debugging_mvcc_compact_revision",
      "etcd_debugging_mvcc_keys_total",
      "etcd_debugging_lease_granted_total",
      "etcd_debugging_lease_ttl_total_sum",
      "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_count",
      "etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds_count",
      "etcd_mvcc_hash_rev_duration_seconds_count",
      "etcd_disk_backend_defrag_duration_seconds_count",
      "etcd_disk_backend_snapshot_duration_seconds_count",
      "etcd_server_health_success",
      "etcd_server_health_failures",
      "etcd_server_proposals_failed_total",
      "etcd_server_proposals_pending",
      'etcd_server_client_requests_total{type="stream",client_api_version="3.4"}',
    ];
    const fixtureText = await Deno.readTextFile(FIXTURE);
    const etcdValue = (s: string) =>
      sample(
        fixtureText,
        s.replace(
          '{type="stream",client_api_version="3.4"}',
          '{client_api_version="3.4",type="stream"}',
        ),
      );
    for (const s of same) assert.equal(sample(text, s), etcdValue(s), s);
    // fed as they happen: at least one per put
    for (
      const s of [
        "etcd_disk_wal_fsync_duration_seconds_count",
        "etcd_disk_backend_commit_duration_seconds_count",
      ]
    ) {
      assert.ok((sample(text, s) ?? 0) >= 5, `${s} ${sample(text, s)}`);
    }
    assert.ok((sample(text, "etcd_disk_wal_write_bytes_total") ?? 0) > 0);
    assert.ok(
      (sample(text, 'etcd_server_client_requests_total{type="unary",client_api_version="3.4"}') ??
        0) >= 10,
    );
    assert.ok((sample(text, "etcd_network_client_grpc_received_bytes_total") ?? 0) > 0);
    assert.ok((sample(text, "etcd_network_client_grpc_sent_bytes_total") ?? 0) > 0);
    assert.ok((sample(text, "process_cpu_seconds_total") ?? 0) > 0);
    assert.ok((sample(text, "process_open_fds") ?? 0) > 0);
    assert.ok((sample(text, "nodejs_heap_size_used_bytes") ?? 0) > 0);
    // this scrape's own series: the scrape in flight, the ones before it counted
    assert.equal(sample(text, "promhttp_metric_handler_requests_in_flight"), 1);
  } finally {
    await t.close();
  }
});

Deno.test("--metrics basic (etcd's default) has no per-method latency histograms", async () => {
  const t = await startTestServer();
  try {
    await t.ok(["put", "k", "v"]);
    const text = await (await fetch(`${t.url}/metrics`)).text();
    assert.doesNotMatch(text, /grpc_server_handling_seconds/);
    assert.match(text, /^grpc_server_handled_total\{[^}]*grpc_method="Put"[^}]*\} 1$/m);
  } finally {
    await t.close();
  }
});
