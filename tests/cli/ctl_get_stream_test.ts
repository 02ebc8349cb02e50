/**
 * `concord ctl get --stream` (etcdctl 3.7's flag; etcdctl 3.4 has no twin to compare with):
 * the same output as `get` without it, in every format, from one Concord member.
 */
import assert from "node:assert/strict";
import { runConcordCtl } from "./ctl_compat.ts";
import { startTestServer } from "../server/harness.ts";

Deno.test("ctl get --stream prints what get prints", async () => {
  const s = await startTestServer();
  try {
    for (let i = 0; i < 300; i++) {
      const r = await runConcordCtl(s.url, ["put", `k/${String(i).padStart(3, "0")}`, `v${i}`]);
      assert.equal(r.code, 0, r.stderr);
    }
    const cases = [
      ["get", "k/", "--prefix"],
      ["get", "k/", "--prefix", "--print-value-only"],
      ["get", "k/", "--prefix", "--keys-only", "-w", "json"],
      ["get", "k/", "--prefix", "--limit", "120", "-w", "json"],
      ["get", "k/", "--prefix", "--count-only", "-w", "fields"],
      ["get", "k/100", "k/120", "-w", "fields"],
      ["get", "", "--from-key", "--rev", "50", "-w", "protobuf"],
      ["get", "k/007"],
      ["get", "nope", "-w", "json"],
    ];
    for (const args of cases) {
      const plain = await runConcordCtl(s.url, args);
      const streamed = await runConcordCtl(s.url, [...args, "--stream"]);
      assert.equal(plain.code, 0, plain.stderr);
      assert.equal(streamed.code, 0, streamed.stderr);
      assert.equal(streamed.stdout, plain.stdout, args.join(" "));
    }
    // RangeStream's refusal, as etcdctl 3.7 prints a server error
    const sorted = await runConcordCtl(s.url, [
      "get",
      "k/",
      "--prefix",
      "--order",
      "DESCEND",
      "--stream",
    ]);
    assert.equal(sorted.code, 1);
    assert.match(sorted.stderr, /RangeStream does not support custom sort orders/);
    // the flag belongs to get alone: txn's get lines do not take it
    const help = await runConcordCtl(s.url, ["get", "--help"]);
    assert.match(help.stdout + help.stderr, /--stream/);
  } finally {
    await s.close();
  }
});
