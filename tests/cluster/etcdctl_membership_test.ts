/**
 * Membership changes with the real etcdctl 3.4 on three `concord serve` processes beside a
 * real 3-member etcd 3.4 cluster: the same commands print the same after ids and URLs are
 * normalized, errors included (a second learner, promoting an unsynced learner, an unknown
 * id). Then on Concord the learner is started with the ETCD_* lines `member add` printed,
 * joins, is promoted; a member is removed and its process exits with etcd's message; and
 * `move-leader` hands leadership to each remaining member in turn.
 */
import assert from "node:assert/strict";
import { freePort } from "../support/etcd.ts";
import { etcdctl, type ProcessCluster, ProcessCluster as PC } from "./processes.ts";

/** The cluster's ids by member name (exact: read as text). */
async function ids(c: ProcessCluster, endpoints = c.endpoints): Promise<Map<string, string>> {
  const raw = (await etcdctl(endpoints, "member", "list", "-w", "json")).stdout;
  const out = new Map<string, string>();
  for (const m of raw.matchAll(/"ID":(\d+)(?:,"name":"([^"]*)")?/g)) {
    out.set(m[2] ?? `unstarted-${out.size}`, BigInt(m[1]).toString(16));
  }
  return out;
}

/** Replaces ids, ports and the cluster id with placeholders. */
function normalize(s: string, known: [string, string][]): string {
  for (const [from, to] of known) s = s.split(from).join(to);
  return s
    .replace(/"ts":"[^"]*"/g, '"ts":"T"')
    .replace(/client-[0-9a-f-]{36}/g, "client-UUID")
    // etcdctl pads ids to 16 columns (%16x)
    .replace(/ *\b[0-9a-f]{10,16}\b/g, " ID")
    .replace(/127\.0\.0\.1:\d+/g, "HOST")
    // members come in id order, and ids differ between the clusters
    .replace(
      /ETCD_INITIAL_CLUSTER="([^"]*)"/,
      (_, v: string) => `ETCD_INITIAL_CLUSTER="${v.split(",").sort().join(",")}"`,
    )
    .split("\n").sort().join("\n");
}

/** Runs `cmd` on both clusters; returns the normalized outputs and exit codes. */
async function both(
  etcd: ProcessCluster,
  concord: ProcessCluster,
  cmd: string[],
): Promise<{ etcd: string; concord: string; codes: [number, number] }> {
  // each member has its own view of its peers' health: retry "unhealthy cluster" on both
  const [a, b] = await Promise.all([
    settled(etcd.endpoints, ...cmd),
    settled(concord.endpoints, ...cmd),
  ]);
  return {
    etcd: normalize(a.stdout + a.stderr, []),
    concord: normalize(b.stdout + b.stderr, []),
    codes: [a.code, b.code],
  };
}

/** Retries an etcdctl command while it answers "unhealthy cluster" (peers connected < 5 s). */
async function settled(endpoints: string, ...cmd: string[]) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await etcdctl(endpoints, ...cmd);
    if (!r.stderr.includes("unhealthy cluster") || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 250));
  }
}

Deno.test("cluster membership: etcdctl member add/promote/remove/update and move-leader as etcd 3.4", async () => {
  const [etcd, concord] = await Promise.all([PC.start("etcd", 3), PC.start("concord", 3)]);
  try {
    const p4 = {
      etcd: `http://127.0.0.1:${freePort()}`,
      concord: `http://127.0.0.1:${freePort()}`,
    };
    const mismatches: string[] = [];
    const compare = (
      what: string,
      r: { etcd: string; concord: string; codes: [number, number] },
    ) => {
      if (r.etcd !== r.concord || r.codes[0] !== r.codes[1]) {
        mismatches.push(
          `${what}\n  etcd (${r.codes[0]}):    ${r.etcd}\n  concord (${r.codes[1]}): ${r.concord}`,
        );
      }
    };
    // add a learner (retried while the strict check finds peers connected for < 5 s)
    const [addE, addC] = await Promise.all([
      settled(etcd.endpoints, "member", "add", "m4", "--learner", `--peer-urls=${p4.etcd}`),
      settled(concord.endpoints, "member", "add", "m4", "--learner", `--peer-urls=${p4.concord}`),
    ]);
    assert.equal(addC.code, 0, addC.stderr);
    assert.equal(addE.code, 0, addE.stderr);
    compare("member add --learner", {
      etcd: normalize(addE.stdout + addE.stderr, [[p4.etcd, "P4"]]),
      concord: normalize(addC.stdout + addC.stderr, [[p4.concord, "P4"]]),
      codes: [addE.code, addC.code],
    });
    assert.match(addC.stdout, /^Member +[0-9a-f]+ added to cluster +[0-9a-f]+\n\nETCD_NAME="m4"\n/);
    compare("member list", await both(etcd, concord, ["member", "list"]));
    compare(
      "a second learner",
      await both(etcd, concord, [
        "member",
        "add",
        "m5",
        "--learner",
        "--peer-urls=http://127.0.0.1:1",
      ]),
    );
    const learnerE = /Member +([0-9a-f]+) added/.exec(addE.stdout)![1];
    const learnerC = /Member +([0-9a-f]+) added/.exec(addC.stdout)![1];
    const [promE, promC] = await Promise.all([
      etcdctl(etcd.endpoints, "member", "promote", learnerE),
      etcdctl(concord.endpoints, "member", "promote", learnerC),
    ]);
    compare("promote an unsynced learner", {
      etcd: normalize(promE.stdout + promE.stderr, []),
      concord: normalize(promC.stdout + promC.stderr, []),
      codes: [promE.code, promC.code],
    });
    assert.match(promC.stderr, /can only promote a learner member which is in sync with leader/);
    compare("remove an unknown id", await both(etcd, concord, ["member", "remove", "1234"]));
    compare(
      "update an unknown id",
      await both(etcd, concord, ["member", "update", "1234", "--peer-urls=http://127.0.0.1:1"]),
    );
    compare(
      "add a taken peer URL",
      await Promise.all([
        settled(
          etcd.endpoints,
          "member",
          "add",
          "x",
          `--peer-urls=${etcd.members[0].peerAdvertise}`,
        ),
        settled(
          concord.endpoints,
          "member",
          "add",
          "x",
          `--peer-urls=${concord.members[0].peerAdvertise}`,
        ),
      ]).then(([a, b]) => ({
        etcd: normalize(a.stdout + a.stderr, []),
        concord: normalize(b.stdout + b.stderr, []),
        codes: [a.code, b.code] as [number, number],
      })),
    );
    assert.deepEqual(mismatches, []);

    // on Concord: start the learner with the printed lines; it joins and catches up
    for (let i = 0; i < 20; i++) await etcdctl(concord.endpoints, "put", `k${i}`, `v${i}`);
    const i4 = concord.join(addC.stdout, p4.concord);
    await concord.waitHealthy(i4);
    const e4 = concord.members[i4].clientUrl;
    assert.equal(
      (await etcdctl(e4, "get", "k19", "--consistency=s", "--print-value-only")).stdout,
      "v19\n",
    );
    // a learner serves serializable reads and status only (etcd's learner interceptor)
    const lin = await etcdctl(e4, "get", "k19");
    assert.match(lin.stderr, /Error: etcdserver: rpc not supported for learner/, lin.stdout);
    assert.equal((await etcdctl(e4, "put", "k", "v")).code, 1);
    assert.equal((await etcdctl(e4, "endpoint", "status")).code, 0);
    // promoted once in sync
    let prom = await etcdctl(concord.endpoints, "member", "promote", learnerC);
    for (let t = 0; prom.code !== 0 && t < 40; t++) {
      await new Promise((r) => setTimeout(r, 250));
      prom = await etcdctl(concord.endpoints, "member", "promote", learnerC);
    }
    assert.match(prom.stdout, new RegExp(`^Member +${learnerC} promoted in cluster +[0-9a-f]+\n$`));
    const list = (await etcdctl(concord.endpoints, "member", "list")).stdout;
    assert.equal(list.trim().split("\n").length, 4, list);
    assert.ok(!list.includes(", true\n"), `no learner left: ${list}`);

    // remove m2: its process exits with etcd's message; the other three go on
    const byName = await ids(concord);
    const rm = await settled(concord.endpoints, "member", "remove", byName.get("m2")!);
    assert.match(
      rm.stdout,
      new RegExp(`^Member +${byName.get("m2")} removed from cluster +[0-9a-f]+\n$`),
      rm.stderr,
    );
    const m2 = concord.members[1];
    const exited = m2.proc!.status;
    const timer = setTimeout(() => m2.proc?.kill("SIGKILL"), 15_000);
    const status = await exited;
    clearTimeout(timer);
    m2.proc = null;
    assert.equal(status.code, 0);
    assert.match(await m2.logs[0], /the member has been permanently removed from the cluster/);
    const rest = [0, 2, i4].map((i) => concord.members[i].clientUrl).join(",");
    // m2 may have led: the three elect a leader among themselves (an election timeout)
    let put = await etcdctl(rest, "put", "after", "x");
    for (let t = 0; put.stdout !== "OK\n" && t < 40; t++) {
      await new Promise((r) => setTimeout(r, 250));
      put = await etcdctl(rest, "put", "after", "x");
    }
    assert.equal(put.stdout, "OK\n", put.stderr);

    // move-leader to each remaining member in turn
    for (const name of ["m1", "m3", "m4"]) {
      const target = byName.get(name)!;
      const st = (await etcdctl(rest, "endpoint", "status", "-w", "json")).stdout;
      const leader = BigInt(/"leader":(\d+)/.exec(st)![1]).toString(16);
      const mv = await etcdctl(rest, "move-leader", target);
      // to the leader itself etcd succeeds at once, and etcdctl prints the same line
      assert.equal(mv.stdout, `Leadership transferred from ${leader} to ${target}\n`, mv.stderr);
    }
  } finally {
    await Promise.all([etcd.stop(), concord.stop()]);
  }
});
