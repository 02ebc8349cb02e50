/**
 * A member's log as etcd's: JSON lines with level, ts, caller, msg and fields, captured here
 * through the Logger given to it. Start-up events, the leader, alarms, compaction and slow
 * applies are logged; a put on its own logs nothing, at any level.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { createLogger, type LogFields } from "../../lib/base/log.ts";
import { startServer } from "../../lib/api/member_server.ts";
import { RequestKind } from "../../lib/server/request.ts";
import {
  AlarmRequest_AlarmAction,
  AlarmRequestSchema,
  AlarmType,
  CompactionRequestSchema,
  PutRequestSchema,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { testConfig } from "./harness.ts";

interface Line extends LogFields {
  level: string;
  ts: string;
  caller?: string;
  msg: string;
}

const enc = new TextEncoder();

Deno.test("member log: etcd's events as JSON lines; a put logs nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-log-" });
  const lines: Line[] = [];
  const log = createLogger({ level: "debug", write: (l) => lines.push(JSON.parse(l)) });
  const find = (msg: string) => lines.find((l) => l.msg === msg);
  try {
    const server = await startServer(testConfig(dir), { log });
    try {
      await server.member.published;
      const m = server.member;
      const keys = Object.keys(find("opened backend db") ?? {});
      assert.deepEqual(keys.slice(0, 4), ["level", "ts", "caller", "msg"]);
      assert.match(
        String(find("opened backend db")?.ts),
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
      );
      assert.equal(find("opened backend db")?.caller, "server/bootstrap");
      assert.match(String(find("opened backend db")?.took), /^[\d.]+(µs|ms|s)$/);
      assert.equal(find("created WAL for a new cluster")?.members, 1);
      const elected = find("elected leader");
      assert.equal(elected?.level, "info");
      assert.equal(elected?.term, 2);
      assert.equal(elected?.leader, elected?.["local-member-id"]);

      // the hot path: puts (and their batch commits) log nothing, even at debug
      const before = lines.length;
      for (let i = 0; i < 20; i++) {
        await m.propose({
          kind: RequestKind.Put,
          req: create(PutRequestSchema, { key: enc.encode(`k${i}`), value: enc.encode("v") }),
        });
      }
      await new Promise((r) => setTimeout(r, 60)); // two backend batch intervals
      assert.deepEqual(lines.slice(before), []);

      const alarm = (action: AlarmRequest_AlarmAction) =>
        m.propose({
          kind: RequestKind.Alarm,
          req: create(AlarmRequestSchema, { action, memberID: m.id, alarm: AlarmType.NOSPACE }),
        });
      await alarm(AlarmRequest_AlarmAction.ACTIVATE);
      assert.equal(find("alarm raised")?.level, "warn");
      assert.equal(find("alarm raised")?.alarm, "NOSPACE");
      await alarm(AlarmRequest_AlarmAction.DEACTIVATE);
      assert.equal(find("alarm disarmed")?.alarm, "NOSPACE");
      await m.propose({
        kind: RequestKind.Compaction,
        req: create(CompactionRequestSchema, { revision: 5n }),
      });
      assert.equal(find("finished scheduled compaction")?.["compact-revision"], 5);
      assert.equal(find("apply request took too long"), undefined);
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("member log: an apply slower than --experimental-warning-apply-duration warns with the request", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-log-" });
  const lines: Line[] = [];
  const log = createLogger({ level: "warn", write: (l) => lines.push(JSON.parse(l)) });
  try {
    // a negative threshold: every apply is "slow", whatever the timer's resolution
    const server = await startServer(testConfig(dir, (c) => (c.warningApplyDurationMs = -1)), {
      log,
    });
    try {
      await server.member.ready;
      await server.member.propose({
        kind: RequestKind.Put,
        req: create(PutRequestSchema, { key: enc.encode("slow-key"), value: enc.encode("abc") }),
      });
      const slow = lines.filter((l) => l.msg === "apply request took too long");
      assert.ok(slow.length >= 1);
      const put = slow.find((l) => String(l.request).includes("put:"));
      assert.match(String(put?.request), /^header:<ID:\d+ > put:<key:"slow-key" value_size:3 >$/);
      assert.equal(put?.level, "warn");
      assert.match(String(put?.["expected-duration"]), /^-?[\d.]+(µs|ms)$/);
      assert.ok(lines.every((l) => l.level !== "info"), "info lines are below --log-level warn");
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
