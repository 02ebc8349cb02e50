/**
 * bench:compare's cluster mode: the etcd flags each member gets, the flag parsing, and a real
 * three-member etcd 3.4 started by BenchCluster (every member answers, exactly one leads, each
 * member's CPU and peak RSS are read from its own process).
 */
import assert from "node:assert/strict";
import {
  BenchCluster,
  etcdctl,
  memberAddrs,
  memberArgs,
  startTaskEnv,
  startTaskV8Flags,
} from "../../bench/cluster.ts";
import { parseFlags } from "../../bench/compare.ts";

Deno.test("memberArgs: one --initial-cluster naming every member, own URLs, a token for N > 1", () => {
  let port = 4000;
  const three = memberAddrs(3, () => port++);
  assert.deepEqual(three.map((m) => m.name), ["m1", "m2", "m3"]);
  assert.equal(new Set(three.flatMap((m) => [m.clientUrl, m.peerUrl])).size, 6);
  const a = memberArgs(three, 1, "/d/m2");
  assert.deepEqual(a, [
    "--name=m2",
    "--data-dir=/d/m2",
    "--listen-client-urls=http://127.0.0.1:4002",
    "--advertise-client-urls=http://127.0.0.1:4002",
    "--listen-peer-urls=http://127.0.0.1:4003",
    "--initial-advertise-peer-urls=http://127.0.0.1:4003",
    "--initial-cluster=m1=http://127.0.0.1:4001,m2=http://127.0.0.1:4003,m3=http://127.0.0.1:4005",
    "--initial-cluster-token=bench-cluster",
    "--initial-cluster-state=new",
  ]);
  const one = memberArgs(memberAddrs(1, () => port++), 0, "/d");
  assert.equal(one[0], "--name=default");
  assert.equal(one.at(-1), "--initial-cluster=default=http://127.0.0.1:4007");
  assert.throws(() => memberAddrs(0, () => port++), /members must be an integer >= 1/);
});

Deno.test("parseFlags: --members picks the cluster workloads, bad values are refused", () => {
  assert.equal(parseFlags([]).members, 1);
  assert.equal(parseFlags([]).only, undefined);
  const c = parseFlags(["--members=3"]);
  assert.deepEqual([...c.only!], ["put-1", "put-1000", "range-l", "range-s"]);
  assert.deepEqual([...parseFlags(["--members=3", "--only=put-1000"]).only!], ["put-1000"]);
  assert.equal(parseFlags(["--cpu-prof=/tmp/p"]).cpuProfDir, "/tmp/p");
  assert.throws(() => parseFlags(["--members=2"]), /--members must be 1, 3 or 5/);
  assert.throws(() => parseFlags(["--only=put-7"]), /no workload put-7/);
  assert.throws(() => parseFlags(["--cpu-prof="]), /--cpu-prof needs a directory/);
  assert.throws(() => parseFlags(["--bogus"]), /unknown flag --bogus/);
});

Deno.test("BenchCluster: three real etcd 3.4 members, one leader, per-member CPU and RSS", async () => {
  const logDir = await Deno.makeTempDir({ prefix: "bench-cluster-test-" });
  const { cluster, error } = await BenchCluster.start(
    "etcd",
    3,
    "etcd",
    [],
    logDir,
    logDir,
    () => ["--logger=zap", "--log-level=error"],
  );
  try {
    assert.equal(error, undefined);
    const put = await etcdctl(cluster.endpoints, ["put", "k", "v"]);
    assert.ok(put.success, new TextDecoder().decode(put.stderr));
    for (const m of cluster.members) {
      const got = await etcdctl(m.clientUrl, ["get", "k", "--print-value-only"]);
      assert.equal(new TextDecoder().decode(got.stdout).trim(), "v");
    }
    const leader = await cluster.leader();
    assert.ok(leader >= 0 && leader < 3, `leader index ${leader}`);
    const cpu = cluster.cpuSeconds();
    const rss = cluster.peakRss();
    assert.equal(cpu.length, 3);
    assert.ok(cpu.every((s) => s >= 0));
    assert.ok(rss.every((k) => k > 1024), `peak RSS ${rss}`);
  } finally {
    await cluster.stop();
    await Deno.remove(logDir, { recursive: true });
  }
  assert.ok(cluster.peakRss().every(Number.isNaN), "stopped members have no RSS");
});

Deno.test("start task: its environment and V8 flags are what the benchmarks run Concord with", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const task = (start: string) =>
      Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify({ tasks: { start } }));
    await task("A=1 MALLOC_ARENA_MAX=2 deno run -A --v8-flags=--x,--y main.ts serve X=3");
    assert.deepEqual(startTaskEnv(dir), { A: "1", MALLOC_ARENA_MAX: "2" });
    assert.deepEqual(startTaskV8Flags(dir), ["--v8-flags=--x,--y"]);
    await task("deno run -A main.ts serve");
    assert.deepEqual(startTaskEnv(dir), {});
    assert.deepEqual(startTaskV8Flags(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // this checkout's start task caps malloc's arenas from the process's first thread on
  assert.equal(startTaskEnv().MALLOC_ARENA_MAX, "2");
});
