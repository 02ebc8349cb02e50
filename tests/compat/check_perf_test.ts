/**
 * `etcdctl check perf --load=s --auto-compact --auto-defrag` (etcdctl 3.4) against a fresh
 * etcd 3.4 and a fresh Concord at the same time: 60 s of 150 puts/s from 50 clients with
 * 256-byte keys and 1 KiB values under /etcdctl-check-perf/, then a prefix delete, a
 * compaction at its revision and a defragmentation. The verdict lines must be the same on both
 * (numbers aside), both must pass the throughput check with no errors, and afterwards both
 * hold no key under the prefix and have compacted history. The latencies are printed, not
 * compared: they are the disk's and this machine's.
 */
import assert from "node:assert/strict";
import { startEtcd } from "../support/etcd.ts";
import { etcdctl, startTestServer } from "../server/harness.ts";

const PREFIX = "/etcdctl-check-perf/";

/** The report lines of check perf, with numbers and the latency verdicts normalized. */
function verdicts(stdout: string): string[] {
  return stdout.split(/[\r\n]+/)
    .map((l) => l.trim())
    .filter((l) => /^(PASS|FAIL|Slowest|Stddev)/.test(l))
    .map((l) =>
      l.replace(/[0-9]+(\.[0-9]+)?/g, "N")
        // a slow shared machine may exceed etcdctl's latency bounds on either side
        .replace(/^(PASS: Slowest request took|Slowest request took too long:) .*/, "slowest")
        .replace(/^(PASS: Stddev is|Stddev too high:) .*/, "stddev")
    )
    // the closing PASS/FAIL only sums up the lines above, latency included
    .filter((l) => l !== "PASS" && l !== "FAIL");
}

Deno.test("etcdctl check perf --load=s: same verdicts on etcd 3.4 and Concord", async () => {
  const etcd = await startEtcd();
  const ours = await startTestServer();
  try {
    // a prefix that already has keys is refused the same way by both
    for (const url of [etcd.url, ours.url]) {
      const put = await etcdctl(url, ["put", `${PREFIX}x`, "v"]);
      assert.equal(put.code, 0, put.stderr);
    }
    const busy = await Promise.all(
      [etcd.url, ours.url].map((u) => etcdctl(u, ["check", "perf", "--load=s"])),
    );
    assert.equal(busy[1].code, busy[0].code);
    assert.equal(busy[1].stderr, busy[0].stderr);
    assert.match(busy[0].stderr, /has keys/);
    for (const url of [etcd.url, ours.url]) {
      const del = await etcdctl(url, ["del", "--prefix", PREFIX]);
      assert.equal(del.code, 0, del.stderr);
    }

    // the 60 s run, both servers at once
    const runs = await Promise.all(
      [etcd.url, ours.url].map((u) =>
        etcdctl(u, ["check", "perf", "--load=s", "--auto-compact", "--auto-defrag"])
      ),
    );
    for (const [name, r] of [["etcd", runs[0]], ["concord", runs[1]]] as const) {
      const report = r.stdout.split(/[\r\n]+/).filter((l) => /PASS|FAIL|Slowest|Stddev/.test(l));
      console.log(`${name} (exit ${r.code}):\n  ${report.join("\n  ")}`);
      assert.ok(!/FAIL: too many errors|FAIL: ERROR/.test(r.stdout), `${name}: ${r.stdout}`);
      assert.match(r.stdout, /PASS: Throughput is [0-9]+ writes\/s/, `${name}: ${r.stdout}`);
    }
    const theirs = verdicts(runs[0].stdout);
    assert.deepEqual(verdicts(runs[1].stdout), theirs);
    assert.ok(theirs.length >= 3, `check perf printed its report: ${runs[0].stdout}`);

    // afterwards: nothing under the prefix, and history before the delete compacted away
    for (const url of [etcd.url, ours.url]) {
      const left = await etcdctl(url, ["get", "--prefix", PREFIX, "--keys-only"]);
      assert.equal(left.code, 0, left.stderr);
      assert.equal(left.stdout, "");
      const old = await etcdctl(url, ["get", `${PREFIX}x`, "--rev=2"]);
      assert.notEqual(old.code, 0);
      assert.match(old.stderr, /required revision has been compacted/);
    }
  } finally {
    await ours.close();
    await etcd.stop();
  }
});
