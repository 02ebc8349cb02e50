/**
 * `concord util snapshot status|restore` end to end: a snapshot saved by etcdctl 3.4 from an
 * in-process server, its status, a restore into a new data dir, a server started on it serving
 * the same keys and revisions under the new ids, and a tampered file refused.
 */
import assert from "node:assert/strict";
import { runUtil } from "../../lib/cli/util.ts";
import { humanBytes } from "../../lib/cli/util_snapshot.ts";
import { formatId, memberIdFor } from "../../lib/server/member_id.ts";
import { startServer } from "../../lib/api/member_server.ts";
import { etcdctl, startTestServer, testConfig } from "../server/harness.ts";

/** Runs `concord util …` in-process, capturing what it prints. */
async function util(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    const code = await runUtil(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

interface JsonKv {
  key: string;
  value: string;
  create_revision: number;
  mod_revision: number;
  version: number;
  lease?: number;
}

async function getAll(url: string): Promise<{ rev: number; kvs: JsonKv[] }> {
  const r = await etcdctl(url, ["get", "", "--prefix", "-w", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  return { rev: j.header.revision, kvs: j.kvs };
}

Deno.test("util snapshot: status, restore, serve the restored dir; tampered files refused", async () => {
  const work = await Deno.makeTempDir({ prefix: "concord-snaptest-" });
  const file = `${work}/snap.db`;
  let before: { rev: number; kvs: JsonKv[] };
  let leaseHex: string;
  const s = await startTestServer();
  try {
    await s.ok(["put", "a", "1"]);
    await s.ok(["put", "b", "2"]);
    leaseHex = (await s.ok(["lease", "grant", "600"])).match(/lease ([0-9a-f]+) granted/)![1];
    await s.ok(["put", "c", "3", `--lease=${leaseHex}`]);
    await s.ok(["put", "a", "11"]);
    await s.ok(["del", "b"]);
    await s.ok(["user", "add", "root:pw"]);
    before = await getAll(s.url);
    assert.match(await s.ok(["snapshot", "save", file]), /Snapshot saved at/);
  } finally {
    await s.close();
  }
  try {
    // status: the revision the server had, in each format
    const json = await util(["snapshot", "status", file, "-w", "json"]);
    assert.equal(json.code, 0, json.err);
    const st = JSON.parse(json.out);
    assert.equal(st.revision, before.rev);
    // keys: the live and historical revisions, the meta, lease, auth and user records
    assert.ok(st.totalKey > 6, `totalKey ${st.totalKey}`);
    assert.equal(st.totalSize, (await Deno.stat(file)).size - 32);
    const simple = await util(["snapshot", "status", file]);
    assert.equal(
      simple.out,
      `${st.hash.toString(16)}, ${before.rev}, ${st.totalKey}, ${humanBytes(st.totalSize)}`,
    );
    const table = await util(["snapshot", "status", file, "--write-out=table"]);
    assert.match(table.out, /\|\s+HASH\s+\|\s+REVISION\s+\|\s+TOTAL KEYS\s+\|\s+TOTAL SIZE\s+\|/);
    assert.match(table.out, new RegExp(`\\|\\s+${before.rev} \\|`));

    // the CLI as a process
    const child = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "util", "snapshot", "status", file, "-w", "json"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(child.code, 0, new TextDecoder().decode(child.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(child.stdout)), st);

    // restore under a new cluster token: new ids, same data
    const dataDir = `${work}/restored`;
    const peer = "http://localhost:2380";
    const restore = await util([
      "snapshot",
      "restore",
      file,
      "--data-dir",
      dataDir,
      "--name",
      "t",
      "--initial-cluster",
      `t=${peer}`,
      "--initial-cluster-token",
      "restored-token",
      "--initial-advertise-peer-urls",
      peer,
    ]);
    assert.equal(restore.code, 0, restore.err);
    const newId = await memberIdFor([peer], "restored-token");
    assert.match(restore.out, new RegExp(`member ${formatId(newId)}`));
    // a second restore into the same dir is refused
    const again = await util(["snapshot", "restore", file, "--data-dir", dataDir, "--name", "t"]);
    assert.equal(again.code, 1);
    assert.match(again.err, /data-dir ".*restored" exists/);

    const restored = await startServer(testConfig(dataDir), { log: () => {} });
    try {
      await restored.member.ready;
      const url = restored.clientUrls[0];
      assert.equal(restored.member.id, newId);
      const after = await getAll(url);
      assert.equal(after.rev, before.rev);
      assert.deepEqual(after.kvs, before.kvs);
      const leases = await etcdctl(url, ["lease", "list"]);
      assert.match(leases.stdout, new RegExp(leaseHex));
      const users = await etcdctl(url, ["user", "list"]);
      assert.equal(users.stdout, "root\n");
      const members = await etcdctl(url, ["member", "list"]);
      assert.match(members.stdout, new RegExp(`^${formatId(newId)}, started, t, ${peer}`));
      // it keeps serving: the next write gets the next revision
      const put = await etcdctl(url, ["put", "d", "4", "-w", "json"]);
      assert.equal(JSON.parse(put.stdout).header.revision, before.rev + 1);
    } finally {
      await restored.close();
    }
    // and restarts from its own WAL and snapshots afterwards
    const again2 = await startServer(testConfig(dataDir), { log: () => {} });
    try {
      await again2.member.ready;
      assert.equal((await getAll(again2.clientUrls[0])).rev, before.rev + 1);
    } finally {
      await again2.close();
    }

    // --wal-dir: the WAL goes to its own dir; a server given the same --wal-dir serves it
    const walData = `${work}/walsplit`;
    const walDir = `${work}/wal-elsewhere`;
    const split = await util([
      "snapshot",
      "restore",
      file,
      "--data-dir",
      walData,
      "--wal-dir",
      walDir,
    ]);
    assert.equal(split.code, 0, split.err);
    assert.deepEqual([...Deno.readDirSync(`${walData}/member`)].map((e) => e.name), ["snap"]);
    assert.ok([...Deno.readDirSync(walDir)].some((e) => e.name.endsWith(".wal")));
    const twice = await util([
      "snapshot",
      "restore",
      file,
      "--data-dir",
      `${work}/w2`,
      "--wal-dir",
      walDir,
    ]);
    assert.equal(twice.code, 1);
    assert.match(twice.err, /wal-dir ".*wal-elsewhere" exists/);
    const fromSplit = await startServer(
      testConfig(walData, (c) => (c.walDir = walDir)),
      { log: () => {} },
    );
    try {
      await fromSplit.member.ready;
      assert.deepEqual((await getAll(fromSplit.clientUrls[0])).kvs, before.kvs);
    } finally {
      await fromSplit.close();
    }

    // tampering: one byte of the page file, or the trailer, is caught by the SHA-256
    const bytes = await Deno.readFile(file);
    for (const at of [Math.floor(bytes.length / 2), bytes.length - 1]) {
      const bad = bytes.slice();
      bad[at] ^= 0x40;
      const badFile = `${work}/bad-${at}.db`;
      await Deno.writeFile(badFile, bad);
      const status = await util(["snapshot", "status", badFile]);
      assert.equal(status.code, 1);
      assert.match(status.err, /integrity check failed/);
      const dir = `${work}/bad-${at}`;
      const r = await util(["snapshot", "restore", badFile, "--data-dir", dir]);
      assert.equal(r.code, 1);
      assert.match(r.err, /integrity check failed/);
      assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing left behind");
    }
    const missing = await util(["snapshot", "status", `${work}/missing.db`]);
    assert.equal(missing.code, 1);
    // a bare page file (no trailer) is read with --skip-hash-check
    await Deno.writeFile(`${work}/bare.db`, bytes.subarray(0, bytes.length - 32));
    const bare = await util(["snapshot", "status", `${work}/bare.db`, "--skip-hash-check"]);
    assert.equal(bare.code, 0, bare.err);
    assert.equal(bare.out, simple.out);
    // a file with a good trailer that is not a page file (an etcd bolt file, say) is named so
    const junk = new Uint8Array(8192).fill(7);
    const sha = new Uint8Array(await crypto.subtle.digest("SHA-256", junk));
    await Deno.writeFile(`${work}/junk.db`, new Uint8Array([...junk, ...sha]));
    const notPages = await util(["snapshot", "status", `${work}/junk.db`]);
    assert.equal(notPages.code, 1);
    assert.match(notPages.err, /not a Concord page file/);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("util snapshot: humanBytes follows go-humanize", () => {
  assert.equal(humanBytes(5), "5 B");
  assert.equal(humanBytes(2100000), "2.1 MB");
  assert.equal(humanBytes(24576), "25 kB");
  assert.equal(humanBytes(999), "999 B");
});
