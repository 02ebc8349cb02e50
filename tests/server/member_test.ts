import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { defaultConfig } from "../../lib/server/config.ts";
import { DataDirLockedError, Member } from "../../lib/server/member.ts";
import { RequestKind } from "../../lib/server/request.ts";
import {
  AuthEnableRequestSchema,
  AuthRoleAddRequestSchema,
  AuthUserAddRequestSchema,
  AuthUserGrantRoleRequestSchema,
  CompactionRequestSchema,
  PutRequestSchema,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { hashPassword } from "../../lib/auth/password.ts";
import { applyRange } from "../../lib/mvcc/applier.ts";
import { waitFor } from "./harness.ts";

const enc = new TextEncoder();

function config(dir: string) {
  const cfg = defaultConfig("t");
  cfg.dataDir = dir;
  cfg.backendBatchIntervalMs = 10;
  return cfg;
}

Deno.test("member: boots a cluster of one, applies puts through raft, replays after restart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let m = await Member.start(config(dir));
    await m.ready;
    assert.ok(m.isLeader);
    const revs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const a = await m.propose({
        kind: RequestKind.Put,
        req: create(PutRequestSchema, { key: enc.encode(`k${i}`), value: enc.encode(`v${i}`) }),
      });
      assert.equal(a.kind, "put");
      if (a.kind === "put") revs.push(a.r.header.revision);
    }
    assert.deepEqual(revs, [2, 3, 4, 5, 6]);
    await m.linearizableRead();
    const id = m.id;
    const applied = m.appliedIndex;
    await m.stop();
    m = await Member.start(config(dir));
    await m.ready;
    assert.equal(m.id, id);
    assert.ok(m.appliedIndex >= applied);
    const r = applyRange(m.store, { key: enc.encode("k"), rangeEnd: enc.encode("l") });
    assert.equal(r.count, 5);
    assert.equal(r.header.revision, 6);
    assert.equal(r.kvs[4].modRevision, 6);
    await m.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("member: a second member on the same data dir gets a clear error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = await Member.start(config(dir));
    await assert.rejects(
      () => Member.start(config(dir)),
      (e: unknown) =>
        e instanceof DataDirLockedError && /is in use by another member/.test(e.message),
    );
    await m.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("member: snapshots every --snapshot-count entries and restarts from the newest", async () => {
  const dir = await Deno.makeTempDir();
  const cfg = () => {
    const c = config(dir);
    c.snapshotCount = 10;
    c.maxSnapshots = 2;
    return c;
  };
  try {
    let m = await Member.start(cfg());
    await m.ready;
    for (let i = 0; i < 45; i++) {
      await m.propose({
        kind: RequestKind.Put,
        req: create(PutRequestSchema, { key: enc.encode(`s${i}`), value: enc.encode(`v${i}`) }),
      });
    }
    // a snapshot is due on the apply that finds --snapshot-count entries since the last one
    await waitFor("a snapshot", () => Promise.resolve(m.snapshotIndex >= 30));
    await m.stop();
    const snapIndex = m.snapshotIndex;
    const snaps = [...Deno.readDirSync(`${dir}/member/snap`)].map((e) => e.name)
      .filter((n) => n.endsWith(".snap"));
    assert.equal(snaps.length, 2, `kept ${snaps}`);

    m = await Member.start(cfg());
    await m.ready;
    // booted from the snapshot: raft starts applied at its index; the membership came with it
    assert.equal(m.snapshotIndex, snapIndex);
    assert.ok(m.appliedIndex >= snapIndex);
    assert.deepEqual(m.membership.list().map((r) => r.id), [m.id]);
    assert.equal(m.membership.get(m.id)?.name, "t");
    const r = applyRange(m.store, { key: enc.encode("s"), rangeEnd: enc.encode("t") });
    assert.equal(r.count, 45);
    assert.equal(r.header.revision, 46);
    const a = await m.propose({
      kind: RequestKind.Put,
      req: create(PutRequestSchema, { key: enc.encode("after"), value: enc.encode("x") }),
    });
    assert.equal(a.kind === "put" ? a.r.header.revision : 0, 47);
    await m.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("member: a request the apply refuses is answered with the error and the member goes on", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = await Member.start(config(dir));
    await m.ready;
    // refused by the apply itself (as etcd's), which must not stop
    await assert.rejects(
      () =>
        m.propose({
          kind: RequestKind.Compaction,
          req: create(CompactionRequestSchema, { revision: -1n }),
        }),
      /required revision has been compacted/,
    );
    await assert.rejects(
      () =>
        m.propose({
          kind: RequestKind.Compaction,
          req: create(CompactionRequestSchema, { revision: 99n }),
        }),
      /required revision is a future revision/,
    );
    const a = await m.propose({
      kind: RequestKind.Put,
      req: create(PutRequestSchema, { key: enc.encode("k"), value: enc.encode("v") }),
    });
    assert.equal(a.kind === "put" ? a.r.header.revision : 0, 2);
    assert.equal(m.failure, null);
    await m.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("member: with auth enabled, writes are checked again at apply with the proposer's auth revision", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = await Member.start(config(dir));
    await m.ready;
    const hashed = await hashPassword("pw", { iterations: 1000 });
    await m.propose({
      kind: RequestKind.UserAdd,
      req: create(AuthUserAddRequestSchema, { name: "root", hashedPassword: hashed }),
    });
    await m.propose({
      kind: RequestKind.UserGrantRole,
      req: create(AuthUserGrantRoleRequestSchema, { user: "root", role: "root" }),
    });
    await m.propose({ kind: RequestKind.AuthEnable, req: create(AuthEnableRequestSchema) });
    const put = (key: string) => ({
      kind: RequestKind.Put,
      req: create(PutRequestSchema, { key: enc.encode(key), value: enc.encode("v") }),
    } as const);
    const now = m.auth.revision;
    // a root write at the current auth revision goes through
    const ok = await m.propose(put("a"), { username: "root", revision: now });
    assert.equal(ok.kind, "put");
    // a request authorized before the last auth change is refused at apply
    await assert.rejects(
      () => m.propose(put("b"), { username: "root", revision: now - 1 }),
      /etcdserver: revision of auth store is old/,
    );
    // a client request without a user (proposed before auth was enabled, say) is refused
    await assert.rejects(
      () => m.propose(put("c"), { username: "", revision: 0 }),
      /etcdserver: user name is empty/,
    );
    // the member's own requests (expired leases) carry no auth and are not checked
    const own = await m.propose(put("d"));
    assert.equal(own.kind, "put");
    assert.deepEqual(
      applyRange(m.store, { key: enc.encode("a"), rangeEnd: enc.encode("e") }).kvs.map((kv) =>
        new TextDecoder().decode(kv.key)
      ),
      ["a", "d"],
    );
    await m.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("member: auth changes need the root role at apply", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = await Member.start(config(dir));
    await m.ready;
    const hashed = await hashPassword("pw", { iterations: 1000 });
    for (const name of ["root", "bob"]) {
      await m.propose({
        kind: RequestKind.UserAdd,
        req: create(AuthUserAddRequestSchema, { name, hashedPassword: hashed }),
      });
    }
    await m.propose({
      kind: RequestKind.UserGrantRole,
      req: create(AuthUserGrantRoleRequestSchema, { user: "root", role: "root" }),
    });
    await m.propose({ kind: RequestKind.AuthEnable, req: create(AuthEnableRequestSchema) });
    const addRole = {
      kind: RequestKind.RoleAdd,
      req: create(AuthRoleAddRequestSchema, { name: "r" }),
    } as const;
    await assert.rejects(
      () => m.propose(addRole, { username: "bob", revision: m.auth.revision }),
      /etcdserver: permission denied/,
    );
    await m.propose(addRole, { username: "root", revision: m.auth.revision });
    assert.deepEqual(m.auth.roleList(), ["r"]);
    await m.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("member: periodic auto-compaction compacts history older than the retention", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const c = config(dir);
    c.autoCompactionMode = "periodic";
    c.autoCompactionRetention = 500; // ms: samples every 50 ms
    const m = await Member.start(c);
    await m.ready;
    for (let i = 0; i < 5; i++) {
      await m.propose({
        kind: RequestKind.Put,
        req: create(PutRequestSchema, { key: enc.encode("k"), value: enc.encode(`v${i}`) }),
      });
    }
    await waitFor("an auto compaction", () => Promise.resolve(m.store.compactRev() > 1));
    assert.ok(m.store.compactRev() <= m.store.rev());
    await m.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
