/**
 * Three `concord serve` processes started with etcd's flags, driven by the real etcdctl 3.4
 * with every endpoint, beside a real 3-member etcd 3.4 cluster started the same way: the
 * cluster commands print the same after ids, URLs, times, sizes and indexes are normalized,
 * and KV, watch, lease, lock and election work through any member.
 */
import assert from "node:assert/strict";
import { etcdctl, ProcessCluster } from "./processes.ts";

/** Replaces what differs between two clusters by nature (ids, ports, times, sizes). */
async function normalizer(c: ProcessCluster): Promise<(s: string) => string> {
  // ids are uint64s printed as JSON numbers: read them as text, not through JSON.parse
  const raw = (await etcdctl(c.endpoints, "member", "list", "-w", "json")).stdout;
  const byName = new Map<string, string>();
  for (const m of raw.matchAll(/"ID":(\d+),"name":"(m\d+)"/g)) byName.set(m[2], m[1]);
  const clusterDec = /"cluster_id":(\d+)/.exec(raw)![1];
  const pairs: [string, string][] = [];
  c.members.forEach((m, i) => {
    const id = byName.get(m.name)!;
    pairs.push([m.clientUrl, `CLIENT${i + 1}`], [m.peerAdvertise, `PEER${i + 1}`]);
    pairs.push([id, `ID${i + 1}`], [BigInt(id).toString(16), `ID${i + 1}`]);
  });
  pairs.push([clusterDec, "CLUSTER"], [BigInt(clusterDec).toString(16), "CLUSTER"]);
  return (s: string) => {
    for (const [from, to] of pairs) s = s.split(from).join(to);
    return s
      .replace(/took = [0-9.]+(µs|ms|s)/g, "took = T")
      .replace(/"took":"[^"]*"/g, '"took":"T"')
      .replace(/"version":"[^"]*"/g, '"version":"V"')
      .replace(/, \d+\.\d+\.\d+, /g, ", V, ")
      .replace(/\d+ kB/g, "SIZE")
      // which member leads and which one answered differ from run to run
      .replace(/"(member_id|leader)":ID\d/g, '"$1":ID')
      .replace(
        /"(dbSize|dbSizeInUse|raftIndex|raftAppliedIndex|raftTerm|revision|raft_term)":\d+/g,
        '"$1":0',
      )
      .replace(/, (true|false), (true|false), \d+, \d+, \d+, /g, ", LEADER?, $2, N, N, N, ")
      .split("\n").sort().join("\n");
  };
}

Deno.test("cluster: member list, endpoint status and health --cluster print as a 3-member etcd 3.4's", async () => {
  const [etcd, concord] = await Promise.all([
    ProcessCluster.start("etcd", 3),
    ProcessCluster.start("concord", 3),
  ]);
  try {
    const [ne, nc] = await Promise.all([normalizer(etcd), normalizer(concord)]);
    const commands = [
      ["member", "list"],
      ["member", "list", "-w", "json"],
      ["endpoint", "status", "--cluster"],
      ["endpoint", "status", "--cluster", "-w", "json"],
      ["endpoint", "health", "--cluster"],
      ["endpoint", "health", "--cluster", "-w", "json"],
    ];
    const mismatches: string[] = [];
    for (const cmd of commands) {
      const [a, b] = await Promise.all([
        etcdctl(etcd.endpoints, ...cmd),
        etcdctl(concord.endpoints, ...cmd),
      ]);
      let x = ne(a.stdout + a.stderr);
      let y = nc(b.stdout + b.stderr);
      if (cmd.includes("json")) {
        // members and endpoints come in id or answer order: compare them in a fixed order
        // (the placeholders make it text rather than JSON: split it between its objects)
        const order = (t: string) => {
          const parts = t.trim().replace(/\]\}?$/, "").split(/\},\{(?="(?:ID|Endpoint|endpoint)")/);
          const head = /^.*?(?=\{?"(?:ID|Endpoint|endpoint)")/.exec(parts[0])?.[0] ?? "";
          parts[0] = parts[0].slice(head.length);
          return head + parts.map((p) => p.replace(/^[[{]+|[}\]]+$/g, "")).sort().join(" | ");
        };
        x = order(x);
        y = order(y);
      }
      if (x !== y) mismatches.push(`etcdctl ${cmd.join(" ")}\n  etcd:    ${x}\n  concord: ${y}`);
      assert.equal(b.code, a.code, cmd.join(" "));
    }
    assert.deepEqual(mismatches, []);
    // one leader, named by every member
    const st = (await etcdctl(concord.endpoints, "endpoint", "status", "--cluster", "-w", "json"))
      .stdout;
    assert.equal(new Set([...st.matchAll(/"leader":(\d+)/g)].map((m) => m[1])).size, 1);
    const table = (await etcdctl(concord.endpoints, "endpoint", "status", "--cluster")).stdout;
    assert.equal(table.split(", true, false, ").length - 1, 1, table);
  } finally {
    await Promise.all([etcd.stop(), concord.stop()]);
  }
});

interface Ctl {
  proc: Deno.ChildProcess;
  reader: ReadableStreamDefaultReader<string>;
}

function spawnCtl(endpoint: string, ...args: string[]): Ctl {
  const proc = new Deno.Command("etcdctl", {
    args: [`--endpoints=${endpoint}`, ...args],
    env: { ETCDCTL_API: "3" },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  return { proc, reader: proc.stdout.pipeThrough(new TextDecoderStream()).getReader() };
}

/** Reads a long-running etcdctl's output until it holds `want` (15 s at most). */
async function readUntil(c: Ctl, want: string): Promise<string> {
  let out = "";
  const timer = setTimeout(() => c.proc.kill("SIGTERM"), 15_000);
  try {
    while (!out.includes(want)) {
      const r = await c.reader.read();
      if (r.done) break;
      out += r.value;
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

async function stopCtl(c: Ctl): Promise<void> {
  try {
    c.proc.kill("SIGTERM");
  } catch {
    // exited
  }
  await c.reader.cancel();
  await c.proc.status;
}

Deno.test("cluster: put, get, txn, watch, lease, lock and elect through any member", async () => {
  const c = await ProcessCluster.start("concord", 3);
  try {
    const [e1, e2, e3] = c.members.map((m) => m.clientUrl);
    assert.equal((await etcdctl(e1, "put", "k", "v1")).stdout, "OK\n");
    assert.equal((await etcdctl(e2, "get", "k", "--print-value-only")).stdout, "v1\n");
    assert.equal(
      (await etcdctl(e3, "get", "k", "--consistency=s", "--print-value-only")).stdout,
      "v1\n",
    );
    // a compare-and-swap through a follower
    const txn = new Deno.Command("etcdctl", {
      args: [`--endpoints=${e3}`, "txn"],
      env: { ETCDCTL_API: "3" },
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const w = txn.stdin.getWriter();
    await w.write(new TextEncoder().encode('value("k") = "v1"\n\nput k v2\n\nput k nope\n\n'));
    await w.close();
    const out = new TextDecoder().decode((await txn.output()).stdout);
    assert.equal(out, "SUCCESS\n\nOK\n");
    assert.equal((await etcdctl(e1, "get", "k", "--print-value-only")).stdout, "v2\n");

    // a watch on one member sees a put through another
    const watch = new Deno.Command("etcdctl", {
      args: [`--endpoints=${e2}`, "watch", "w"],
      env: { ETCDCTL_API: "3" },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = watch.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    const deadline = Date.now() + 15_000;
    // one read in flight at a time: a read abandoned to the timeout would still take the next
    // chunk, and the loop would never see it (the test failed so under load)
    let pending: Promise<ReadableStreamReadResult<string>> | null = null;
    while (!seen.includes("PUT\nw\nhello\n")) {
      // put until the watch (which may not have started yet) reports one
      await etcdctl(e3, "put", "w", "hello");
      pending ??= reader.read();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const r: ReadableStreamReadResult<string> | null = await Promise.race([
        pending,
        new Promise<null>((res) => (timer = setTimeout(() => res(null), 500))),
      ]);
      clearTimeout(timer);
      if (r !== null) {
        pending = null;
        assert.ok(!r.done, `the watch ended; it saw: ${seen}`);
        seen += r.value;
      }
      assert.ok(Date.now() < deadline, `watch saw: ${seen}`);
    }
    watch.kill("SIGTERM");
    await reader.cancel();
    await watch.status;

    // a lease granted through one follower, used and kept alive through another
    const grant = await etcdctl(e2, "lease", "grant", "30");
    const id = /lease ([0-9a-f]+) granted/.exec(grant.stdout)?.[1];
    assert.ok(id, grant.stdout + grant.stderr);
    assert.equal((await etcdctl(e3, "put", "leased", "x", `--lease=${id}`)).stdout, "OK\n");
    const ka = await etcdctl(e3, "lease", "keep-alive", "--once", id);
    assert.match(
      ka.stdout,
      new RegExp(`lease ${id} keepalived with TTL\\((2\\d|30)\\)`),
      ka.stderr,
    );
    const ttl = await etcdctl(e1, "lease", "timetolive", id, "--keys");
    assert.match(ttl.stdout, /attached keys\(\[leased\]\)/, ttl.stderr);
    assert.equal((await etcdctl(e2, "lease", "revoke", id)).stdout, `lease ${id} revoked\n`);
    assert.equal((await etcdctl(e1, "get", "leased")).stdout, "");

    // lock and election through followers (their sessions keep leases alive)
    const lock = await etcdctl(e2, "lock", "L", "--", "echo", "locked");
    assert.match(lock.stdout, /locked/, lock.stderr);
    const elect = spawnCtl(e3, "elect", "E", "p1");
    assert.match(await readUntil(elect, "p1"), /^E\/[0-9a-f]+\np1\n/);
    // an observer through another member sees the candidate's value
    const observer = spawnCtl(e1, "elect", "-l", "E");
    assert.match(await readUntil(observer, "p1"), /p1/);
    await stopCtl(observer);
    await stopCtl(elect);

    // each member reports its peers' reachability and traffic under etcd's metric names
    for (const m of c.members) {
      const text = await (await fetch(`${m.clientUrl}/metrics`)).text();
      const active = [...text.matchAll(/^etcd_network_active_peers\{[^}]*\} (\d+)$/gm)];
      assert.deepEqual(active.map((a) => a[1]), ["1", "1"], `${m.name}: ${active}`);
      const sent = [
        ...text.matchAll(/^etcd_network_peer_sent_bytes_total\{To="[0-9a-f]+"\} (\d+)/gm),
      ];
      // followers talk to the leader only; the leader to both
      assert.ok(sent.length >= 1 && sent.every((x) => Number(x[1]) > 0), `${m.name}: ${sent}`);
      assert.match(text, /^etcd_server_leader_changes_seen_total 1$/m);
      assert.match(text, /^etcd_server_has_leader 1$/m);
    }
  } finally {
    await c.stop();
  }
});
