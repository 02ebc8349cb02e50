import assert from "node:assert/strict";
import { startTestServer } from "./harness.ts";

function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

Deno.test("/metrics: etcd's server and mvcc gauges and the gRPC counters, read when scraped", async () => {
  const t = await startTestServer();
  try {
    await t.ok(["put", "k", "v"]);
    const res = await fetch(`${t.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.equal(sample(text, "etcd_server_has_leader"), 1);
    assert.equal(sample(text, "etcd_server_is_leader"), 1);
    assert.equal(sample(text, "etcd_debugging_mvcc_current_revision"), 2);
    const applied = sample(text, "etcd_server_proposals_applied_total") ?? 0;
    assert.ok(applied >= 2, `applied ${applied}`);
    assert.ok((sample(text, "etcd_mvcc_db_total_size_in_bytes") ?? 0) > 0);
    assert.ok((sample(text, "process_resident_memory_bytes") ?? 0) > 0);
    assert.match(text, /^etcd_server_id\{server_id="[0-9a-f]+"\} 1$/m);
    assert.match(text, /^grpc_server_handled_total\{[^}]*grpc_method="Put"[^}]*\} 1$/m);
    // A second scrape sees the new revision: gauges are collected per scrape.
    await t.ok(["put", "k", "v2"]);
    const again = await (await fetch(`${t.url}/metrics`)).text();
    assert.equal(sample(again, "etcd_debugging_mvcc_current_revision"), 3);
  } finally {
    await t.close();
  }
});
