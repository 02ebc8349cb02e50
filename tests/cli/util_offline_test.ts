/**
 * `concord util defrag|hashkv|verify` on the data dir of a real member: written to, then
 * stopped. hashkv equals what the HashKV RPC answered while it served; defrag shrinks the file
 * and keeps every key (the member restarts on it and serves them); all three refuse while a
 * member holds the dir; verify passes on a sound dir and names what is wrong in copies
 * corrupted in specific ways.
 */
import assert from "node:assert/strict";
import { startServer } from "../../lib/api/member_server.ts";
import { Client } from "../../lib/client/client.ts";
import { runDefragUtil } from "../../lib/cli/util_defrag.ts";
import { runHashKvUtil } from "../../lib/cli/util_hashkv.ts";
import { runVerifyUtil } from "../../lib/cli/util_verify.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";
import { openBackend } from "../../lib/backend/open.ts";
import { MvccStore } from "../../lib/mvcc/kv_store.ts";
import { revToBytes } from "../../lib/mvcc/revision.ts";
import { encodeKeyValue } from "../../lib/mvcc/kv_codec.ts";
import { testConfig } from "../server/harness.ts";
import { runTool as tool } from "./util_run.ts";

const enc = new TextEncoder();

interface Recorded {
  dir: string;
  /** HashKV answers (hash, compact revision) while serving, by revision asked (0 = current). */
  online: Map<number, { hash: number; compactRev: number; headerRev: number }>;
  keys: Map<string, string>;
}

/**
 * A member's data dir with history, deletions, a compaction and free pages; records the
 * online HashKV at several revisions before it stops.
 */
async function makeDataDir(): Promise<Recorded> {
  const dir = await Deno.makeTempDir({ prefix: "concord-util-offline-" });
  // raft snapshots every 25 entries: the WAL names some, and their files exist
  // (small WAL segments: each corrupted copy below copies the WAL)
  const server = await startServer(testConfig(dir, (c) => c.snapshotCount = 25), {
    log: () => {},
    walSegmentBytes: 256 * 1024,
  });
  const online = new Map<number, { hash: number; compactRev: number; headerRev: number }>();
  const keys = new Map<string, string>();
  try {
    await server.member.ready;
    const c = new Client({ endpoints: server.clientUrls[0] });
    try {
      const big = "x".repeat(3000);
      for (let i = 0; i < 60; i++) {
        await c.put(`k${i % 20}`, `${big}${i}`);
        keys.set(`k${i % 20}`, `${big}${i}`);
      }
      for (let i = 0; i < 10; i++) {
        await c.kv.delete(`k${i}`);
        keys.delete(`k${i}`);
      }
      const r = await c.put("after", "compaction");
      keys.set("after", "compaction");
      await c.kv.compact(Number(r.header!.revision) - 5, { physical: true });
      for (let i = 0; i < 5; i++) {
        await c.put(`late${i}`, `v${i}`);
        keys.set(`late${i}`, `v${i}`);
      }
      for (const rev of [0, Number(r.header!.revision) - 2]) {
        const h = await c.maintenance.hashKV(rev);
        online.set(rev, {
          hash: h.hash,
          compactRev: Number(h.compactRevision),
          headerRev: Number(h.header!.revision),
        });
      }
    } finally {
      await c.close();
    }
  } finally {
    await server.close();
  }
  return { dir, online, keys };
}

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyDir(`${from}/${e.name}`, `${to}/${e.name}`);
    else await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

Deno.test("util hashkv, defrag, verify on a stopped member's data dir", async (t) => {
  const rec = await makeDataDir();
  const db = `${rec.dir}/member/snap/db`;
  try {
    await t.step("hashkv equals the online HashKV at the same revisions", async () => {
      const cur = rec.online.get(0)!;
      const simple = await tool(runHashKvUtil, ["--data-dir", rec.dir]);
      assert.equal(simple.code, 0, simple.err);
      assert.equal(simple.out, `${cur.hash}, ${cur.headerRev}, ${cur.compactRev}`);
      for (const [rev, h] of rec.online) {
        if (rev === 0) continue;
        const json = await tool(runHashKvUtil, [db, "--rev", String(rev), "-w", "json"]);
        assert.equal(json.code, 0, json.err);
        assert.deepEqual(JSON.parse(json.out), {
          hash: h.hash,
          hashRevision: rev,
          compactRevision: h.compactRev,
        });
      }
      const table = await tool(runHashKvUtil, [db, "-w", "table"]);
      const w = [String(cur.hash).length, String(cur.headerRev).length];
      assert.match(
        table.out,
        /^\+-+\+-+\+-+\+\n\|\s+HASH\s+\| HASH REVISION \| COMPACT REVISION \|/,
      );
      assert.ok(
        table.out.includes(
          `| ${String(cur.hash).padStart(Math.max(w[0], 4))} | ${
            String(cur.headerRev).padStart(13)
          } | ${String(cur.compactRev).padStart(16)} |`,
        ),
        table.out,
      );
      const fields = await tool(runHashKvUtil, [db, "-w", "fields"]);
      assert.equal(
        fields.out,
        `"Hash" : ${cur.hash}\n"Hash revision" : ${cur.headerRev}\n"Compact revision" : ${cur.compactRev}`,
      );
      // etcdutl's failures and exit codes
      const compacted = await tool(runHashKvUtil, [db, "--rev", "2"]);
      assert.equal(compacted.code, 1);
      assert.equal(compacted.err, "Error: mvcc: required revision has been compacted");
      const future = await tool(runHashKvUtil, [db, "--rev", "100000"]);
      assert.equal(future.code, 1);
      assert.equal(future.err, "Error: mvcc: required revision is a future revision");
      const bad = await tool(runHashKvUtil, [db, "-w", "yaml"]);
      assert.deepEqual([bad.code, bad.err], [4, "Error: unsupported output format"]);
      const pb = await tool(runHashKvUtil, [db, "-w", "protobuf"]);
      assert.deepEqual([pb.code, pb.err], [4, "Error: protobuf not supported as output format"]);
      const missing = await tool(runHashKvUtil, [`${rec.dir}/nope.db`]);
      assert.deepEqual([missing.code, missing.err], [
        1,
        `Error: stat ${rec.dir}/nope.db: no such file or directory`,
      ]);
      assert.equal(await Deno.stat(`${rec.dir}/nope.db`).catch(() => null), null);
      const none = await tool(runHashKvUtil, []);
      assert.deepEqual([none.code, none.err], [1, "Error: accepts 1 arg(s), received 0"]);
    });

    await t.step("verify passes on the sound dir", async () => {
      const r = await tool(runVerifyUtil, ["--data-dir", rec.dir]);
      assert.equal(r.code, 0, r.out + r.err);
      assert.match(r.out, /verification of .* successful$/);
      assert.doesNotMatch(r.out, /^error:/m);
      // on a terminal, progress is drawn and cleared at the end; never in the output
      let drawn = "";
      const tty = await tool(runVerifyUtil, ["--data-dir", rec.dir], (t) => drawn += t);
      assert.equal(tty.out, r.out);
      const clear = "\r\x1b[K";
      assert.ok(drawn.startsWith(`${clear}verify: checking `), JSON.stringify(drawn));
      assert.match(drawn, /verify: checking \d+ pages of .*db…/);
      assert.ok(drawn.endsWith("\r\x1b[K"), JSON.stringify(drawn));
      assert.doesNotMatch(r.out + r.err, /\r/);
    });

    await t.step("defrag shrinks the file, keeps the hash, and the member serves it", async () => {
      const before = (await Deno.stat(db)).size;
      const r = await tool(runDefragUtil, ["--data-dir", rec.dir]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, "");
      const lines = r.err.split("\n");
      assert.match(lines[0], /^\S+Z\tINFO\tdefragmenting\t\{"path": ".*member\/snap\/db", /);
      assert.match(lines[1], /\tINFO\tfinished defragmenting directory\t\{"path": /);
      assert.match(lines[1], /"took": "[\d.]+(ms|s|µs)"\}$/);
      const after = (await Deno.stat(db)).size;
      assert.ok(after < before, `file ${before} -> ${after} bytes`);
      assert.equal(await Deno.stat(`${db}.defrag.tmp`).catch(() => null), null);
      const cur = rec.online.get(0)!;
      const h = await tool(runHashKvUtil, ["--data-dir", rec.dir]);
      assert.equal(h.out, `${cur.hash}, ${cur.headerRev}, ${cur.compactRev}`);
      const v = await tool(runVerifyUtil, ["--data-dir", rec.dir]);
      assert.equal(v.code, 0, v.out);
      // a member restarts on the defragmented file and serves every key
      const server = await startServer(testConfig(rec.dir), { log: () => {} });
      try {
        await server.member.ready;
        const c = new Client({ endpoints: server.clientUrls[0] });
        try {
          const all = await c.range("\0", { fromKey: true });
          const got = new Map(
            all.kvs.map((
              kv,
            ) => [new TextDecoder().decode(kv.key), new TextDecoder().decode(kv.value)]),
          );
          assert.deepEqual(got, rec.keys);
          // all three refuse while the member holds the data dir
          const d = await tool(runDefragUtil, ["--data-dir", rec.dir]);
          assert.equal(d.code, 1);
          assert.match(
            d.err,
            /^Error: Failed to defragment etcd data\[.*\] \(data dir .* is in use by another member \(the WAL is locked\); stop the other process/,
          );
          const hk = await tool(runHashKvUtil, ["--data-dir", rec.dir]);
          assert.equal(hk.code, 1);
          assert.match(
            hk.err,
            /^Error: data dir .* is in use by another member \(the backend file/,
          );
          const vf = await tool(runVerifyUtil, ["--data-dir", rec.dir]);
          assert.equal(vf.code, 1);
          assert.match(
            vf.err,
            /^Error: data dir .* is in use by another member \(the WAL is locked\)/,
          );
        } finally {
          await c.close();
        }
      } finally {
        await server.close();
      }
    });

    await t.step("defrag: etcdutl's failures", async () => {
      const missing = await tool(runDefragUtil, ["--data-dir", `${rec.dir}/nope`]);
      assert.equal(missing.code, 1);
      assert.equal(
        missing.err,
        `Error: Failed to defragment etcd data[${rec.dir}/nope] (stat ${rec.dir}/nope/member/snap/db: no such file or directory)`,
      );
      const none = await tool(runDefragUtil, []);
      assert.deepEqual([none.code, none.err], [1, `Error: required flag(s) "data-dir" not set`]);
      const unknown = await tool(runDefragUtil, ["--data-dir", rec.dir, "--bogus"]);
      assert.deepEqual([unknown.code, unknown.err], [1, "Error: unknown flag: --bogus"]);
    });

    // verify on copies corrupted in specific ways
    const corrupt = async (
      name: string,
      damage: (dir: string) => Promise<void>,
      expect: RegExp,
    ) => {
      await t.step(`verify names the problem: ${name}`, async () => {
        const copy = `${rec.dir}-${name.replaceAll(" ", "-")}`;
        await copyDir(rec.dir, copy);
        try {
          await damage(copy);
          const r = await tool(runVerifyUtil, ["--data-dir", copy]);
          assert.equal(r.code, 1, r.out + r.err);
          assert.match(r.out, expect);
          assert.match(r.out, /failed: \d+ error\(s\)$/);
        } finally {
          await Deno.remove(copy, { recursive: true });
        }
      });
    };
    /** Rewrites the copy's MVCC data with the real backend (valid pages, wrong content). */
    const edit =
      (fn: (store: MvccStore, b: Awaited<ReturnType<typeof openBackend>>) => void) =>
      async (dir: string) => {
        const b = await openBackend(new RealDisk(), `${dir}/member/snap/db`);
        const store = MvccStore.open(b);
        fn(store, b);
        await store.close();
        await b.close();
      };

    await corrupt(
      "consistent index beyond the WAL commit",
      edit((s) => {
        const { index, term } = s.consistentIndex();
        s.setConsistentIndex(index + 1000, term);
      }),
      /^error: backend\.ConsistentIndex \(\d+\) must be <= WAL\.HardState\.commit \(\d+\)$/m,
    );
    await corrupt(
      "term beyond the WAL",
      edit((s) => {
        const { index, term } = s.consistentIndex();
        s.setConsistentIndex(index, term + 5);
      }),
      /^error: backend\.Term \(\d+\) must be <= WAL\.HardState\.term, \(\d+\)$/m,
    );
    await corrupt(
      "version not monotonic",
      edit((s, b) => {
        const rev = s.rev();
        const kv = s.range({ key: "late4", end: undefined }).kvs[0];
        b.write.put(
          "key",
          revToBytes(rev + 1, 0),
          encodeKeyValue({ ...kv, modRevision: rev + 1, version: kv.version + 3 }),
        );
      }),
      /^error: revision \{\d+ 0\} of key "late4": version 4 \(create \d+\) does not follow version 1 .*revisions are not monotonic$/m,
    );
    await corrupt(
      "mod revision not its key's",
      edit((s, b) => {
        const rev = s.rev();
        const kv = s.range({ key: "late3", end: undefined }).kvs[0];
        b.write.put(
          "key",
          revToBytes(rev + 1, 0),
          encodeKeyValue({ ...kv, modRevision: rev + 7, version: kv.version + 1 }),
        );
      }),
      /^error: revision \{(\d+) 0\} of key "late3": mod revision \d+, not \1$/m,
    );
    await corrupt(
      "compacted revision left behind",
      edit((s, b) => {
        b.write.put(
          "key",
          revToBytes(37, 0),
          encodeKeyValue({
            key: enc.encode("k15"),
            value: enc.encode("old"),
            createRevision: 17,
            modRevision: 37,
            version: 2,
            lease: 0n,
          }),
        );
        void s;
      }),
      /^error: revision \{57 0\} of key "k15": the compaction at 67 should have removed revision 37$/m,
    );
    await corrupt(
      "a flipped bit in a page",
      async (dir) => {
        const path = `${dir}/member/snap/db`;
        const f = await Deno.open(path, { read: true, write: true });
        try {
          // page 3 onwards are tree pages: flip a byte in the middle of the file's used part
          const size = (await f.stat()).size;
          const at = Math.floor(size / 4096 / 2) * 4096 + 2000;
          const b = new Uint8Array(1);
          await f.seek(at, Deno.SeekMode.Start);
          await f.read(b);
          b[0] ^= 0x40;
          await f.seek(at, Deno.SeekMode.Start);
          await f.write(b);
        } finally {
          f.close();
        }
      },
      /^error: page file .*: (page file corrupt: )?page \d+: .*$/m,
    );
    await corrupt(
      "both meta pages torn",
      async (dir) => {
        const path = `${dir}/member/snap/db`;
        const f = await Deno.open(path, { read: true, write: true });
        try {
          await f.seek(20, Deno.SeekMode.Start);
          await f.write(new Uint8Array(8).fill(0xee));
          await f.seek(4096 + 20, Deno.SeekMode.Start);
          await f.write(new Uint8Array(8).fill(0xee));
        } finally {
          f.close();
        }
      },
      /^error: page file .*: no valid meta page \(meta 0: .*; meta 1: .*\)$/m,
    );
    await corrupt(
      "a flipped bit in the WAL",
      async (dir) => {
        const walDir = `${dir}/member/wal`;
        const segs = [...Deno.readDirSync(walDir)].map((e) => e.name).filter((n) =>
          n.endsWith(".wal")
        ).sort();
        const last = `${walDir}/${segs[segs.length - 1]}`;
        const data = await Deno.readFile(last);
        // flip a byte inside the records (not the zeroed preallocated tail)
        let end = data.length;
        while (end > 0 && data[end - 1] === 0) end--;
        data[Math.floor(end / 2)] ^= 0x01;
        await Deno.writeFile(last, data);
      },
      /^error: .*(crc|CRC|corrupt|checksum).*$/m,
    );
    await corrupt(
      "page file missing",
      async (dir) => await Deno.remove(`${dir}/member/snap/db`),
      /^error: page file .*member\/snap\/db is missing$/m,
    );
    await corrupt(
      "consistent index below the snapshot",
      edit((s) => s.setConsistentIndex(2, 1)),
      /^error: backend\.ConsistentIndex \(2\) must be >= last snapshot index \(\d+\)$/m,
    );
    await corrupt(
      "the WAL's newest snapshot file missing",
      async (dir) => {
        const snap = `${dir}/member/snap`;
        const names = [...Deno.readDirSync(snap)].map((e) => e.name).filter((n) =>
          n.endsWith(".snap")
        ).sort();
        assert.ok(names.length > 0, "the member took raft snapshots");
        await Deno.remove(`${snap}/${names[names.length - 1]}`);
      },
      /^error: snapshot .*\.snap is missing: the WAL's newest snapshot \(index \d+\) has no file, the member cannot start$/m,
    );
  } finally {
    await Deno.remove(rec.dir, { recursive: true });
  }
});
