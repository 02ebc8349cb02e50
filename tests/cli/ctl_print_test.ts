/**
 * ctl's printers against etcdctl 3.4.23's own output, captured from a real etcd 3.4 member
 * for the same responses (the expected strings below are etcdctl's bytes).
 */
import assert from "node:assert/strict";
import type { CtlOutput, Header, KV, MemberListResp, StatusResp } from "../../lib/cli/ctl_print.ts";
import { SimplePrinter } from "../../lib/cli/ctl_print_simple.ts";
import { JsonPrinter } from "../../lib/cli/ctl_print_json.ts";
import { FieldsPrinter } from "../../lib/cli/ctl_print_fields.ts";
import { TablePrinter } from "../../lib/cli/ctl_print_table.ts";
import { goQuote, jsonString } from "../../lib/cli/ctl_gofmt.ts";
import { CtlExit } from "../../lib/cli/ctl_exit.ts";

const enc = new TextEncoder();

function capture(): CtlOutput & { stdout: string; stderr: string } {
  const o = {
    stdout: "",
    stderr: "",
    out(t: string | Uint8Array) {
      o.stdout += typeof t === "string" ? t : new TextDecoder().decode(t);
    },
    err(t: string) {
      o.stderr += t;
    },
  };
  return o;
}

const H = (revision: bigint): Header => ({
  clusterId: 324952591200643719n,
  memberId: 3319814642761637952n,
  revision,
  raftTerm: 2n,
});

const kv = (k: string, v: string, c: bigint, m: bigint, ver: bigint, lease = 0n): KV => ({
  key: enc.encode(k),
  value: enc.encode(v),
  createRevision: c,
  modRevision: m,
  version: ver,
  lease,
});

const HDR6 = '"ClusterID" : 324952591200643719\n"MemberID" : 3319814642761637952\n';

Deno.test("get: simple, --hex, json and fields as etcdctl prints them", () => {
  const r = {
    header: H(6n),
    kvs: [kv("foo", "bar", 2n, 5n, 4n), kv("foo2", "bar 2", 6n, 6n, 1n)],
    more: false,
    count: 2n,
  };
  let o = capture();
  new SimplePrinter(o, false).get(r);
  assert.equal(o.stdout, "foo\nbar\nfoo2\nbar 2\n");
  o = capture();
  new SimplePrinter(o, true).get(r);
  assert.equal(
    o.stdout,
    "\\x66\\x6f\\x6f\n\\x62\\x61\\x72\n\\x66\\x6f\\x6f\\x32\n\\x62\\x61\\x72\\x20\\x32\n",
  );
  o = capture();
  new JsonPrinter(o).get(r);
  assert.equal(
    o.stdout,
    '{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":6,"raft_term":2},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":5,"version":4,"value":"YmFy"},{"key":"Zm9vMg==","create_revision":6,"mod_revision":6,"version":1,"value":"YmFyIDI="}],"count":2}\n',
  );
  o = capture();
  new FieldsPrinter(o).get(r);
  assert.equal(
    o.stdout,
    HDR6 + '"Revision" : 6\n"RaftTerm" : 2\n' +
      '"Key" : "foo"\n"CreateRevision" : 2\n"ModRevision" : 5\n"Version" : 4\n"Value" : "bar"\n"Lease" : 0\n' +
      '"Key" : "foo2"\n"CreateRevision" : 6\n"ModRevision" : 6\n"Version" : 1\n"Value" : "bar 2"\n"Lease" : 0\n' +
      '"More" : false\n"Count" : 2\n',
  );
  o = capture();
  const sp = new SimplePrinter(o, false);
  sp.valueOnly = true;
  sp.get(r);
  assert.equal(o.stdout, "bar\nbar 2\n");
});

Deno.test("put and del with previous key-values; table is refused with exit 4", () => {
  let o = capture();
  new JsonPrinter(o).put({ header: H(8n), prevKv: kv("foo", "baz", 2n, 7n, 5n) });
  assert.equal(
    o.stdout,
    '{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":8,"raft_term":2},"prev_kv":{"key":"Zm9v","create_revision":2,"mod_revision":7,"version":5,"value":"YmF6"}}\n',
  );
  o = capture();
  new SimplePrinter(o, false).put({ header: H(8n), prevKv: kv("foo", "bar", 2n, 7n, 5n) });
  assert.equal(o.stdout, "OK\nfoo\nbar\n");
  o = capture();
  new FieldsPrinter(o).del({
    header: H(15n),
    deleted: 1n,
    prevKvs: [kv("xfields", "1", 14n, 14n, 1n)],
  });
  assert.equal(
    o.stdout,
    HDR6 + '"Revision" : 15\n"RaftTerm" : 2\n"Deleted" : 1\n"PrevKey" : "xfields"\n' +
      '"PrevCreateRevision" : 14\n"PrevModRevision" : 14\n"PrevVersion" : 1\n"PrevValue" : "1"\n"PrevLease" : 0\n',
  );
  o = capture();
  new JsonPrinter(o).del({
    header: H(13n),
    deleted: 1n,
    prevKvs: [kv("xjson", "1", 12n, 12n, 1n)],
  });
  assert.equal(
    o.stdout,
    '{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":13,"raft_term":2},"deleted":1,"prev_kvs":[{"key":"eGpzb24=","create_revision":12,"mod_revision":12,"version":1,"value":"MQ=="}]}\n',
  );
  assert.throws(
    () => new TablePrinter(capture()).put({ header: H(1n) }),
    (e) =>
      e instanceof CtlExit && e.code === 4 && e.message === "table not supported as output format",
  );
});

Deno.test("txn in every format", () => {
  const sub = (rev: bigint): Header => ({
    clusterId: 0n,
    memberId: 0n,
    revision: rev,
    raftTerm: 0n,
  });
  const r = {
    header: H(21n),
    succeeded: true,
    responses: [
      { response: { case: "responsePut" as const, value: { header: sub(21n) } } },
      {
        response: {
          case: "responseRange" as const,
          value: {
            header: sub(21n),
            kvs: [kv("foo", "baz", 2n, 9n, 7n), kv("foo2", "bar 2", 6n, 6n, 1n)],
            more: false,
            count: 2n,
          },
        },
      },
      {
        response: {
          case: "responseDeleteRange" as const,
          value: { header: sub(21n), deleted: 0n, prevKvs: [] },
        },
      },
    ],
  };
  let o = capture();
  new SimplePrinter(o, false).txn(r);
  assert.equal(o.stdout, "SUCCESS\n\nOK\n\nfoo\nbaz\nfoo2\nbar 2\n\n0\n");
  o = capture();
  new JsonPrinter(o).txn(r);
  assert.equal(
    o.stdout,
    '{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":21,"raft_term":2},"succeeded":true,"responses":[{"Response":{"ResponsePut":{"header":{"revision":21}}}},{"Response":{"ResponseRange":{"header":{"revision":21},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":9,"version":7,"value":"YmF6"},{"key":"Zm9vMg==","create_revision":6,"mod_revision":6,"version":1,"value":"YmFyIDI="}],"count":2}}},{"Response":{"ResponseDeleteRange":{"header":{"revision":21}}}}]}\n',
  );
  o = capture();
  new FieldsPrinter(o).txn(r);
  const zero = '"ClusterID" : 0\n"MemberID" : 0\n"Revision" : 21\n"RaftTerm" : 0\n';
  assert.equal(
    o.stdout,
    HDR6 + '"Revision" : 21\n"RaftTerm" : 2\n"Succeeded" : true\n' + zero + zero +
      '"Key" : "foo"\n"CreateRevision" : 2\n"ModRevision" : 9\n"Version" : 7\n"Value" : "baz"\n"Lease" : 0\n' +
      '"Key" : "foo2"\n"CreateRevision" : 6\n"ModRevision" : 6\n"Version" : 1\n"Value" : "bar 2"\n"Lease" : 0\n' +
      '"More" : false\n"Count" : 2\n' + zero + '"Deleted" : 0\n',
  );
});

Deno.test("watch events: delete with prev_kv in json, simple and fields", () => {
  const r = {
    header: H(19n),
    events: [{
      type: 1,
      kv: { ...kv("w1", "", 0n, 19n, 0n) },
      prevKv: kv("w1", "b", 17n, 18n, 2n),
    }],
    compactRevision: 0n,
    canceled: false,
    created: false,
    cancelReason: "",
  };
  let o = capture();
  new JsonPrinter(o).watch(r);
  assert.equal(
    o.stdout,
    '{"Header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":19,"raft_term":2},"Events":[{"type":1,"kv":{"key":"dzE=","mod_revision":19},"prev_kv":{"key":"dzE=","create_revision":17,"mod_revision":18,"version":2,"value":"Yg=="}}],"CompactRevision":0,"Canceled":false,"Created":false}\n',
  );
  o = capture();
  new SimplePrinter(o, false).watch(r);
  assert.equal(o.stdout, "DELETE\nw1\nb\nw1\n\n");
  o = capture();
  new FieldsPrinter(o).watch(r);
  assert.equal(
    o.stdout,
    HDR6 + '"Revision" : 19\n"RaftTerm" : 2\n"Type" : DELETE\n' +
      '"PrevKey" : "w1"\n"PrevCreateRevision" : 17\n"PrevModRevision" : 18\n"PrevVersion" : 2\n"PrevValue" : "b"\n"PrevLease" : 0\n' +
      '"Key" : "w1"\n"CreateRevision" : 0\n"ModRevision" : 19\n"Version" : 0\n"Value" : ""\n"Lease" : 0\n',
  );
});

Deno.test("lease grant, timetolive, list and keep-alive as etcdctl prints them", () => {
  const hdr =
    '"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":16,"raft_term":2';
  let o = capture();
  const jp = new JsonPrinter(o);
  jp.grant({ header: H(16n), ID: 2324035866568769314n, TTL: 50n, error: "" });
  jp.timeToLive({
    header: H(16n),
    ID: 2324035866568769309n,
    TTL: 99n,
    grantedTTL: 100n,
    keys: [enc.encode("lk")],
  }, true);
  jp.timeToLive(
    { header: H(16n), ID: 2324035866568769309n, TTL: 99n, grantedTTL: 100n, keys: [] },
    false,
  );
  jp.leases({
    header: H(16n),
    leases: [{ ID: 2324035866568769312n }, { ID: 2324035866568769309n }],
  });
  jp.keepAlive({ header: H(16n), ID: 2324035866568769309n, TTL: 100n });
  assert.equal(
    o.stdout,
    `{${hdr},"ID":2324035866568769314,"TTL":50,"Error":""}\n` +
      `{${hdr},"id":2324035866568769309,"ttl":99,"granted-ttl":100,"keys":["bGs="]}\n` +
      `{${hdr},"id":2324035866568769309,"ttl":99,"granted-ttl":100,"keys":null}\n` +
      `{${hdr},"leases":[{"id":2324035866568769312},{"id":2324035866568769309}]}\n` +
      `{${hdr},"ID":2324035866568769309,"TTL":100}\n`,
  );
  o = capture();
  const sp = new SimplePrinter(o, false);
  sp.grant({ header: H(16n), ID: 0x2040a24eb0193f20n, TTL: 50n, error: "" });
  sp.timeToLive({
    header: H(16n),
    ID: 0x2040a24eb0193f1dn,
    TTL: 99n,
    grantedTTL: 100n,
    keys: [enc.encode("lk")],
  }, true);
  sp.timeToLive(
    { header: H(16n), ID: 0x2040a24eb0193f28n, TTL: -1n, grantedTTL: 0n, keys: [] },
    false,
  );
  sp.leases({ header: H(16n), leases: [{ ID: 0x2040a24eb0193f20n }, { ID: 0x2040a24eb0193f1dn }] });
  sp.keepAlive({ header: H(16n), ID: 0x2040a24eb0193f1dn, TTL: 100n });
  sp.revoke(0x2040a24eb0193f1dn, { header: H(16n) });
  assert.equal(
    o.stdout,
    "lease 2040a24eb0193f20 granted with TTL(50s)\n" +
      "lease 2040a24eb0193f1d granted with TTL(100s), remaining(99s), attached keys([lk])\n" +
      "lease 2040a24eb0193f28 already expired\n" +
      "found 2 leases\n2040a24eb0193f20\n2040a24eb0193f1d\n" +
      "lease 2040a24eb0193f1d keepalived with TTL(100)\n" +
      "lease 2040a24eb0193f1d revoked\n",
  );
});

const MEMBERS: MemberListResp = {
  header: {
    clusterId: 324952591200643719n,
    memberId: 3319814642761637952n,
    revision: 0n,
    raftTerm: 2n,
  },
  members: [{
    ID: 3319814642761637952n,
    name: "default",
    peerURLs: ["http://127.0.0.1:23800"],
    clientURLs: ["http://127.0.0.1:23790"],
    isLearner: false,
  }],
};

const STATUS: StatusResp = {
  header: H(16n),
  version: "3.4.23",
  dbSize: 20480n,
  leader: 3319814642761637952n,
  raftIndex: 34n,
  raftTerm: 2n,
  raftAppliedIndex: 34n,
  errors: [],
  dbSizeInUse: 16384n,
  isLearner: false,
};

Deno.test("member list and endpoint status in every format", () => {
  let o = capture();
  new SimplePrinter(o, false).memberList(MEMBERS);
  new SimplePrinter(o, false).endpointStatus([{ ep: "127.0.0.1:23790", resp: STATUS }]);
  assert.equal(
    o.stdout,
    "2e1259d415f2a040, started, default, http://127.0.0.1:23800, http://127.0.0.1:23790, false\n" +
      "127.0.0.1:23790, 2e1259d415f2a040, 3.4.23, 20 kB, true, false, 2, 34, 34, \n",
  );
  o = capture();
  new JsonPrinter(o).memberList(MEMBERS);
  new JsonPrinter(o).endpointStatus([{ ep: "127.0.0.1:23790", resp: STATUS }]);
  assert.equal(
    o.stdout,
    '{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"raft_term":2},"members":[{"ID":3319814642761637952,"name":"default","peerURLs":["http://127.0.0.1:23800"],"clientURLs":["http://127.0.0.1:23790"]}]}\n' +
      '[{"Endpoint":"127.0.0.1:23790","Status":{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":16,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":3319814642761637952,"raftIndex":34,"raftTerm":2,"raftAppliedIndex":34,"dbSizeInUse":16384}}]\n',
  );
  o = capture();
  new FieldsPrinter(o).memberList(MEMBERS);
  new FieldsPrinter(o).endpointStatus([{ ep: "127.0.0.1:23790", resp: STATUS }]);
  assert.equal(
    o.stdout,
    HDR6 + '"Revision" : 0\n"RaftTerm" : 2\n"ID" : 3319814642761637952\n"Name" : "default"\n' +
      '"PeerURL" : "http://127.0.0.1:23800"\n"ClientURL" : "http://127.0.0.1:23790"\n"IsLearner" : false\n\n' +
      HDR6 + '"Revision" : 16\n"RaftTerm" : 2\n"Version" : "3.4.23"\n"DBSize" : 20480\n' +
      '"Leader" : 3319814642761637952\n"IsLearner" : false\n"RaftIndex" : 34\n"RaftTerm" : 2\n' +
      '"RaftAppliedIndex" : 34\n"Errors" : []\n"Endpoint" : "127.0.0.1:23790"\n\n',
  );
  o = capture();
  const tp = new TablePrinter(o);
  tp.memberList(MEMBERS);
  tp.endpointStatus([{ ep: "127.0.0.1:23790", resp: STATUS }]);
  tp.endpointHealth([{ ep: "127.0.0.1:23790", health: true, took: "10.044281ms", error: "" }]);
  tp.endpointHashKV([{
    ep: "127.0.0.1:23790",
    resp: { header: H(16n), hash: 182845906, compactRevision: -1n },
  }]);
  assert.equal(
    o.stdout,
    `+------------------+---------+---------+------------------------+------------------------+------------+
|        ID        | STATUS  |  NAME   |       PEER ADDRS       |      CLIENT ADDRS      | IS LEARNER |
+------------------+---------+---------+------------------------+------------------------+------------+
| 2e1259d415f2a040 | started | default | http://127.0.0.1:23800 | http://127.0.0.1:23790 |      false |
+------------------+---------+---------+------------------------+------------------------+------------+
+-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+
|    ENDPOINT     |        ID        | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX | ERRORS |
+-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+
| 127.0.0.1:23790 | 2e1259d415f2a040 |  3.4.23 |   20 kB |      true |      false |         2 |         34 |                 34 |        |
+-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+
+-----------------+--------+-------------+-------+
|    ENDPOINT     | HEALTH |    TOOK     | ERROR |
+-----------------+--------+-------------+-------+
| 127.0.0.1:23790 |   true | 10.044281ms |       |
+-----------------+--------+-------------+-------+
+-----------------+-----------+
|    ENDPOINT     |   HASH    |
+-----------------+-----------+
| 127.0.0.1:23790 | 182845906 |
+-----------------+-----------+
`,
  );
  o = capture();
  new JsonPrinter(o).endpointHashKV([{
    ep: "127.0.0.1:23790",
    resp: { header: H(16n), hash: 182845906, compactRevision: -1n },
  }]);
  new JsonPrinter(o).endpointHealth([{
    ep: "127.0.0.1:23790",
    health: true,
    took: "5.485996ms",
    error: "",
  }]);
  assert.equal(
    o.stdout,
    '[{"Endpoint":"127.0.0.1:23790","HashKV":{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":16,"raft_term":2},"hash":182845906,"compact_revision":-1}}]\n' +
      '[{"endpoint":"127.0.0.1:23790","health":true,"took":"5.485996ms"}]\n',
  );
  o = capture();
  new SimplePrinter(o, false).endpointHealth([{
    ep: "127.0.0.1:23790",
    health: true,
    took: "3.956364ms",
    error: "",
  }]);
  assert.equal(o.stdout, "");
  assert.equal(
    o.stderr,
    "127.0.0.1:23790 is healthy: successfully committed proposal: took = 3.956364ms\n",
  );
});

Deno.test("role get in simple, json and fields; user get, list", () => {
  const perm = (t: number, k: string, e: string) => ({
    permType: t,
    key: enc.encode(k),
    rangeEnd: enc.encode(e),
  });
  const r = {
    header: H(22n),
    perm: [perm(2, "a", "b"), perm(0, "k1", ""), perm(0, "p/", "p0"), perm(1, "z", "\x00")],
  };
  let o = capture();
  new SimplePrinter(o, false).roleGet("rsimple", r);
  assert.equal(
    o.stdout,
    "Role rsimple\nKV Read:\n\t[a, b) (prefix a)\n\tk1\n\t[p/, p0) (prefix p/)\nKV Write:\n" +
      "\t[a, b) (prefix a)\n\t[z, <open ended>\n",
  );
  o = capture();
  new JsonPrinter(o).roleGet("rjson", r);
  assert.equal(
    o.stdout,
    '{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":22,"raft_term":2},"perm":[{"permType":2,"key":"YQ==","range_end":"Yg=="},{"key":"azE="},{"key":"cC8=","range_end":"cDA="},{"permType":1,"key":"eg==","range_end":"AA=="}]}\n',
  );
  o = capture();
  new FieldsPrinter(o).roleGet("rfields", r);
  assert.equal(
    o.stdout,
    HDR6 + '"Revision" : 22\n"RaftTerm" : 2\n' +
      '"PermType" :  READWRITE\n"Key" : "a"\n"RangeEnd" : "b"\n' +
      '"PermType" :  READ\n"Key" : "k1"\n"RangeEnd" : ""\n' +
      '"PermType" :  READ\n"Key" : "p/"\n"RangeEnd" : "p0"\n' +
      '"PermType" :  WRITE\n"Key" : "z"\n"RangeEnd" : "\\x00"\n',
  );
  o = capture();
  const sp = new SimplePrinter(o, false);
  sp.userGet("usimple", { header: H(22n), roles: ["rsimple"] });
  sp.roleRevokePermission("rsimple", "a", "b", { header: H(22n) });
  sp.roleRevokePermission("rsimple", "k1", "", { header: H(22n) });
  assert.equal(
    o.stdout,
    "User: usimple\nRoles: rsimple\nPermission of range [a, b) is revoked from role rsimple\n" +
      "Permission of key k1 is revoked from role rsimple\n",
  );
  o = capture();
  new FieldsPrinter(o).roleList({ header: H(22n), roles: ["rfields"] });
  assert.equal(o.stdout, HDR6 + '"Revision" : 22\n"RaftTerm" : 2\n"Roles" : "rfields"\n');
  assert.throws(
    () => new FieldsPrinter(capture()).userGet("u", { header: H(1n), roles: [] }),
    (e) =>
      e instanceof CtlExit && e.code === 4 && e.message === "fields not supported as output format",
  );
});

Deno.test("Go's %q and encoding/json string escapes", () => {
  assert.equal(goQuote(new Uint8Array([0x61, 0x00, 0xff, 0x0a, 0x22])), '"a\\x00\\xff\\n\\""');
  assert.equal(goQuote("héllo ✓"), '"héllo ✓"');
  assert.equal(goQuote("\u200b"), '"\\u200b"');
  assert.equal(jsonString("<a&b>\u2028"), '"\\u003ca\\u0026b\\u003e\\u2028"');
  assert.equal(jsonString(new Uint8Array([0xff, 0x41])), '"\\ufffdA"');
});

Deno.test("a table without rows is closed as tablewriter closes it", () => {
  const o = capture();
  new TablePrinter(o).endpointHashKV([]);
  assert.equal(
    o.stdout,
    "+----------+------+\n| ENDPOINT | HASH |\n+----------+------+\n+----------+------+\n",
  );
});

Deno.test("a cell wider than 30 columns wraps as tablewriter wraps it (an alarm in ERRORS)", () => {
  const o = capture();
  new TablePrinter(o).endpointStatus([{
    ep: "127.0.0.1:23794",
    resp: {
      ...STATUS,
      header: { ...H(16n), memberId: 0xd8c789e0cff9a973n },
      leader: 0xd8c789e0cff9a973n,
      dbSize: 176128n,
      raftIndex: 12n,
      raftAppliedIndex: 12n,
      errors: ["memberID:15620605431212779891 alarm:NOSPACE "],
    },
  }]);
  // etcdctl 3.4.23's output for an etcd whose quota raised NOSPACE
  assert.equal(
    o.stdout,
    `+-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------------------------------+
|    ENDPOINT     |        ID        | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX |             ERRORS             |
+-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------------------------------+
| 127.0.0.1:23794 | d8c789e0cff9a973 |  3.4.23 |  176 kB |      true |      false |         2 |         12 |                 12 |  memberID:15620605431212779891 |
|                 |                  |         |         |           |            |           |            |                    |                 alarm:NOSPACE  |
+-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------------------------------+
`,
  );
});
