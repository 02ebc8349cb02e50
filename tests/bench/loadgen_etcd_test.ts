/**
 * A short real run of the load generator against Debian's etcd 3.4: the reported count equals
 * the requests made, and every key the put workload generated is in etcd afterwards.
 */
import assert from "node:assert/strict";
import { keyFor } from "../../bench/loadgen/keys.ts";
import { parseArgs } from "../../bench/loadgen/main.ts";
import { loadgenResult, runLoadgen } from "../../bench/support/loadgen_process.ts";
import { etcdctl, startEtcd } from "./etcd.ts";

Deno.test("parseArgs: etcd's flag names, defaults, and clear errors", () => {
  const a = parseArgs(["range", "foo", "--consistency=s", "--clients", "3", "--endpoints=a:1,b:2"]);
  assert.equal(a.command, "range");
  assert.equal(a.opts.consistency, "s");
  assert.equal(a.opts.clients, 3);
  assert.equal(a.conns, 1);
  assert.deepEqual(a.endpoints, ["a:1", "b:2"]);
  assert.deepEqual([...a.opts.rangeKey], [...new TextEncoder().encode("foo")]);
  assert.throws(() => parseArgs(["put", "--bogus=1"]), /unknown flag --bogus/);
  assert.throws(() => parseArgs(["put", "--clients=0"]), /--clients must be an integer >= 1/);
  assert.throws(() => parseArgs(["range", "k", "--consistency=x"]), /--consistency must be l or s/);
  assert.throws(() => parseArgs(["range"]), /range needs a key/);
  assert.throws(() => parseArgs(["get"]), /command must be one of/);
});

Deno.test("put workload against a real etcd 3.4: count = requests made, every key landed", async () => {
  const etcd = await startEtcd();
  try {
    const total = 200;
    // The generator runs as its own process, as bench:compare runs it; it exits (closing its
    // HTTP/2 sessions) before etcd stops.
    const result = loadgenResult(
      await runLoadgen({
        args: [
          "put",
          "--clients=10",
          "--conns=3",
          `--total=${total}`,
          "--key-size=8",
          "--val-size=16",
          `--key-space-size=${total}`,
          "--sequential-keys",
        ],
        endpoints: etcd.endpoint,
        json: true,
      }),
    );
    assert.equal(result.command, "put");
    assert.equal(result.count, total);
    assert.equal(result.errors, 0);
    assert.ok(result.rps > 0 && result.p99 >= result.p50 && result.p50 > 0);

    const got = await etcdctl(etcd.endpoint, [
      "get",
      "--from-key",
      "",
      "--keys-only",
      "-w",
      "json",
    ]);
    assert.ok(got.success, new TextDecoder().decode(got.stderr));
    const body = JSON.parse(new TextDecoder().decode(got.stdout)) as {
      count: number;
      kvs: { key: string }[];
      header: { revision: number };
    };
    assert.equal(body.count, total);
    // One revision per put: exactly `total` writes reached etcd (revision starts at 1).
    assert.equal(body.header.revision, 1 + total);
    const keys = new Set(body.kvs.map((kv) => kv.key));
    for (let n = 0; n < total; n++) {
      const k = btoa(String.fromCharCode(...keyFor(n, 8)));
      assert.ok(keys.has(k), `key ${n} missing`);
    }
  } finally {
    await etcd.stop();
  }
});

Deno.test("paced watch against a real etcd 3.4: every watcher sees every put, at the put rate", async () => {
  const etcd = await startEtcd();
  try {
    const total = 200;
    const rate = 100;
    const watchers = 3 * 2;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../bench/loadgen/main.ts", import.meta.url).pathname,
        "watch",
        `--endpoints=${etcd.endpoint}`,
        "--clients=3",
        "--watch-per-stream=2",
        "--conns=2",
        `--total=${total}`,
        `--put-rate=${rate}`,
        "--val-size=16",
        "--json",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, `loadgen failed: ${stderr}`);
    const result = JSON.parse(new TextDecoder().decode(out.stdout).trim());
    assert.equal(result.count, total * watchers);
    assert.equal(result.errors, 0);
    // paced: after the limiter's burst of `rate` puts, the rest go at `rate` a second, so the
    // run lasts (total - rate - 1) / rate seconds at least (unpaced, 200 puts take 0.2-0.5 s)
    const least = (total - rate - 1) / rate;
    assert.ok(
      result.rps <= ((total * watchers) / least) * 1.05,
      `${result.rps} events/s: the run was shorter than ${least} s`,
    );
    // an event handled before its put's answer counts 0 (etcd's rule), as most are on loopback
    assert.ok(result.p99 >= result.p50 && result.slowest > 0);
    const v = parseArgs(["watch", "--put-rate=10"]);
    assert.equal(v.opts.putRate, 10);
  } finally {
    await etcd.stop();
  }
});

/** Runs bench/loadgen/main.ts with `args` against `endpoint`; returns its JSON result. */
async function loadgen(endpoint: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../bench/loadgen/main.ts", import.meta.url).pathname,
      ...args,
      `--endpoints=${endpoint}`,
      "--json",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(
    out.success,
    `loadgen ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`,
  );
  return JSON.parse(new TextDecoder().decode(out.stdout).trim());
}

Deno.test("range, closed-loop watch, txn-put and lease keep-alive against a real etcd 3.4, light (h2) and promise-based clients", async () => {
  const etcd = await startEtcd();
  try {
    assert.ok((await etcdctl(etcd.endpoint, ["put", "foo", "bar"])).success);
    for (const transport of ["h2", "fetch"]) {
      const range = await loadgen(etcd.endpoint, [
        "range",
        "foo",
        "--clients=20",
        "--conns=2",
        "--total=500",
        `--transport=${transport}`,
      ]);
      assert.equal(range.count, 500);
      assert.equal(range.errors, 0);
      const watch = await loadgen(etcd.endpoint, [
        "watch",
        "--clients=3",
        "--watch-per-stream=4",
        "--conns=2",
        "--total=50",
        `--transport=${transport}`,
      ]);
      assert.equal(watch.count, 50 * 12, transport);
      assert.equal(watch.errors, 0, JSON.stringify(watch.errorKinds));
    }
    // txn-put on the light loop: every txn of 3 puts applied (one revision each)
    const before = await etcdctl(etcd.endpoint, ["get", "foo", "-w", "json"]);
    const rev0 = JSON.parse(new TextDecoder().decode(before.stdout)).header.revision;
    const txn = await loadgen(etcd.endpoint, [
      "txn-put",
      "--txn-ops=3",
      "--clients=4",
      "--total=100",
      "--key-space-size=50",
    ]);
    assert.equal(txn.count, 100);
    assert.equal(txn.errors, 0, JSON.stringify(txn.errorKinds));
    const after = await etcdctl(etcd.endpoint, ["get", "foo", "-w", "json"]);
    assert.equal(JSON.parse(new TextDecoder().decode(after.stdout)).header.revision, rev0 + 100);
    // lease keep-alive on the light loop: every keep-alive answered, the leases revoked after
    const ka = await loadgen(etcd.endpoint, ["lease-keepalive", "--clients=5", "--total=200"]);
    assert.equal(ka.count, 200);
    assert.equal(ka.errors, 0, JSON.stringify(ka.errorKinds));
    const leases = await etcdctl(etcd.endpoint, ["lease", "list"]);
    assert.match(new TextDecoder().decode(leases.stdout), /found 0 leases/);
    // a range of a key that is not there: count 0, no kvs, no error
    const none = await loadgen(etcd.endpoint, ["range", "nokey", "--clients=2", "--total=20"]);
    assert.equal(none.count, 20);
    assert.equal(none.errors, 0);
  } finally {
    await etcd.stop();
  }
});
