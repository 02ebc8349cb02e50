/** etcdctl 3.4 against an in-process `concord serve`: KV, txn, watch and bad input. */
import assert from "node:assert/strict";
import { etcdctl, startTestServer, waitFor } from "./harness.ts";

interface JsonHeader {
  cluster_id: number | string;
  member_id: number | string;
  revision: number | string;
  raft_term: number | string;
}

Deno.test("etcdctl: put and get with prefix, limit, sort, rev, keys-only, count, json", async () => {
  const s = await startTestServer();
  try {
    for (const [k, v] of [["b", "2"], ["a", "1"], ["c", "3"], ["d", "4"]]) {
      assert.equal(await s.ok(["put", `p/${k}`, v]), "OK\n");
    }
    await s.ok(["put", "p/a", "1b"]); // revision 6, version 2
    assert.equal(await s.ok(["get", "p/", "--prefix"]), "p/a\n1b\np/b\n2\np/c\n3\np/d\n4\n");
    assert.equal(await s.ok(["get", "p/", "--prefix", "--limit", "2"]), "p/a\n1b\np/b\n2\n");
    assert.equal(
      await s.ok(["get", "p/", "--prefix", "--sort-by", "VALUE", "--order", "DESCEND"]),
      "p/d\n4\np/c\n3\np/b\n2\np/a\n1b\n",
    );
    assert.equal(await s.ok(["get", "p/a", "--rev", "3"]), "p/a\n1\n");
    assert.equal(
      await s.ok(["get", "p/", "--prefix", "--keys-only"]),
      "p/a\n\np/b\n\np/c\n\np/d\n\n",
    );
    // etcdctl 3.4 has no --count-only flag; the count is in every json answer
    const counted = JSON.parse(await s.ok(["get", "p/", "--prefix", "--limit", "1", "-w", "json"]));
    assert.equal(counted.count, 4);
    assert.equal(counted.more, true);
    assert.equal(counted.kvs.length, 1);
    const text = await s.ok(["get", "p/a", "-w", "json"]);
    const j = JSON.parse(text);
    const h = j.header as JsonHeader;
    const m = s.server.member;
    // uint64 ids do not survive JSON.parse: read them from the text
    assert.equal(BigInt(/"cluster_id":(\d+)/.exec(text)![1]), m.clusterId);
    assert.equal(BigInt(/"member_id":(\d+)/.exec(text)![1]), m.id);
    assert.equal(Number(h.revision), 6);
    assert.equal(Number(h.raft_term), m.term);
    assert.equal(j.kvs[0].create_revision, 3);
    assert.equal(j.kvs[0].mod_revision, 6);
    assert.equal(j.kvs[0].version, 2);
    assert.equal(atob(j.kvs[0].value), "1b");
    // serializable reads serve local state
    assert.equal(await s.ok(["get", "p/c", "--consistency", "s"]), "p/c\n3\n");

    assert.equal(await s.ok(["del", "p/c", "--prev-kv"]), "1\np/c\n3\n");
    assert.equal(await s.ok(["del", "p/", "--prefix"]), "3\n");
    assert.equal(await s.ok(["get", "p/", "--prefix"]), "");
  } finally {
    await s.close();
  }
});

Deno.test("etcdctl: txn from stdin takes the branch its compares choose", async () => {
  const s = await startTestServer();
  try {
    await s.ok(["put", "x", "1"]);
    const yes = await s.ok(["txn"], 'value("x") = "1"\n\nput y yes\nget x\n\nput y no\n\n');
    assert.equal(yes, "SUCCESS\n\nOK\n\nx\n1\n");
    assert.equal(await s.ok(["get", "y"]), "y\nyes\n");
    const no = await s.ok(["txn"], 'mod("x") > "100"\n\nput y yes\n\nput y no\n\n');
    assert.equal(no, "FAILURE\n\nOK\n");
    assert.equal(await s.ok(["get", "y"]), "y\nno\n");
  } finally {
    await s.close();
  }
});

Deno.test("etcdctl: watch sees a put, and stops when etcdctl is stopped", async () => {
  const s = await startTestServer();
  try {
    const child = new Deno.Command("etcdctl", {
      args: ["--endpoints", s.url, "watch", "w", "--prefix"],
      env: { ETCDCTL_API: "3" },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    // the watch is registered once etcdctl's stream is open: keep writing until an event
    // arrives (each put is a new revision, so the first event seen is one of ours)
    let n = 0;
    const writer = (async () => {
      while (!seen.includes("PUT") && n < 100) {
        await s.ok(["put", `w${n}`, `hello${n}`]);
        n++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    while (!/PUT\nw\d+\nhello\d+\n/.test(seen)) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    await writer;
    assert.match(seen, /^PUT\nw(\d+)\nhello\1\n/);
    child.kill("SIGTERM");
    await reader.cancel();
    const status = await child.status;
    assert.equal(status.success, false);
    // the client left: the server ends the stream and removes its watcher
    await waitFor("the watcher to go", () => {
      const c = s.server.member.hub.counts();
      return Promise.resolve(c.synced + c.unsynced + c.victims === 0);
    });
  } finally {
    await s.close();
  }
});

Deno.test("etcdctl: bad input gets etcd's error text", async () => {
  const s = await startTestServer((c) => {
    c.maxTxnOps = 2;
    c.maxRequestBytes = 1024;
  });
  try {
    assert.match(
      await s.fails(["put", "big", "v".repeat(4096)]),
      /etcdserver: request is too large/,
    );
    assert.match(
      await s.fails(["txn"], "\nput a 1\nput b 2\nput c 3\n\n\n"),
      /etcdserver: too many operations in txn request/,
    );
    assert.match(
      await s.fails(["put", "k", "v", "--lease", "1234"]),
      /etcdserver: requested lease not found/,
    );
    await s.ok(["put", "k", "1"]);
    await s.ok(["put", "k", "2"]);
    await s.ok(["put", "k", "3"]);
    await s.ok(["compaction", "3"]);
    assert.match(
      await s.fails(["get", "k", "--rev", "2"]),
      /etcdserver: mvcc: required revision has been compacted/,
    );
    assert.match(
      await s.fails(["get", "k", "--rev", "99"]),
      /etcdserver: mvcc: required revision is a future revision/,
    );
    assert.match(
      await s.fails(["compaction", "2"]),
      /etcdserver: mvcc: required revision has been compacted/,
    );
    // nothing was lost
    assert.equal(await s.ok(["get", "k"]), "k\n3\n");
  } finally {
    await s.close();
  }
});

/** Runs `etcdctl watch …` until its output matches `until`, then stops it; returns the output. */
async function watchUntil(url: string, args: string[], until: RegExp): Promise<string> {
  const child = new Deno.Command("etcdctl", {
    args: ["--endpoints", url, "watch", ...args],
    env: { ETCDCTL_API: "3" },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!until.test(seen)) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  child.kill("SIGTERM");
  await reader.cancel();
  await child.status;
  return seen;
}

Deno.test("etcdctl: watch from a past revision with prev-kv; a compacted start is canceled", async () => {
  const s = await startTestServer();
  try {
    await s.ok(["put", "w", "1"]); // rev 2
    await s.ok(["put", "w", "2"]); // rev 3
    await s.ok(["put", "w", "3"]); // rev 4
    await s.ok(["del", "w"]); // rev 5
    assert.equal(
      await watchUntil(s.url, ["--rev", "3", "--prev-kv", "w"], /DELETE/),
      "PUT\nw\n1\nw\n2\nPUT\nw\n2\nw\n3\nDELETE\nw\n3\nw\n\n",
    );
    await s.ok(["compaction", "4"]);
    const r = await etcdctl(s.url, ["watch", "--rev", "2", "w"]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /watch was canceled \(etcdserver: mvcc: required revision has been compacted\)/,
    );
  } finally {
    await s.close();
  }
});

Deno.test("etcdctl: a txn that only reads is answered without a raft entry", async () => {
  const s = await startTestServer();
  try {
    await s.ok(["put", "r", "1"]);
    const m = s.server.member;
    const before = { commit: m.commitIndex, rev: m.store.rev() };
    assert.equal(
      await s.ok(["txn"], 'value("r") = "1"\n\nget r\n\nget x\n\n'),
      "SUCCESS\n\nr\n1\n",
    );
    assert.deepEqual({ commit: m.commitIndex, rev: m.store.rev() }, before);
  } finally {
    await s.close();
  }
});

Deno.test("etcdctl: lock and elect (etcdctl's concurrency recipes over txn, lease and watch)", async () => {
  const s = await startTestServer();
  try {
    assert.equal(
      await s.ok(["lock", "mylock", "--", "echo", "ran-under-lock"]),
      "ran-under-lock\n",
    );
    // the lock's key is gone with its session
    assert.equal(await s.ok(["get", "mylock", "--prefix", "--keys-only"]), "");
    const child = new Deno.Command("etcdctl", {
      args: ["--endpoints", s.url, "elect", "myelection", "alice"],
      env: { ETCDCTL_API: "3" },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("alice")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    assert.match(seen, /^myelection\/[0-9a-f]+\nalice\n$/);
    assert.equal(await s.ok(["get", "myelection", "--prefix", "--print-value-only"]), "alice\n");
    child.kill("SIGTERM");
    await reader.cancel();
    await child.status;
  } finally {
    await s.close();
  }
});
